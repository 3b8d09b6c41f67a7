"""The poller against a real Dovecot: what it stores, what it skips, and that it never doubles."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.enums import Classification, FolderRole, Role, ThreadSource
from app.main import create_app
from app.models import DeadLetter, Mailbox, Message, Thread
from tests.support.imap import ImapAccount, closing_client
from tests.support.mailfactory import customer, message, message_id_of, relay_address, seller_reply
from tests.support.polling import (
    ROOT,
    all_flags,
    counts,
    poisoned,
    poll,
    run_cli,
    stored_message_ids,
    write_config,
)
from tests.support.web import auth


def test_first_poll_stores_inbox_sent_and_only_whitelisted_spam(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    database_url: str,
    make_token: Callable[..., str],
) -> None:
    alice = customer("Alice", order="108829272810783")
    payments = message(
        sender="mp-payments@relay.walmart.com",
        subject="Your payment was sent",
        body="Settlement report is ready.",
    )
    rescued = f"rescued-body-{uuid.uuid4().hex}"
    bob_in_spam = customer(
        "Bob", order="200011419023224", body=f"Order 200011419023224 is late. {rescued}"
    )
    secret = f"spam-body-{uuid.uuid4().hex}"
    scam = message(
        sender="prince@scam.example",
        subject="You won a prize",
        body=f"Click here {secret}",
        headers={"Reply-To": relay_address("Mallory")},  # a Walmart Reply-To must not let it in
    )
    reply = seller_reply(
        "Alice",
        in_reply_to=message_id_of(alice),
        subject="Customer message regarding order 108829272810783",
    )
    imap_account.append("INBOX", [alice, payments])
    imap_account.append("Junk", [bob_in_spam, scam])
    imap_account.append("Sent", [reply])
    with closing_client(imap_account.client()) as client:
        flags_before = all_flags(client)

    report = poll(session_factory, imap_account.settings())

    assert report.ok, report.error
    assert {f.role: (f.new, f.skipped) for f in report.folders} == {
        FolderRole.INBOX: (2, 0),
        FolderRole.SPAM: (1, 1),
        FolderRole.SENT: (1, 0),
    }
    assert stored_message_ids(session_factory) == sorted(
        message_id_of(m) for m in [alice, payments, bob_in_spam, reply]
    )
    with session_factory() as db:
        by_id = {m.message_id_header: m for m in db.scalars(select(Message))}
        assert by_id[message_id_of(alice)].classification == Classification.CUSTOMER
        assert by_id[message_id_of(payments)].classification == Classification.AUTOMATED
        assert by_id[message_id_of(reply)].classification == Classification.SELLER
        alice_thread = db.get(Thread, by_id[message_id_of(alice)].thread_id)
        assert alice_thread is not None
        assert by_id[message_id_of(reply)].thread_id == alice_thread.id
        assert alice_thread.message_count == 2
        assert alice_thread.order_number == "108829272810783"
        assert alice_thread.last_seller_at is not None
        bob_thread = db.get(Thread, by_id[message_id_of(bob_in_spam)].thread_id)
        assert bob_thread is not None and bob_thread.source == ThreadSource.SPAM
        assert by_id[message_id_of(alice)].internal_date is not None
        assert by_id[message_id_of(alice)].fetch_lag_seconds is not None

    # The body of spam that is not Walmart's never crossed the wire; a rescued one's did.
    traffic = imap_account.server.traffic()
    assert secret.encode() not in traffic
    assert rescued.encode() in traffic

    # Nothing in the mailbox changed: no \Seen, no moves, no deletions.
    with closing_client(imap_account.client()) as client:
        assert all_flags(client) == flags_before

    settings = Settings(database_url=database_url, mailboxes=[imap_account.settings()])
    with TestClient(create_app(settings)) as api:
        response = api.get("/api/v1/mailboxes", headers=auth(make_token(Role.ADMIN)))
    assert response.status_code == 200
    (mailbox,) = response.json()
    assert mailbox["last_error"] is None and mailbox["last_success_at"]
    folders = mailbox["folders"]
    for role in ("inbox", "sent"):
        assert (
            folders[role]["stored_count"] + folders[role]["failed_count"]
            == (folders[role]["server_count"])
        )
    assert (folders["inbox"]["server_count"], folders["sent"]["server_count"]) == (2, 1)
    assert (folders["spam"]["stored_count"], folders["spam"]["skipped_count"]) == (1, 1)
    assert folders["spam"]["path"] == "Junk"


def test_polling_again_and_after_a_restart_stores_nothing_twice(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    database_url: str,
    tmp_path: Path,
) -> None:
    imap_account.append("INBOX", [customer(f"Buyer {i}") for i in range(5)])
    assert poll(session_factory, imap_account.settings()).ok
    assert counts(session_factory) == (5, 5)

    again = poll(session_factory, imap_account.settings())
    assert sum(f.new + f.duplicates for f in again.folders) == 0

    # A restart: a new process with its own engine, against the same database.
    config = write_config(
        tmp_path / "slawatch.toml", database_url=database_url, mailboxes=[imap_account.settings()]
    )
    imap_account.append("INBOX", [customer("Late buyer")])
    result = run_cli("poll", "--once", config=config)
    assert result.returncode == 0, result.stderr
    assert "inbox (INBOX): 1 new" in result.stdout
    assert counts(session_factory) == (6, 6)


def test_a_new_uidvalidity_rereads_the_folder_without_duplicates(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    first = [customer("Carol"), customer("Dan")]
    replies = [
        seller_reply("Carol", in_reply_to=message_id_of(first[0]), subject="x"),
        seller_reply("Dan", in_reply_to=message_id_of(first[1]), subject="y"),
    ]
    imap_account.append("INBOX", first)
    imap_account.append("Sent", replies)
    assert poll(session_factory, imap_account.settings()).ok

    # Recreating the folder gives it a new UIDVALIDITY; the same messages come back under new UIDs.
    with closing_client(imap_account.client()) as client:
        client.delete_folder("Sent")
        client.create_folder("Sent")
    newer = seller_reply("Carol", in_reply_to=message_id_of(first[0]), subject="again")
    imap_account.append("Sent", [*replies, newer])

    report = poll(session_factory, imap_account.settings())
    assert report.ok, report.error
    sent = next(f for f in report.folders if f.role == FolderRole.SENT)
    assert (sent.new, sent.duplicates) == (1, 2)
    assert stored_message_ids(session_factory) == sorted(
        message_id_of(m) for m in [*first, *replies, newer]
    )


def test_sigkill_mid_poll_loses_and_doubles_nothing(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    read_session_factory: sessionmaker[Session],
    database_url: str,
    tmp_path: Path,
) -> None:
    total = 600
    messages = [customer(f"Buyer {i}", order=f"1088292728{i:05d}") for i in range(total)]
    imap_account.append("INBOX", messages)
    settings = imap_account.settings(batch_size=25)
    config = write_config(
        tmp_path / "slawatch.toml", database_url=database_url, mailboxes=[settings]
    )

    poller = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "--config", str(config), "poll", "--once"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while counts(read_session_factory)[0] < 100 and time.monotonic() < deadline:
        assert poller.poll() is None, "the poll finished before it could be killed"
        time.sleep(0.01)
    poller.send_signal(signal.SIGKILL)
    poller.wait()
    killed_at = counts(read_session_factory)[0]
    assert 100 <= killed_at < total, f"killed after {killed_at} messages"

    result = run_cli("poll", "--once", config=config)
    assert result.returncode == 0, result.stderr
    assert counts(session_factory) == (total, total)
    assert stored_message_ids(session_factory) == sorted(message_id_of(m) for m in messages)


def test_one_failing_mailbox_is_reported_and_the_others_still_run(
    imap_account: ImapAccount,
    database_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imap_account.append("INBOX", [customer("Erin")])
    monkeypatch.setenv("WRONG_PASSWORD", "not-the-password")
    broken = imap_account.settings(name="broken", password_env="WRONG_PASSWORD")
    config = write_config(
        tmp_path / "slawatch.toml",
        database_url=database_url,
        mailboxes=[broken, imap_account.settings()],
    )

    result = run_cli("poll", "--once", config=config)

    assert result.returncode == 1
    assert f"broken: FAILED: login as '{imap_account.username}' refused by 127.0.0.1" in (
        result.stdout
    )
    assert "not-the-password" not in result.stdout + result.stderr
    assert counts(session_factory)[0] == 1
    with session_factory() as db:
        health = db.scalar(select(Mailbox).where(Mailbox.name == "broken"))
        assert health is not None and health.last_success_at is None
        assert health.last_error is not None and "refused" in health.last_error
        assert health.consecutive_failures == 1


def test_unreachable_server_is_a_clear_error(
    session_factory: sessionmaker[Session], imap_account: ImapAccount
) -> None:
    closed_port = imap_account.server.port + 1 if imap_account.server.port < 65535 else 1
    report = poll(session_factory, imap_account.settings(port=closed_port, timeout_seconds=5))
    assert report.error is not None
    assert "127.0.0.1" in report.error and ("refused" in report.error or "failed" in report.error)


def test_malformed_messages_are_stored_with_their_problems(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    bare_lf = (
        b"From: Walmart Buyer <0123456789ABCDEF0123456789ABCDEF@relay.walmart.com>\n"
        b"Subject: =?x-unknown-charset?Q?Hello?=\nDate: not a date\n"
        b"Content-Type: text/plain; charset=x-bogus\n\nWhere is order 108829272810783?\n"
    )
    garbage = b"\xff\xfe\x00garbage without any header\r\n"
    imap_account.append("INBOX", [bare_lf, garbage])

    report = poll(session_factory, imap_account.settings())

    assert report.ok, report.error
    assert report.folders[0].new == 2
    with session_factory() as db:
        stored = list(db.scalars(select(Message).order_by(Message.id)))
        assert len(stored) == 2
        for stored_message in stored:
            assert stored_message.parse_problems, stored_message.subject
            assert stored_message.raw.raw  # the bytes are kept as the server gave them
        assert stored[0].classification == Classification.CUSTOMER
        assert stored[0].received_at == stored[0].internal_date  # bad Date: the server's time


def test_a_message_that_fails_to_store_becomes_a_dead_letter_and_replays(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    engine: Engine,
    database_url: str,
    tmp_path: Path,
    make_token: Callable[..., str],
) -> None:
    poison = customer("Frank", subject="POISON order question")
    imap_account.append("INBOX", [customer("Gina"), poison])
    with poisoned(engine):
        report = poll(session_factory, imap_account.settings())
        assert report.ok
        assert (report.folders[0].new, report.folders[0].failed) == (1, 1)
        settings = Settings(database_url=database_url, mailboxes=[imap_account.settings()])
        with TestClient(create_app(settings)) as api:
            token = make_token(Role.ADMIN)
            (letter,) = api.get("/api/v1/dead-letters", headers=auth(token)).json()
            inbox = api.get("/api/v1/mailboxes", headers=auth(token)).json()[0]["folders"]["inbox"]
        assert "poison message refused" in letter["error"]
        assert (inbox["stored_count"], inbox["failed_count"], inbox["server_count"]) == (1, 1, 2)
        # Polling again does not retry it silently, nor lose it.
        assert poll(session_factory, imap_account.settings()).folders[0].failed == 0

    config = write_config(
        tmp_path / "slawatch.toml", database_url=database_url, mailboxes=[imap_account.settings()]
    )
    result = run_cli("replay", config=config)
    assert result.returncode == 0, result.stderr
    assert "1 dead letters stored" in result.stdout
    assert message_id_of(poison) in stored_message_ids(session_factory)
    with session_factory() as db:
        assert db.scalars(select(DeadLetter)).one().resolved_at is not None


def test_one_message_under_several_labels_is_stored_once(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    # Gmail shows a message in every folder whose label it carries: a seller's reply that is
    # also in INBOX (sent to themselves, or filtered back in), a customer's message moved out of
    # spam but still labelled Spam.
    question = customer("Ann")
    reply = seller_reply(
        "Ann", in_reply_to=message_id_of(question), subject="Customer message regarding order"
    )
    imap_account.append("INBOX", [question, reply])
    imap_account.append("Sent", [reply])
    imap_account.append("Junk", [question])
    report = poll(session_factory, imap_account.settings())
    assert report.ok
    assert sum(f.new for f in report.folders) == 2
    assert sum(f.duplicates for f in report.folders) == 2
    assert counts(session_factory) == (2, 4)  # two messages, each in two places
