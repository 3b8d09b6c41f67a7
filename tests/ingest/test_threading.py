"""Which thread a message joins, as the poller decides it against a real mailbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.enums import ThreadSource
from app.models import Mailbox, Message, ResponseEpisode, Thread, ThreadTally
from app.worker import Worker, backoff_delay
from tests.support.imap import ImapAccount, closing_client
from tests.support.mailfactory import (
    SELLER_ADDRESS,
    customer,
    message,
    message_id_of,
    relay_address,
    seller_reply,
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


@pytest.mark.parametrize("batch_size", [1, 500], ids=["message by message", "one batch"])
def test_a_buyers_messages_and_the_sellers_reply_in_one_batch_thread_together(
    imap_account: ImapAccount, session_factory: sessionmaker[Session], batch_size: int
) -> None:
    """Messages of one batch thread with each other as they would one by one: by headers, by
    order number and by counterpart and subject, with the clock their order gives."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=10)
    asked = customer("Lena", order="108829272810783")
    # The seller's copy of the reply in INBOX (a Bcc to itself), answering by headers.
    answered = seller_reply("Lena", in_reply_to=message_id_of(asked), subject="Where is it?")
    # Her next message from another relay address, no reply headers: found by the order.
    asked_again = message(
        sender=relay_address("Lena, again"),
        subject="Still nothing",
        body="Order #108829272810783 has not arrived.",
    )
    # Another buyer: two messages with one subject and no order, then nothing from the seller.
    first_of_other = message(sender=relay_address("Milo"), subject="Broken lid")
    second_of_other = message(sender=relay_address("Milo"), subject="RE: Broken lid")
    for hours, raw in enumerate([asked, first_of_other, answered, asked_again, second_of_other]):
        imap_account.append("INBOX", [raw], when=start + timedelta(hours=hours))

    assert poll(session_factory, imap_account.settings(batch_size=batch_size)).ok

    threads = threads_by_message(session_factory)
    lena = threads[message_id_of(asked)]
    assert threads[message_id_of(answered)] == threads[message_id_of(asked_again)] == lena
    milo = threads[message_id_of(first_of_other)]
    assert threads[message_id_of(second_of_other)] == milo != lena
    with session_factory() as db:
        assert db.scalar(select(func.count()).select_from(Thread)) == 2
        lena_thread, milo_thread = db.get_one(Thread, lena), db.get_one(Thread, milo)
        # Answered after an hour; her second message (hour 3) started a new wait.
        assert (lena_thread.message_count, lena_thread.clock_started_at) == (
            3,
            start + timedelta(hours=3),
        )
        assert lena_thread.due_at == start + timedelta(hours=51)
        assert lena_thread.counterpart == relay_address("Lena").lower()
        waits = db.scalars(
            select(ResponseEpisode)
            .where(ResponseEpisode.thread_id == lena)
            .order_by(ResponseEpisode.started_at)
        ).all()
        assert [(w.started_at, w.answered_at) for w in waits] == [
            (start, start + timedelta(hours=2)),
            (start + timedelta(hours=3), None),
        ]
        # The other wait runs from the first of the two messages.
        assert (milo_thread.message_count, milo_thread.clock_started_at) == (
            2,
            start + timedelta(hours=1),
        )
        tallies = {(t.kind, t.bucket): t.count for t in db.scalars(select(ThreadTally)) if t.count}
        assert tallies == {("customer", "open"): 2}


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


def test_a_batch_of_thousands_of_new_buyers_gives_each_message_its_own_thread(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    """Threads and messages are inserted many rows a statement (and more than one statement's
    page here): every message still ends in the thread of its own buyer."""
    count = 2500
    imap_account.server.deliver(
        imap_account.username,
        (customer(f"Buyer {i}", order=f"2000114190{i:05d}") for i in range(count)),
    )
    report = poll(session_factory, imap_account.settings(batch_size=count))
    assert report.ok and report.folders[0].new == count
    with session_factory() as db:
        rows = db.execute(
            select(
                Message.from_address, Message.order_number, Thread.counterpart, Thread.order_number
            ).join(Thread, Thread.id == Message.thread_id)
        ).all()
        threads = db.scalar(select(func.count()).select_from(Thread))
    assert threads == len(rows) == count
    assert all(sender == counterpart for sender, _, counterpart, _ in rows)
    assert all(ordered == thread_order for _, ordered, _, thread_order in rows)
