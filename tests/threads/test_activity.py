"""Hourly activity and the response figures behind the status page, on both backends."""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.config import Settings
from app.db import make_engine, make_session_factory, session_scope
from app.enums import Classification, FolderRole, ThreadKind, ThreadSource
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.models import HourlyActivity, Message, ResponseEpisode, Thread
from app.sla import ThreadState, policy_lookup
from app.threads import activity, queries, stats
from app.threads import jobs as thread_jobs
from tests.support.mailfactory import SELLER_ADDRESS, customer, message, message_id_of, seller_reply

NOW = datetime(2026, 11, 24, 12, 30, tzinfo=UTC)
POLICY = policy_lookup(Settings().sla, "walmart")


def _store(db: Session, mailbox_id: int, role: FolderRole, raw: bytes, at: datetime) -> None:
    assert store_message(
        db,
        mailbox_id=mailbox_id,
        role=role,
        raw=raw,
        arrived_at=at,
        seller_addresses=frozenset({SELLER_ADDRESS}),
        policy_for=POLICY,
    )


def _some_mail(session_factory: sessionmaker[Session], *, seed: int = 7) -> None:
    """Two mailboxes, three days of customers (some in spam), replies and automated notices."""
    rng = random.Random(seed)
    with session_scope(session_factory) as db:
        ids = [
            mailbox_repository.get_or_create_mailbox(db, name).id for name in ("store-a", "store-b")
        ]
        for i in range(60):
            mailbox_id = rng.choice(ids)
            at = NOW - timedelta(minutes=rng.randrange(72 * 60))
            folder = FolderRole.SPAM if i % 7 == 0 else FolderRole.INBOX
            question = customer(f"Buyer {i}", order=f"1088{i:011d}", subject=f"Order {i}")
            _store(db, mailbox_id, folder, question, at)
            if i % 3:
                reply = seller_reply(
                    f"Buyer {i}", in_reply_to=message_id_of(question), subject=f"Order {i}"
                )
                _store(
                    db, mailbox_id, FolderRole.SENT, reply, min(at + timedelta(hours=i % 30), NOW)
                )
        notice = message(
            sender="mp-payments@relay.walmart.com", subject="Your payment is on its way"
        )
        _store(db, ids[0], FolderRole.INBOX, notice, NOW - timedelta(hours=5))


def _rows(session_factory: sessionmaker[Session]) -> set[tuple[object, ...]]:
    with session_factory() as db:
        return {
            (r.mailbox_id, r.hour, r.customer_in, r.replies_out, r.spam_found)
            for r in db.scalars(select(HourlyActivity))
        }


def _message_count(session_factory: sessionmaker[Session]) -> int:
    with session_factory() as db:
        return len(db.scalars(select(Message.id)).all())


def test_hourly_counts_are_the_stored_messages_by_arrival_hour(
    session_factory: sessionmaker[Session],
) -> None:
    _some_mail(session_factory)
    with session_factory() as db:
        expected: Counter[tuple[int, datetime, str]] = Counter()
        for m in db.scalars(select(Message)):
            hour = m.received_at.replace(minute=0, second=0, microsecond=0)
            if m.classification in (Classification.CUSTOMER, Classification.ESCALATION):
                expected[m.mailbox_id, hour, "in"] += 1
            if m.classification == Classification.SELLER:
                expected[m.mailbox_id, hour, "out"] += 1
            if m.folder == FolderRole.SPAM:
                expected[m.mailbox_id, hour, "spam"] += 1
        hours = activity.hours(db, since=NOW - timedelta(days=4), now=NOW)
    assert len(hours) == 4 * 24 + 1 and hours[-1].start == datetime(2026, 11, 24, 12, tzinfo=UTC)
    found: Counter[tuple[int, datetime, str]] = Counter()
    for mailbox_id, hour, customer_in, replies_out, spam_found in _rows(session_factory):
        found[mailbox_id, hour, "in"] += customer_in
        found[mailbox_id, hour, "out"] += replies_out
        found[mailbox_id, hour, "spam"] += spam_found
    assert +found == +expected
    assert sum(h.customer_in for h in hours) == 60
    assert sum(h.spam_found for h in hours) == 9
    assert sum(h.replies_out for h in hours) == sum(v for k, v in expected.items() if k[2] == "out")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_the_migration_counts_stored_mail_as_ingestion_does(
    backend: str, empty_database_url: Callable[[str], str]
) -> None:
    url = empty_database_url(backend)
    migrate.upgrade(url)
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        _some_mail(factory)
        counted_live = _rows(factory)
        stored = _message_count(factory)
        migrate.downgrade(url, "0001")
        # Going down and up rebuilds tables on SQLite: not one stored message may go with them.
        assert _message_count(factory) == stored
        migrate.upgrade(url)  # 0002 counts the messages already stored
        assert _message_count(factory) == stored > 90
        assert _rows(factory) == counted_live and len(counted_live) > 20
    finally:
        engine.dispose()


