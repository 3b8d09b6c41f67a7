"""Leases on both backends: one holder at a time, renewal, expiry, release, heartbeats."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app import leases
from app.db import session_scope

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
TTL = timedelta(seconds=60)


def _acquire(factory: sessionmaker[Session], name: str, holder: str, at: datetime) -> bool:
    with session_scope(factory) as db:
        return leases.acquire(db, name, holder=holder, now=at, ttl=TTL)


def test_one_holder_until_expiry_then_another(session_factory: sessionmaker[Session]) -> None:
    assert _acquire(session_factory, "mailbox:a", "w1", NOW)
    assert not _acquire(session_factory, "mailbox:a", "w2", NOW + timedelta(seconds=30))
    # Renewing pushes the expiry on: w2 still cannot take it a minute after the first grant.
    assert _acquire(session_factory, "mailbox:a", "w1", NOW + timedelta(seconds=40))
    assert not _acquire(session_factory, "mailbox:a", "w2", NOW + timedelta(seconds=90))
    # w1 stops renewing (it died): once the lease expires, w2 takes it over.
    assert _acquire(session_factory, "mailbox:a", "w2", NOW + timedelta(seconds=101))
    with session_factory() as db:
        assert leases.holders(db, ["mailbox:a"], now=NOW + timedelta(seconds=101)) == {
            "mailbox:a": "w2"
        }


def test_release_hands_over_at_once(session_factory: sessionmaker[Session]) -> None:
    assert _acquire(session_factory, "sweep", "w1", NOW)
    with session_scope(session_factory) as db:
        leases.release(db, ["sweep"], holder="w2")  # not w2's to give away
    assert not _acquire(session_factory, "sweep", "w2", NOW)
    with session_scope(session_factory) as db:
        leases.release(db, ["sweep"], holder="w1")
    assert _acquire(session_factory, "sweep", "w2", NOW)


def test_live_workers_are_the_unexpired_heartbeats(session_factory: sessionmaker[Session]) -> None:
    for worker, at in (("w1", NOW), ("w2", NOW + timedelta(seconds=30))):
        assert _acquire(session_factory, leases.WORKER_PREFIX + worker, worker, at)
    assert _acquire(session_factory, "mailbox:a", "w1", NOW)
    with session_factory() as db:
        assert sorted(leases.live_workers(db, now=NOW + timedelta(seconds=59))) == ["w1", "w2"]
        assert leases.live_workers(db, now=NOW + timedelta(seconds=61)) == ["w2"]
        assert leases.held(db, holder="w1", now=NOW) == {
            "mailbox:a": NOW + TTL,
            leases.WORKER_PREFIX + "w1": NOW + TTL,
        }


def test_racing_workers_get_one_winner(session_factory: sessionmaker[Session]) -> None:
    """Eight threads, each its own connection, try to take the same free lease at once."""
    winners: list[str] = []
    start = threading.Barrier(8)

    def race(holder: str) -> None:
        start.wait()
        if _acquire(session_factory, "mailbox:contested", holder, NOW):
            winners.append(holder)

    threads = [threading.Thread(target=race, args=(f"w{i}",)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1
    with session_factory() as db:
        assert leases.holders(db, ["mailbox:contested"], now=NOW) == {
            "mailbox:contested": winners[0]
        }
