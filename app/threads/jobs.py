"""Thread jobs: the response figures and the hourly samples of waiting threads, scheduled jobs
that own their transactions (each reads without a lock, then writes in a short transaction)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.mailboxes import repository as mailbox_repository
from app.threads import figures_repository, repository
from app.threads.activity import hour_of
from app.threads.stats import (
    ALL_SCOPE,
    BUCKET_BOUNDS_SECONDS,
    WINDOWS_DAYS,
    client_scope,
    empty_figures,
    scope_of,
)


def refresh_all(
    *, read_factory: sessionmaker[Session], write_factory: sessionmaker[Session], now: datetime
) -> None:
    """Recompute the figures of every mailbox, of each client's mailboxes and of all together:
    computed by the database in one statement, in a transaction that takes no lock (a long scan
    at scale), then saved in one short write."""
    with read_factory() as db:
        clients = {m.id: m.client for m in mailbox_repository.list_mailboxes(db)}
        computed = figures_repository.window_figures(
            db,
            since_by_days={days: now - timedelta(days=days) for days in WINDOWS_DAYS},
            now=now,
            bucket_bounds=BUCKET_BOUNDS_SECONDS,
        )
    scopes = {ALL_SCOPE, *map(scope_of, clients), *(client_scope(c) for c in clients.values() if c)}
    figures = {
        (scope, days): empty_figures(scope=scope, days=days, now=now)
        for scope in scopes
        for days in WINDOWS_DAYS
    }
    for row in computed:
        if (row["scope"], row["days"]) in figures:  # not a mailbox removed since the read
            figures[row["scope"], row["days"]].update(row)
    with session_scope(write_factory) as db:
        figures_repository.save_figures(db, list(figures.values()))
        figures_repository.delete_figures_except(db, scopes)


def sample_waiting(
    *, read_factory: sessionmaker[Session], write_factory: sessionmaker[Session], now: datetime
) -> None:
    """Record how many threads of each mailbox are waiting, at risk and overdue this hour."""
    with read_factory() as db:
        samples = {
            m.id: {"waiting": 0, "at_risk": 0, "overdue": 0}
            for m in mailbox_repository.list_mailboxes(db)
        }
        for mailbox_id, _, state, count, _ in repository.open_clock_counts(db, now=now):
            samples[mailbox_id][state.value] += count
    with session_scope(write_factory) as db:
        repository.save_samples(db, hour=hour_of(now), samples=samples)
