"""Monitoring only: with no [smtp] section (and no smtp_host of the mailbox's own) a reply is
never sent, the send answers 409 `smtp_not_configured` and the page's send button says why it
is disabled; with [smtp] (a real aiosmtpd server) the same draft goes out as before."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings, SmtpSettings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.sla import policy_lookup
from app.users.service import create_user, set_password
from tests.support.dovecot import free_port
from tests.support.mailfactory import SELLER_ADDRESS, customer, relay_address
from tests.support.smtp import SmtpServer
from tests.support.web import PASSWORD, auth, sign_in

MAILBOX = "store-a"
REPLY = (
    "Hello Alice,\n\nThank you for your message about your order. It ships today and I will "
    "write again with the tracking number.\n\nCustomer Care Team\n"
)
SEND_BUTTON = re.compile(r'<button type="submit"( disabled[^>]*)?>Send to [^<]*</button>')


@dataclass
class Scene:
    api: TestClient
    token: str  # the agent's, who also signs in to the pages
    thread_id: int


def _mailbox() -> MailboxSettings:
    """A configured mailbox whose IMAP server is never reached (nothing listens)."""
    return MailboxSettings(
        name=MAILBOX,
        host="127.0.0.1",
        port=free_port(),
        security="plain",
        username=SELLER_ADDRESS,
        password_env="SLAWATCH_SMTP_OFF_PASSWORD",
        seller_addresses=[SELLER_ADDRESS],
        append_sent_copy=False,
    )


def _scene(
    database_url: str, session_factory: sessionmaker[Session], smtp: SmtpSettings | None
) -> Iterator[Scene]:
    with session_scope(session_factory) as db:
        stored = store_message(
            db,
            mailbox_id=mailbox_repository.get_or_create_mailbox(db, MAILBOX).id,
            role=FolderRole.INBOX,
            raw=customer("Alice", subject="Where is my order?"),
            arrived_at=now() - timedelta(hours=3),
            seller_addresses=frozenset({SELLER_ADDRESS}),
            policy_for=policy_lookup(Settings().sla, "walmart"),
        )
        assert stored is not None and stored.thread_id is not None
        token = create_user(db, name="agnes", role=Role.AGENT, actor="test").token
        set_password(db, name="agnes", password=PASSWORD, actor="test")
    settings = Settings(database_url=database_url, mailboxes=[_mailbox()], smtp=smtp)
    with TestClient(create_app(settings)) as api:
        yield Scene(api, token, stored.thread_id)


@pytest.fixture
def monitoring_only(
    database_url: str, session_factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Scene]:
    monkeypatch.setenv("SLAWATCH_SMTP_OFF_PASSWORD", "imap-secret")
    yield from _scene(database_url, session_factory, smtp=None)


@pytest.fixture
def with_smtp(
    database_url: str,
    session_factory: sessionmaker[Session],
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Scene]:
    monkeypatch.setenv("SLAWATCH_SMTP_OFF_PASSWORD", "imap-secret")
    yield from _scene(database_url, session_factory, smtp=smtp_server.settings())


def _approved_draft(s: Scene) -> int:
    created = s.api.post(
        f"/api/v1/threads/{s.thread_id}/drafts", json={"body": REPLY}, headers=auth(s.token)
    )
    assert created.status_code == 201, created.text
    draft = created.json()
    approved = s.api.post(
        f"/api/v1/drafts/{draft['id']}/approve",
        json={"body_sha256": draft["body_sha256"], "override_lint": True},
        headers=auth(s.token),
    )
    assert approved.status_code == 200, approved.text
    return int(draft["id"])


def _send_button(s: Scene) -> tuple[bool, str | None]:
    """Whether the thread page's send button is disabled, and the reason shown beside it."""
    sign_in(s.api, "agnes")
    page = s.api.get(f"/threads/{s.thread_id}").text
    (button,) = SEND_BUTTON.finditer(page)
    reason = re.search(r"<span[^>]*data-sending-off>([^<]*)</span>", page)
    return button.group(1) is not None, reason.group(1) if reason else None


def test_sending_is_refused_with_a_code_and_the_draft_stays_approved(
    monitoring_only: Scene,
) -> None:
    s = monitoring_only
    draft_id = _approved_draft(s)
    response = s.api.post(f"/api/v1/drafts/{draft_id}/send", headers=auth(s.token))
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "smtp_not_configured"
    assert "no [smtp] section" in body["detail"] and "own mail client" in body["detail"]
    draft = s.api.get(f"/api/v1/drafts/{draft_id}", headers=auth(s.token)).json()
    assert draft["state"] == "approved"  # nothing was claimed: it can go out once SMTP is set


def test_the_send_button_is_disabled_and_says_why(monitoring_only: Scene) -> None:
    _approved_draft(monitoring_only)
    disabled, reason = _send_button(monitoring_only)
    assert disabled
    assert reason is not None and reason.startswith("SMTP is not configured")


def test_the_page_form_is_refused_with_the_reason_too(monitoring_only: Scene) -> None:
    s = monitoring_only
    draft_id = _approved_draft(s)
    sign_in(s.api, "agnes")
    page = s.api.get(f"/threads/{s.thread_id}").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert csrf
    refused = s.api.post(
        f"/drafts/{draft_id}/send", data={"csrf_token": csrf.group(1)}, follow_redirects=False
    )
    assert refused.status_code == 409
    assert "SMTP is not configured" in refused.text


def test_with_smtp_the_button_works_and_the_reply_goes_out(
    with_smtp: Scene, smtp_server: SmtpServer
) -> None:
    s = with_smtp
    draft_id = _approved_draft(s)
    assert _send_button(s) == (False, None)
    sent = s.api.post(f"/api/v1/drafts/{draft_id}/send", headers=auth(s.token))
    assert sent.status_code == 200, sent.text
    ((recipients, _),) = smtp_server.recorder.messages
    assert recipients == [relay_address("Alice")]
