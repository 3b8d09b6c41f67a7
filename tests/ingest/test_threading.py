"""Which thread a message joins, as the poller decides it against a real mailbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.enums import ThreadSource
from app.models import Mailbox, Message, Thread
from app.worker import Worker, backoff_delay
from tests.support.imap import ImapAccount, closing_client
from tests.support.mailfactory import (
    SELLER_ADDRESS,
    customer,
    message,
    message_id_of,
    relay_address,
)
from tests.support.polling import idling_sessions, poll, wait_for


def threads_by_message(session_factory: sessionmaker[Session]) -> dict[str, int | None]:
    with session_factory() as db:
        return {m.message_id_header or "": m.thread_id for m in db.scalars(select(Message))}


def test_same_order_joins_even_when_the_relay_address_changes(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    first = customer("Hana", order="108829272810783")
    # Walmart may relay the same buyer from another address, with no reply headers.
    second = message(
        sender=relay_address("Hana, second relay"),
        subject="Still waiting",
        body="Order #108829272810783 has not arrived.",
    )
    other_order = customer("Hana", order="200011419023224", subject="Another order")
    imap_account.append("INBOX", [first, second, other_order])
    assert poll(session_factory, imap_account.settings()).ok
    threads = threads_by_message(session_factory)
    assert threads[message_id_of(first)] == threads[message_id_of(second)]
    assert threads[message_id_of(other_order)] != threads[message_id_of(first)]


def test_subject_and_counterpart_join_within_30_days_only(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    now = datetime.now(UTC)
    buyer = f"Ivan <{relay_address('Ivan')}>"
    old = message(sender=buyer, subject="Item arrived broken", body="Please help.")
    recent = message(sender=buyer, subject="Item arrived broken", body="Any news?")
    follow_up = message(sender=buyer, subject="RE: Item arrived broken", body="Hello?")
    imap_account.append("INBOX", [old], when=now - timedelta(days=45))
    imap_account.append("INBOX", [recent], when=now - timedelta(days=2))
    imap_account.append("INBOX", [follow_up], when=now - timedelta(days=1))
    # A seller reply sent from another client, without In-Reply-To, to the relay address.
    reply = message(
        sender=SELLER_ADDRESS,
        to=relay_address("Ivan"),
        subject="Re: Item arrived broken",
        body="We are sending a replacement.",
    )
    imap_account.append("Sent", [reply], when=now)
    assert poll(session_factory, imap_account.settings()).ok
    threads = threads_by_message(session_factory)
    assert threads[message_id_of(recent)] == threads[message_id_of(follow_up)]
    assert threads[message_id_of(reply)] == threads[message_id_of(recent)]
    assert threads[message_id_of(old)] != threads[message_id_of(recent)]


def test_notices_never_join_a_customer_thread_by_guesswork(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    buyer_message = customer("Jade", order="108829272810783")
    notice = message(
        sender="no-reply@es.relay.walmart.com",
        subject="Customer message regarding order 108829272810783",
        body="Order 108829272810783 was refunded.",
    )
    imap_account.append("INBOX", [buyer_message, notice])
    assert poll(session_factory, imap_account.settings()).ok
    threads = threads_by_message(session_factory)
    assert threads[message_id_of(notice)] != threads[message_id_of(buyer_message)]


def test_rescue_spam_copies_walmart_mail_to_inbox_once_and_keeps_it_marked_as_spam(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    rescued = customer("Kim")
    junk = message(sender="deals@spam.example", subject="Cheap watches")
    imap_account.append("Junk", [rescued, junk])
    settings = imap_account.settings(rescue_spam=True)

    first = poll(session_factory, settings)
    second = poll(session_factory, settings)

    assert first.ok and second.ok
    inbox_second = next(f for f in second.folders if f.role == "inbox")
    assert (inbox_second.new, inbox_second.duplicates) == (0, 1)  # the copy, recognised
    with closing_client(imap_account.client()) as client:
        client.select_folder("INBOX", readonly=True)
        assert len(client.search(["ALL"])) == 1  # only the Walmart message was copied
        client.select_folder("Junk", readonly=True)
        assert len(client.search(["ALL"])) == 2  # nothing moved or deleted
    with session_factory() as db:
        (thread,) = db.scalars(select(Thread)).all()
        assert thread.source == ThreadSource.SPAM


def test_idle_brings_a_new_message_in_before_the_next_poll(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    database_url: str,
    engine: Engine,
) -> None:
    # Polling every 10 minutes: only IDLE can bring the message in within the wait below.
    settings = Settings(
        database_url=database_url, mailboxes=[imap_account.settings(poll_seconds=600)]
    )
    idling_before = idling_sessions(imap_account.server)
    worker = Worker(settings, engine)
    worker.start()
    try:
        wait_for(lambda: poll_has_run(session_factory), what="the first poll")
        # Mail that came before the watcher's IDLE would only be found by the next poll.
        wait_for(
            lambda: idling_sessions(imap_account.server) - idling_before,
            what="the watcher idling on INBOX",
        )
        arriving = customer("Leo")
        imap_account.append("INBOX", [arriving])
        wait_for(
            lambda: message_id_of(arriving) in threads_by_message(session_factory),
            what="IDLE bringing the message in",
        )
    finally:
        worker.shutdown()


def poll_has_run(session_factory: sessionmaker[Session]) -> bool:
    with session_factory() as db:
        return db.scalar(select(Mailbox.last_success_at)) is not None


def test_backoff_doubles_from_the_poll_interval_up_to_15_minutes() -> None:
    delays = [backoff_delay(poll_seconds=60, failures=n) for n in range(1, 7)]
    assert delays == [timedelta(seconds=s) for s in (60, 120, 240, 480, 900, 900)]
