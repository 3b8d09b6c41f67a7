"""A message without a usable From address (issue 19): stored with its problem, informational,
and no clock, since nobody could be answered; a real one from the same poll still waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.enums import Classification
from app.models import Message, Thread
from app.sla import ThreadState
from app.threads.queries import state_of
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer
from tests.support.polling import poll

NO_HEADERS = b"\r\nHello, where is my order 108829272810783?\r\n"
NAME_ONLY = (
    b"From: Jane Buyer\r\nSubject: my order\r\nMessage-ID: <name-only@example.com>\r\n\r\n"
    b"It has not come.\r\n"
)


def test_a_message_nobody_could_answer_starts_no_clock(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    long_ago = datetime.now(UTC) - timedelta(hours=60)
    imap_account.append("INBOX", [NO_HEADERS, NAME_ONLY], when=long_ago)
    imap_account.append("INBOX", [customer("Ann", order="108829272810001")], when=long_ago)
    assert poll(session_factory, imap_account.settings()).ok

    with session_factory() as db:
        messages = list(db.scalars(select(Message).order_by(Message.id)))
        threads = {t.id: t for t in db.scalars(select(Thread))}
    assert len(messages) == 3
    nobody, name_only, ann = messages
    for message in (nobody, name_only):
        assert message.classification == Classification.AUTOMATED
        assert message.classification_reason.startswith("no sender")
        assert any("From" in problem for problem in message.parse_problems), message.parse_problems
        thread = threads[message.thread_id]
        assert thread.due_at is None and thread.clock_started_at is None
        assert state_of(thread, datetime.now(UTC)) == ThreadState.INFORMATIONAL
    assert ann.classification == Classification.CUSTOMER
    assert state_of(threads[ann.thread_id], datetime.now(UTC)) == ThreadState.OVERDUE
