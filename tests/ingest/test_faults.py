"""Faults in the middle of a poll: the IMAP server restarted, the database connections cut. Each
ends in a clear error on the mailbox's health, and the next poll recovers with nothing lost or
stored twice."""

from __future__ import annotations

import threading
import time

from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.models import Mailbox, Message
from tests.conftest import ImapAccount
from tests.dovecot import Dovecot
from tests.ingest.helpers import poll
from tests.mailfactory import customer

MESSAGES = 400


def _stored(factory: sessionmaker[Session]) -> int:
    with factory() as db:
        return db.scalar(select(func.count()).select_from(Message)) or 0


def _mailbox(factory: sessionmaker[Session]) -> Mailbox:
    with factory() as db:
        return db.scalars(select(Mailbox)).one()


def _fill(account: ImapAccount) -> None:
    account.append("INBOX", [customer(f"Buyer {i}", subject=f"Order {i}") for i in range(MESSAGES)])


def test_imap_server_restarted_mid_poll(
    imap_account: ImapAccount,
    dovecot: Dovecot,
    session_factory: sessionmaker[Session],
    read_session_factory: sessionmaker[Session],
) -> None:
    _fill(imap_account)
    settings = imap_account.settings(batch_size=10, timeout_seconds=10)
    reports = []
    polling = threading.Thread(target=lambda: reports.append(poll(session_factory, settings)))
    polling.start()
    while _stored(read_session_factory) == 0:  # some batches are in
        time.sleep(0.01)
    dovecot.kill()
    polling.join(timeout=60)
    dovecot.start()
    (failed,) = reports
    assert not failed.ok and failed.error_kind == "network"
    assert 0 < _stored(read_session_factory) < MESSAGES
    mailbox = _mailbox(read_session_factory)
    assert mailbox.consecutive_failures == 1 and mailbox.last_error

    recovered = poll(session_factory, settings)
    assert recovered.ok, recovered.error
    with read_session_factory() as db:
        ids = db.scalars(select(Message.message_id_header)).all()
    assert len(ids) == len(set(ids)) == MESSAGES
    mailbox = _mailbox(read_session_factory)
    assert mailbox.consecutive_failures == 0


def test_database_connections_cut_mid_poll(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    read_session_factory: sessionmaker[Session],
    engine: Engine,
) -> None:
    """What a PostgreSQL restart does to a client: every connection dropped at once (on SQLite,
    which has no server, the connections are closed under the poller)."""
    _fill(imap_account)
    settings = imap_account.settings(batch_size=10)
    reports = []
    polling = threading.Thread(target=lambda: reports.append(poll(session_factory, settings)))
    polling.start()
    while _stored(read_session_factory) == 0:
        time.sleep(0.01)
    if engine.dialect.name == "postgresql":
        with engine.connect() as admin:
            admin.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            admin.commit()
    else:
        engine.pool.dispose()  # closes idle connections; the poller's own goes on
    polling.join(timeout=60)
    (report,) = reports
    if engine.dialect.name == "postgresql":
        assert not report.ok and report.error_kind == "database", report.error
        assert "database" in (_mailbox(read_session_factory).last_error or "")
    recovered = poll(session_factory, settings)
    assert recovered.ok, recovered.error
    with read_session_factory() as db:
        ids = db.scalars(select(Message.message_id_header)).all()
    assert len(ids) == len(set(ids)) == MESSAGES
    assert _mailbox(read_session_factory).consecutive_failures == 0
