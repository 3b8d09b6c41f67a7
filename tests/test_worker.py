"""How workers share mailboxes and singleton jobs, round by round, on both backends.

The workers here are real `Worker` objects on the test database; their schedulers are not started,
so each round is one call of `coordinate()` at a chosen time: what they poll is what they would
poll. (tests/test_worker_processes.py runs real worker processes against Dovecot.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from app import leases
from app.clock import now, set_clock
from app.config import MailboxSettings, Settings, WorkerSettings
from app.db import session_scope
from app.enums import Role
from app.mailboxes import service as mailbox_service
from app.users.service import create_user
from app.worker import QUICK_ROUND, STATS_LEASE, SWEEP_LEASE, Worker, fair_share

START = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=20)


def _mailbox(name: str) -> MailboxSettings:
    return MailboxSettings(
        name=name,
        host="127.0.0.1",
        security="plain",
        username=f"{name}@test.example",
        password_env="SLAWATCH_TEST_UNUSED",
        seller_addresses=["support@store.example"],
    )


@pytest.fixture
def clock() -> Iterator[list[datetime]]:
    """The time workers see: tests move it with ``clock[0] += ...``."""
    current = [START]
    set_clock(lambda: current[0])
    yield current
    set_clock(None)


def _settings(database_url: str, count: int) -> Settings:
    return Settings(
        database_url=database_url,
        mailboxes=[_mailbox(f"store-{i:02d}") for i in range(count)],
        worker=WorkerSettings(lease_seconds=int(LEASE.total_seconds())),
    )


def test_fair_share() -> None:
    assert [fair_share(m, w) for m, w in ((6, 2), (7, 2), (6, 4), (0, 3), (5, 0))] == [
        3,
        4,
        2,
        0,
        5,
    ]


def test_two_workers_split_the_mailboxes_and_one_takes_over_when_the_other_dies(
    database_url: str, engine: Engine, clock: list[datetime]
) -> None:
    settings = _settings(database_url, 6)
    first, second = (
        Worker(settings, engine, worker_id="w1"),
        Worker(settings, engine, worker_id="w2"),
    )
    first.coordinate()
    assert len(first.polled) == 6  # alone, it takes everything at once
    second.coordinate()  # sees two live workers: share 3, but all are held
    first.coordinate()  # gives up what exceeds its share
    second.coordinate()
    assert len(first.polled) == len(second.polled) == 3
    assert set(first.polled).isdisjoint(second.polled)
    assert set(first.polled) | set(second.polled) == {m.name for m in settings.mailboxes}

    # w1 dies: it renews nothing more. Until its leases expire, w2 keeps to its share...
    clock[0] += LEASE / 2
    second.coordinate()
    assert len(second.polled) == 3
    # ...and once they have, w2 polls every mailbox within one round.
    clock[0] += LEASE / 2 + timedelta(seconds=1)
    second.coordinate()
    assert len(second.polled) == 6


def test_rounds_come_quickly_until_the_mailboxes_are_shared_out(
    database_url: str, engine: Engine, clock: list[datetime]
) -> None:
    """Workers started together, or a newcomer, get their share within seconds, not periods."""
    settings = _settings(database_url, 6)
    first, second = (
        Worker(settings, engine, worker_id="w1"),
        Worker(settings, engine, worker_id="w2"),
    )
    regular = timedelta(seconds=settings.worker.lease_seconds / 4)

    def next_round_after_one(worker: Worker) -> timedelta:
        """One round, its next run first set where the interval puts it (as the running
        scheduler does after each run); when the next comes after it."""
        worker.scheduler.modify_job("coordinate", next_run_time=clock[0] + regular)
        worker.coordinate()
        job = worker.scheduler.get_job("coordinate")
        assert job is not None
        return job.next_run_time - clock[0]

    assert next_round_after_one(first) == QUICK_ROUND  # its first: others may be starting too
    assert next_round_after_one(first) == regular  # alone, with every mailbox: shared out
    assert next_round_after_one(second) == QUICK_ROUND  # a newcomer, holding none
    assert next_round_after_one(first) == QUICK_ROUND  # gives up half, w2 has none yet
    assert next_round_after_one(second) == regular  # takes its share
    assert len(first.polled) == len(second.polled) == 3
    assert next_round_after_one(first) == regular


def test_a_stopping_worker_hands_its_mailboxes_over_at_once(
    database_url: str, engine: Engine, clock: list[datetime]
) -> None:
    settings = _settings(database_url, 4)
    first, second = (
        Worker(settings, engine, worker_id="w1"),
        Worker(settings, engine, worker_id="w2"),
    )
    first.coordinate()
    second.coordinate()
    first.shutdown()  # releases its leases and its heartbeat
    second.coordinate()
    assert len(second.polled) == 4


def test_a_round_that_races_the_stop_leaves_no_lease_behind(
    database_url: str,
    engine: Engine,
    clock: list[datetime],
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A round already under way when the worker is told to stop takes leases in the database
    but no longer records them: the stop must hand those back too (CI once found a survivor's
    lease still held after a clean stop)."""
    settings = _settings(database_url, 3)
    worker = Worker(settings, engine, worker_id="w1")
    renew = leases.renew

    def stop_meanwhile(*args: Any, **kwargs: Any) -> list[str]:
        worker._stopping = True  # the stop begins while this round takes its leases
        return renew(*args, **kwargs)

    monkeypatch.setattr(leases, "renew", stop_meanwhile)
    worker.coordinate()
    assert worker.polled == []
    with session_factory() as db:
        assert leases.held(db, holder="w1", now=clock[0])  # taken, though not recorded
    worker.shutdown()
    with session_factory() as db:
        assert leases.held(db, holder="w1", now=clock[0]) == {}


