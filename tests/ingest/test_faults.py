"""Faults in the middle of a poll: the IMAP server restarted, the database connections cut. Each
ends in a clear error on the mailbox's health, and the next poll recovers with nothing lost or
stored twice.

The fault strikes at a chosen point of the poll, not at a moment picked by a racing thread: the
poller's own database statements (seen through SQLAlchemy's events, our code untouched) tell when
it is storing the third batch, and the fault happens right there, on a fast machine or a busy one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, func, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from app.enums import FolderRole
from app.models import FolderCursor, Mailbox, Message, MessageLocation
from tests.support.dovecot import Dovecot
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer
from tests.support.polling import poll

MESSAGES = 400
BATCH = 10
# The fault strikes as the poller inserts the messages of this batch: the third.
FAULT_AT = 3


def _stored(factory: sessionmaker[Session]) -> int:
    with factory() as db:
        return db.scalar(select(func.count()).select_from(Message)) or 0


def _mailbox(factory: sessionmaker[Session]) -> Mailbox:
    with factory() as db:
        return db.scalars(select(Mailbox)).one()


def _fill(account: ImapAccount) -> None:
    account.append("INBOX", [customer(f"Buyer {i}", subject=f"Order {i}") for i in range(MESSAGES)])


@contextmanager
def _at_message_insert(
    engine: Engine, number: int, fault: Callable[[Connection, Any], None]
) -> Iterator[list[int]]:
    """Run ``fault(connection, dbapi_cursor)`` once, just before the poller inserts the
    messages of its ``number``-th batch (one statement a batch); yields a list that holds the
    number once the fault has happened."""
    inserts: list[int] = []
    struck: list[int] = []

    def before_execute(connection: Connection, cursor: Any, statement: str, *_: object) -> None:
        if struck or not statement.lstrip().upper().startswith("INSERT INTO MESSAGES "):
            return
        inserts.append(1)
        if len(inserts) == number:
            struck.append(number)
            fault(connection, cursor)

    event.listen(engine, "before_cursor_execute", before_execute)
    try:
        yield struck
    finally:
        event.remove(engine, "before_cursor_execute", before_execute)


def _inbox_progress(factory: sessionmaker[Session]) -> tuple[int, list[int]]:
    """INBOX's cursor (the last UID it passed) and the UIDs of the INBOX messages stored."""
    with factory() as db:
        cursor = db.scalars(select(FolderCursor).where(FolderCursor.role == FolderRole.INBOX)).one()
        uids = db.scalars(
            select(MessageLocation.uid)
            .where(MessageLocation.cursor_id == cursor.id)
            .order_by(MessageLocation.uid)
        ).all()
        return cursor.last_uid, list(uids)


def _assert_everything_stored_once(factory: sessionmaker[Session]) -> None:
    with factory() as db:
        ids = db.scalars(select(Message.message_id_header)).all()
    assert len(ids) == len(set(ids)) == MESSAGES
    last_uid, uids = _inbox_progress(factory)
    assert (last_uid, uids) == (MESSAGES, list(range(1, MESSAGES + 1)))


def test_imap_server_restarted_mid_poll(
    imap_account: ImapAccount,
    dovecot: Dovecot,
    session_factory: sessionmaker[Session],
    read_session_factory: sessionmaker[Session],
    engine: Engine,
) -> None:
    _fill(imap_account)
    settings = imap_account.settings(batch_size=BATCH, timeout_seconds=10)
    # Killed while the third batch is being stored: that batch is fetched already and commits;
    # the fourth, read while the third was stored, may have come in before the server went.
    with _at_message_insert(engine, FAULT_AT, lambda *_: dovecot.kill()) as struck:
        try:
            failed = poll(session_factory, settings)
        finally:
            dovecot.start()
    assert struck == [FAULT_AT]
    assert not failed.ok and failed.error_kind == "network", failed.error
    # The batches stored stay, with the cursor right behind them; nothing beyond.
    cursor_at, stored = _inbox_progress(read_session_factory)
    assert cursor_at in (3 * BATCH, 4 * BATCH)
    assert stored == list(range(1, cursor_at + 1))
    mailbox = _mailbox(read_session_factory)
    assert mailbox.consecutive_failures == 1 and mailbox.last_error == failed.error

    recovered = poll(session_factory, settings)
    assert recovered.ok, recovered.error
    _assert_everything_stored_once(read_session_factory)
    assert _mailbox(read_session_factory).consecutive_failures == 0


def _cut_every_connection(connection: Connection, cursor: Any) -> None:
    """What a PostgreSQL restart does to a client: every connection to the database dropped at
    once, the poller's among them. SQLite has no server: the poller's connection is closed under
    it, and so are the idle ones of the pool."""
    engine = connection.engine
    if engine.dialect.name == "postgresql":
        with engine.connect() as admin:
            # With a timeout, pg_terminate_backend waits until each backend has exited.
            ended = admin.execute(
                text(
                    "SELECT bool_and(pg_terminate_backend(pid, 60000)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalar_one()
            admin.commit()
        assert ended, "a backend outlived pg_terminate_backend's wait"
    else:
        cursor.connection.close()
        engine.pool.dispose()


def test_database_connections_cut_mid_poll(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    read_session_factory: sessionmaker[Session],
    engine: Engine,
) -> None:
    _fill(imap_account)
    settings = imap_account.settings(batch_size=BATCH)
    # Cut in the middle of the third batch: its first four messages are inserted, uncommitted.
    with _at_message_insert(engine, FAULT_AT, _cut_every_connection) as struck:
        report = poll(session_factory, settings)
    assert struck == [FAULT_AT]
    assert not report.ok and report.error_kind == "database", report.error
    assert report.error and report.error.startswith("database error during the poll: ")
    mailbox = _mailbox(read_session_factory)
    assert (mailbox.last_error, mailbox.consecutive_failures) == (report.error, 1)
    # The two committed batches stay, with the cursor right behind them; of the third, cut
    # before its commit, nothing is stored and the cursor did not pass it.
    assert _inbox_progress(read_session_factory) == (2 * BATCH, list(range(1, 2 * BATCH + 1)))
    assert _stored(read_session_factory) == 2 * BATCH

    recovered = poll(session_factory, settings)
    assert recovered.ok, recovered.error
    _assert_everything_stored_once(read_session_factory)
    assert _mailbox(read_session_factory).consecutive_failures == 0
