"""Orders read in the background: after a poll, for the threads it created; by the job for waiting
threads, a bounded number per mailbox; and by a real worker within seconds of the mail arriving.
Walmart being down never stops ingestion; it shows on the mailbox's health."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings, WorkerSettings
from app.models import Mailbox, OrderCopy
from app.walmart import jobs
from app.walmart.orders import Order
from app.worker import Worker
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer
from tests.support.polling import poll, wait_for
from tests.support.walmart_api import (
    CLIENT_ID,
    SECRET_ENV,
    FakeWalmart,
    order_line,
    purchase_order,
)

ORDERS = [f"10882927281{i:04d}" for i in range(5)]


def _mailbox(account: ImapAccount, walmart: FakeWalmart, **extra: object) -> MailboxSettings:
    return account.settings(
        walmart_client_id=CLIENT_ID,
        walmart_client_secret_env=SECRET_ENV,
        walmart_api_url=walmart.url,
        walmart_timeout_seconds=10,
        **extra,
    )


def _copies(session_factory: sessionmaker[Session]) -> dict[str, OrderCopy]:
    with session_factory() as db:
        return {c.order_number: c for c in db.scalars(select(OrderCopy))}


def _stock(walmart: FakeWalmart) -> None:
    for i, po in enumerate(ORDERS):
        walmart.add_order(
            purchase_order(po, f"2000114190232{i:02d}", [order_line("1", f"Item {i}")])
        )


def test_a_poll_is_followed_by_reading_the_orders_of_its_new_threads(
    imap_account: ImapAccount, walmart: FakeWalmart, session_factory: sessionmaker[Session]
) -> None:
    _stock(walmart)
    mailbox = _mailbox(imap_account, walmart)
    imap_account.append("INBOX", [customer(f"Buyer {n}", order=n) for n in ORDERS[:3]])
    assert poll(session_factory, mailbox).ok
    assert _copies(session_factory) == {}  # the poll itself never calls Walmart

    assert jobs.read_new_orders(session_factory, mailbox) == 3
    copies = _copies(session_factory)
    assert set(copies) == set(ORDERS[:3])
    copy = copies[ORDERS[0]]
    assert copy.data is not None and copy.fetched_at is not None and copy.error is None
    assert Order.from_json(copy.data).lines[0].tracking_number == "1Z999AA10123456784"
    assert jobs.read_new_orders(session_factory, mailbox) == 0  # nothing new
    walmart.assert_read_only()


def test_walmart_down_never_stops_ingestion_and_shows_on_the_health(
    imap_account: ImapAccount, walmart: FakeWalmart, session_factory: sessionmaker[Session]
) -> None:
    _stock(walmart)
    walmart.knobs.failing = 502
    mailbox = _mailbox(imap_account, walmart)
    imap_account.append("INBOX", [customer(f"Buyer {n}", order=n) for n in ORDERS[:3]])
    assert poll(session_factory, mailbox).ok
    assert jobs.read_new_orders(session_factory, mailbox) == 0
    # The first failure ends the round: the next orders would fail the same way.
    assert sum(1 for s in walmart.seen if s.method == "GET") == 1
    with session_factory() as db:
        row = db.scalar(select(Mailbox).where(Mailbox.name == mailbox.name))
        assert row is not None and row.walmart_error and "502" in row.walmart_error
        assert row.consecutive_failures == 0 and row.last_error is None

    # More mail still comes in.
    imap_account.append("INBOX", [customer("Late buyer", order=ORDERS[3])])
    report = poll(session_factory, mailbox)
    assert report.ok and sum(f.new for f in report.folders) == 1


def test_the_job_for_waiting_threads_reads_a_bounded_number_per_mailbox(
    imap_account: ImapAccount,
    walmart: FakeWalmart,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> None:
    _stock(walmart)
    mailbox = _mailbox(imap_account, walmart)
    imap_account.append("INBOX", [customer(f"Buyer {n}", order=n) for n in ORDERS])
    assert poll(session_factory, mailbox).ok
    settings = Settings(database_url=database_url, mailboxes=[mailbox])

    assert jobs.refresh_waiting(session_factory, settings, at=now(), per_mailbox=2) == 2
    assert len(_copies(session_factory)) == 2
    assert jobs.refresh_waiting(session_factory, settings, at=now(), per_mailbox=2) == 2
    assert jobs.refresh_waiting(session_factory, settings, at=now(), per_mailbox=2) == 1
    assert jobs.refresh_waiting(session_factory, settings, at=now(), per_mailbox=2) == 0  # fresh
    # Copies older than REFRESH_AFTER are read again, the least recently read first.
    old = now() - jobs.REFRESH_AFTER - timedelta(minutes=1)
    with session_factory.begin() as db:
        db.execute(
            update(OrderCopy).where(OrderCopy.order_number == ORDERS[4]).values(attempted_at=old)
        )
    before = len(walmart.seen)
    assert jobs.refresh_waiting(session_factory, settings, at=now(), per_mailbox=2) == 1
    assert [s.path for s in walmart.seen[before:]] == [f"/v3/orders/{ORDERS[4]}", "/v3/returns"]
    walmart.assert_read_only()


def test_a_worker_shows_the_tracking_within_seconds_of_the_mail(
    imap_account: ImapAccount,
    walmart: FakeWalmart,
    session_factory: sessionmaker[Session],
    database_url: str,
    engine: Engine,
) -> None:
    _stock(walmart)
    mailbox = _mailbox(imap_account, walmart, idle=False, poll_seconds=5)
    settings = Settings(
        database_url=database_url, mailboxes=[mailbox], worker=WorkerSettings(lease_seconds=20)
    )
    worker = Worker(settings, engine)
    worker.start()
    try:
        imap_account.append("INBOX", [customer("Dora", order=ORDERS[0])])

        def tracked() -> bool:
            copy = _copies(session_factory).get(ORDERS[0])
            return copy is not None and copy.data is not None

        wait_for(tracked, what="the worker reads the new thread's order after its poll")
    finally:
        worker.shutdown()
    with session_factory() as db:
        assert db.scalar(select(func.count(OrderCopy.id))) == 1
    walmart.assert_read_only()