def test_sweep_and_figures_run_in_one_worker_only(
    database_url: str, engine: Engine, clock: list[datetime], session_factory: sessionmaker[Session]
) -> None:
    settings = _settings(database_url, 2)
    workers = [Worker(settings, engine, worker_id=f"w{i}") for i in range(3)]
    for _ in range(2):
        for worker in workers:
            worker.coordinate()
    with session_factory() as db:
        holders = leases.holders(db, [SWEEP_LEASE, STATS_LEASE], now=clock[0])
    assert set(holders) == {SWEEP_LEASE, STATS_LEASE}
    assert [w.id for w in workers if w._holds(SWEEP_LEASE)] == [holders[SWEEP_LEASE]]
    assert [w.id for w in workers if w._holds(STATS_LEASE)] == [holders[STATS_LEASE]]


def test_mailboxes_added_and_disabled_through_the_api_are_picked_up_and_dropped(
    database_url: str, engine: Engine, clock: list[datetime], session_factory: sessionmaker[Session]
) -> None:
    settings = _settings(database_url, 1)
    worker = Worker(settings, engine, worker_id="w1")
    worker.coordinate()
    assert worker.polled == ["store-00"]
    with session_scope(session_factory) as db:
        admin = create_user(db, name="root", role=Role.ADMIN, actor="test").user
        values = _mailbox("agency-client-7").model_dump(mode="json", exclude_unset=True)
        values["password_env"] = "SLAWATCH_MAILBOX_UNUSED"  # an API mailbox's own prefix
        mailbox_service.create(db, {**values, "client": "acme"}, settings=settings, actor=admin)
    worker.coordinate()
    assert worker.polled == ["agency-client-7", "store-00"]
    with session_scope(session_factory) as db:
        admin = db.merge(admin)
        mailbox_service.set_enabled(db, "agency-client-7", False, settings=settings, actor=admin)
    worker.coordinate()
    assert worker.polled == ["store-00"]


def test_sharing_the_mailboxes_runs_while_every_poll_thread_is_busy(
    database_url: str, engine: Engine, session_factory: sessionmaker[Session]
) -> None:
    """A backlog of polls must not delay the lease renewals: else the leases expire and another
    worker takes every mailbox, then this one takes them back, round after round."""
    settings = Settings(
        database_url=database_url,
        mailboxes=[],
        worker=WorkerSettings(lease_seconds=20, threads=1),
    )
    worker = Worker(settings, engine, worker_id="w1")
    heartbeat = leases.WORKER_PREFIX + worker.id
    busy, release = threading.Event(), threading.Event()

    def slow_poll() -> None:
        busy.set()
        release.wait(30)

    def expiry() -> datetime | None:
        with session_factory() as db:
            return leases.held(db, holder=worker.id, now=now()).get(heartbeat)

    def wait_until(condition: Callable[[], bool]) -> bool:
        deadline = time.monotonic() + 10
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        return condition()

    worker.start()
    try:
        assert wait_until(lambda: expiry() is not None)
        first = expiry()
        worker.scheduler.add_job(slow_poll, next_run_time=now())  # the only poll thread
        assert busy.wait(10)
        worker.scheduler.modify_job("coordinate", next_run_time=now())
        assert wait_until(lambda: expiry() != first), "not renewed while every poll thread ran"
    finally:
        release.set()
        worker.shutdown()
