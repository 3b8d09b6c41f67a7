"""A customer's subject cannot add headers to a reply: drafted, approved and sent through a real
SMTP server (aiosmtpd), the delivered message has one Subject, no Bcc, and the subject's words."""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mail.header_values import MAX_SUBJECT_CHARS
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.models import Message, Thread
from app.sla import policy_lookup
from tests.support.dovecot import free_port
from tests.support.mailfactory import SELLER_ADDRESS, customer, message_id_of, relay_address
from tests.support.smtp import SmtpServer
from tests.support.web import auth

REPLY = "Hello Alice,\n\nThank you for writing. Your parcel left our warehouse today.\n"


@dataclass
class Sent:
    recipients: list[str]
    raw: bytes
    message: EmailMessage
    question: bytes


@pytest.fixture
def reply_to(
    database_url: str,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    make_token: Callable[..., str],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Callable[..., Sent]]:
    """Store a customer's message (no IMAP), then draft, approve and send a reply to it."""
    monkeypatch.setenv("SLAWATCH_TEST_INJECTION_PW", "unused")
    mailbox = MailboxSettings(
        name="store-a",
        host="127.0.0.1",
        port=free_port(),  # never used: no copy goes to Sent
        security="plain",
        username="support@store.example",
        password_env="SLAWATCH_TEST_INJECTION_PW",
        seller_addresses=[SELLER_ADDRESS],
        append_sent_copy=False,
    )
    settings = Settings(database_url=database_url, mailboxes=[mailbox], smtp=smtp_server.settings())
    agent = make_token(Role.AGENT)

    def send(question: bytes, *, stored: dict[str, object] | None = None) -> Sent:
        with session_scope(session_factory) as db:
            message = store_message(
                db,
                mailbox_id=mailbox_repository.get_or_create_mailbox(db, "store-a").id,
                role=FolderRole.INBOX,
                raw=question,
                arrived_at=now(),
                seller_addresses=frozenset({SELLER_ADDRESS}),
                policy_for=policy_lookup(settings.sla, "walmart"),
            )
            assert message is not None and message.thread_id is not None
            thread_id = message.thread_id
            if stored:  # as stored by an older version, or written by anything but the parser
                db.execute(update(Message).where(Message.id == message.id).values(**stored))
                if "subject" in stored:
                    db.execute(
                        update(Thread)
                        .where(Thread.id == thread_id)
                        .values(subject=stored["subject"])
                    )
        with TestClient(create_app(settings)) as api:
            drafted = api.post(
                f"/api/v1/threads/{thread_id}/drafts", json={"body": REPLY}, headers=auth(agent)
            )
            assert drafted.status_code == 201, drafted.text
            draft_id = drafted.json()["id"]
            approved = api.post(
                f"/api/v1/drafts/{draft_id}/approve",
                json={"override_lint": True, "body_sha256": drafted.json()["body_sha256"]},
                headers=auth(agent),
            )
            assert approved.status_code == 200, approved.text
            sent = api.post(f"/api/v1/drafts/{draft_id}/send", headers=auth(agent))
            assert sent.status_code == 200, sent.text
            assert sent.json()["state"] == "sent"
        ((recipients, raw),) = smtp_server.recorder.messages
        delivered = email.message_from_bytes(raw, policy=policy.default)
        assert isinstance(delivered, EmailMessage)
        return Sent(recipients, raw, delivered, question)

    yield send


def with_raw_subject(raw_subject: bytes) -> bytes:
    """Alice's question with ``raw_subject`` written into the header as it is."""
    question = customer("Alice", subject="PLACEHOLDER")
    assert b"Subject: PLACEHOLDER" in question
    return question.replace(b"Subject: PLACEHOLDER", b"Subject: " + raw_subject)


def header_names(raw: bytes) -> list[str]:
    head = raw.split(b"\r\n\r\n", 1)[0]
    return [
        line.split(b":", 1)[0].decode().lower()
        for line in head.split(b"\r\n")
        if line and line[:1] not in (b" ", b"\t")
    ]


def assert_one_clean_reply(sent: Sent) -> None:
    names = header_names(sent.raw)
    assert names.count("subject") == 1
    assert "bcc" not in names and "cc" not in names
    assert sent.recipients == [relay_address("Alice")]  # the envelope: no one else
    (to,) = sent.message["To"].addresses  # as the agent saw it: "Alice <relay address>"
    assert (to.display_name, to.addr_spec) == ("Alice", relay_address("Alice"))
    assert all(len(line) <= 998 for line in sent.raw.split(b"\r\n"))


@pytest.mark.parametrize(
    "raw_subject",
    [
        b"=?utf-8?q?Hello=0D=0ABcc:_victim@example.com?=",
        b"=?utf-8?b?SGVsbG8NCkJjYzogdmljdGltQGV4YW1wbGUuY29t?=",  # the same in base64
        b"=?utf-8?q?Hello=0ABcc:_victim@example.com?=",  # LF alone
        b"=?utf-8?q?Hello=0D=0A=0D=0ABcc:_victim@example.com?=",  # CR/LF twice: a body
    ],
)
def test_crlf_in_an_encoded_subject_adds_no_header(
    reply_to: Callable[..., Sent], raw_subject: bytes
) -> None:
    sent = reply_to(with_raw_subject(raw_subject))
    assert_one_clean_reply(sent)
    assert sent.message["Subject"] == "Re: Hello Bcc: victim@example.com"
    assert sent.message.get_content().replace("\r\n", "\n") == REPLY


def test_control_characters_in_a_stored_subject_are_dropped(reply_to: Callable[..., Sent]) -> None:
    """The reply is safe whatever the database holds, not only what today's parser stores."""
    sent = reply_to(
        customer("Alice", subject="Hello"),
        stored={"subject": "Hello\r\nBcc: victim@example.com\x01\x1b[31m\x7f\x85 there"},
    )
    assert_one_clean_reply(sent)
    assert sent.message["Subject"] == "Re: Hello Bcc: victim@example.com [31m there"


def test_oversized_and_broken_values_are_cut_or_left_out(reply_to: Callable[..., Sent]) -> None:
    question = customer("Alice", subject="Where is my order? " * 300)
    good_reference = "<earlier@mail.example>"
    sent = reply_to(
        question,
        stored={
            "message_id_header": "<" + "a" * 900 + "@mail.example>",
            "references": [good_reference, "<a\r\nBcc: victim@example.com>", "<" + "b" * 900 + ">"],
        },
    )
    assert_one_clean_reply(sent)
    subject = sent.message["Subject"]
    assert subject.startswith("Re: Where is my order? Where is my order?")
    assert len(subject) <= MAX_SUBJECT_CHARS and subject.endswith("…")
    # An id no server would take is left out: the reply still reaches the customer.
    assert sent.message["In-Reply-To"] is None and sent.message["References"] is None


def test_a_broken_id_among_good_ones_is_left_out_of_references(
    reply_to: Callable[..., Sent], session_factory: sessionmaker[Session]
) -> None:
    good = "<earlier@mail.example>"
    sent = reply_to(
        customer("Alice", subject="Hello"),
        stored={"references": [good, "<a\r\nBcc: victim@example.com>", "no-brackets@x"]},
    )
    assert_one_clean_reply(sent)
    replied_to = message_id_of(sent.question)
    assert sent.message["In-Reply-To"] == replied_to
    assert sent.message["References"].split() == [good, replied_to]
    with session_factory() as db:  # the stored message itself is left as it was
        stored = db.scalars(select(Message).where(Message.message_id_header == replied_to)).one()
        assert len(stored.references) == 3