def test_samples_record_the_waiting_counts_of_each_mailbox(
    session_factory: sessionmaker[Session], read_session_factory: sessionmaker[Session]
) -> None:
    _some_mail(session_factory)
    thread_jobs.sample_waiting(
        read_factory=read_session_factory, write_factory=session_factory, now=NOW
    )
    with session_factory() as db:
        summary = queries.summary(db, now=NOW)
        (last,) = activity.hours(db, since=NOW, now=NOW)
        by_mailbox = {
            m.name: activity.hours(db, since=NOW, now=NOW, mailbox_ids=frozenset({m.mailbox_id}))[0]
            for m in summary.mailboxes
        }
    assert last.overdue == summary.by_state[ThreadState.OVERDUE] > 0
    assert last.at_risk == summary.by_state[ThreadState.AT_RISK]
    assert last.waiting == summary.by_state[ThreadState.WAITING]
    for m in summary.mailboxes:
        assert by_mailbox[m.name].overdue == m.by_state[ThreadState.OVERDUE]
    # A later sample in the same hour replaces the earlier one.
    thread_jobs.sample_waiting(
        read_factory=read_session_factory,
        write_factory=session_factory,
        now=NOW + timedelta(minutes=20),
    )
    with session_factory() as db:
        (later,) = activity.hours(db, since=NOW, now=NOW)
        summary_later = queries.summary(db, now=NOW + timedelta(minutes=20))
    assert later.overdue == summary_later.by_state[ThreadState.OVERDUE]


def test_waiting_at_counts_open_waits_by_level() -> None:
    start = NOW - timedelta(hours=50)
    waits = [
        # started, answered, due, at risk from
        (start, None, start + timedelta(hours=48), start + timedelta(hours=36)),
        (
            start,
            start + timedelta(hours=2),
            start + timedelta(hours=48),
            start + timedelta(hours=36),
        ),
        (NOW - timedelta(hours=40), None, NOW + timedelta(hours=8), NOW - timedelta(hours=4)),
        (NOW - timedelta(hours=1), None, NOW + timedelta(hours=47), NOW + timedelta(hours=35)),
        (NOW + timedelta(hours=1), None, NOW + timedelta(hours=49), NOW + timedelta(hours=37)),
    ]
    assert activity.waiting_at(waits, NOW) == {"waiting": 1, "at_risk": 1, "overdue": 1}
    assert activity.waiting_at(waits, start + timedelta(hours=1)) == {
        "waiting": 2,
        "at_risk": 0,
        "overdue": 0,
    }


def _by_hand(
    waits: list[tuple[datetime, datetime | None, datetime, float | None]], days: int
) -> tuple[int, int, float | None, float | None, list[int]]:
    """A window's figures counted one wait at a time: decided, in time, median and p90 of the
    first responses (nearest rank), and the distribution by stats.RESPONSE_BUCKETS."""
    since = NOW - timedelta(days=days)
    inside = [w for w in waits if w[0] >= since]
    decided = [w for w in inside if w[1] is not None or w[2] <= NOW]
    in_time = [w for w in inside if w[1] is not None and w[1] <= w[2]]
    seconds = sorted(w[3] for w in inside if w[3] is not None)
    distribution = [0] * len(stats.BUCKET_LABELS)
    for _, _, due, spent in inside:
        if spent is not None:
            hours = spent / 3600
            distribution[
                next(i for i, (_, up) in enumerate(stats.RESPONSE_BUCKETS) if hours < up)
            ] += 1
        elif due <= NOW:
            distribution[-1] += 1

    def rank(q: float) -> float | None:
        return seconds[max(math.ceil(q * len(seconds)) - 1, 0)] if seconds else None

    return len(decided), len(in_time), rank(0.5), rank(0.9), distribution


def test_figures_of_every_scope_are_those_counted_by_hand(
    session_factory: sessionmaker[Session], read_session_factory: sessionmaker[Session]
) -> None:
    _some_mail(session_factory)
    with session_scope(session_factory) as db:
        mailbox_repository.get_or_create_mailbox(db, "store-a").client = "acme"
    thread_jobs.refresh_all(
        read_factory=read_session_factory, write_factory=session_factory, now=NOW
    )
    with session_factory() as db:
        figures = stats.latest(db)
        clients = {m.id: m.client for m in mailbox_repository.list_mailboxes(db)}
        episodes = list(db.scalars(select(ResponseEpisode)))
    assert len(episodes) >= 60
    members = {
        stats.ALL_SCOPE: set(clients),
        stats.client_scope("acme"): {i for i, c in clients.items() if c == "acme"},
        **{stats.scope_of(i): {i} for i in clients},
    }
    assert set(figures) == set(members)
    for scope, mailbox_ids in members.items():
        waits = [
            (e.started_at, e.answered_at, e.due_at, e.response_seconds)
            for e in episodes
            if e.mailbox_id in mailbox_ids
        ]
        for days in stats.WINDOWS_DAYS:
            stored = figures[scope][days]
            assert (
                stored.decided,
                stored.in_time,
                stored.median_seconds,
                stored.p90_seconds,
                stored.distribution,
            ) == _by_hand(waits, days), (scope, days)
    # The median of all mailboxes is the median of their waits, not of their medians.
    assert (
        figures[stats.ALL_SCOPE][30].decided
        == sum(figures[stats.scope_of(i)][30].decided for i in clients)
        > 0
    )


def test_first_responses_and_late_silence_fall_in_their_buckets(
    session_factory: sessionmaker[Session], read_session_factory: sessionmaker[Session]
) -> None:
    hour = timedelta(hours=1)
    waits = [  # started, answered (None: not yet), due
        (NOW - 100 * hour, NOW - 99.5 * hour, NOW - 52 * hour),  # < 1 h
        (NOW - 100 * hour, NOW - 90 * hour, NOW - 52 * hour),  # 4-12 h
        (NOW - 100 * hour, NOW - 40 * hour, NOW - 52 * hour),  # > 48 h, late
        (NOW - 60 * hour, None, NOW - 12 * hour),  # unanswered, overdue
        (NOW - 2 * hour, None, NOW + 46 * hour),  # still in time: undecided
        (NOW - 40 * 24 * hour, NOW - 39 * 24 * hour, NOW - 38 * 24 * hour),  # 24-48 h
    ]
    with session_scope(session_factory) as db:
        mailbox_id = mailbox_repository.get_or_create_mailbox(db, "store-a").id
        thread = Thread(mailbox_id=mailbox_id, kind=ThreadKind.CUSTOMER, source=ThreadSource.INBOX)
        db.add(thread)
        db.flush()
        db.add_all(
            ResponseEpisode(
                thread_id=thread.id,
                mailbox_id=mailbox_id,
                kind=ThreadKind.CUSTOMER,
                started_at=started,
                answered_at=answered,
                due_at=due,
                response_seconds=(answered - started).total_seconds() if answered else None,
            )
            for started, answered, due in waits
        )
    thread_jobs.refresh_all(
        read_factory=read_session_factory, write_factory=session_factory, now=NOW
    )
    with session_factory() as db:
        one_day, week, month, two_months = (
            stats.latest(db)[stats.ALL_SCOPE][days] for days in stats.WINDOWS_DAYS
        )
    assert week.distribution == [1, 0, 1, 0, 0, 1, 1]
    assert (week.decided, week.in_time) == (4, 2)
    assert (week.median_seconds, week.p90_seconds) == (10 * 3600, 60 * 3600)
    assert one_day.distribution == [0] * 7 and one_day.decided == 0
    assert one_day.median_seconds is None
    assert month.distribution == week.distribution
    assert two_months.distribution == [1, 0, 1, 0, 1, 1, 1]
    assert (two_months.decided, two_months.in_time) == (5, 3)
    assert two_months.median_seconds == 10 * 3600  # 0.5, 10, 24, 60 h: the 2nd of 4
