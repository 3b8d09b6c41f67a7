"""Thread jobs: the response figures and the hourly samples of waiting threads, scheduled jobs
that own their transactions (each reads without a lock, then writes in a short transaction)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.mailboxes import repository as mailbox_repository
from app.threads import figures_repository, repository
from app.threads.activity import hour_of
from app.threads.stats import ALL_SCOPE, WINDOWS_DAYS, WindowTally, client_scope, scope_of, tally


def refresh_all(
    *, read_factory: sessionmaker[Session], write_factory: sessionmaker[Session], now: datetime
) -> None:
    """Recompute the figures of every mailbox, of each client's mailboxes and of all together:
    read in transactions that take no lock (a long scan at scale), then saved in one short write."""
    with read_factory() as db:
        clients = {m.id: m.client for m in mailbox_repository.list_mailboxes(db)}
    scopes = [ALL_SCOPE] + [client_scope(c) for c in set(clients.values()) if c]
    totals = {scope: [WindowTally(days) for days in WINDOWS_DAYS] for scope in scopes}
    figures = []
    for mailbox_id, client in clients.items():
        with read_factory() as db:
            rows = figures_repository.episodes_since(
                db, mailbox_id=mailbox_id, since=now - timedelta(days=max(WINDOWS_DAYS))
            )
        windows = tally(rows, now=now)
        figures += [window.figures(scope=scope_of(mailbox_id), now=now) for window in windows]
        for scope in (ALL_SCOPE, client_scope(client)) if client else (ALL_SCOPE,):
            for total, window in zip(totals[scope], windows, strict=True):
                total.add(window)
    figures += [total.figures(scope=scope, now=now) for scope, t in totals.items() for total in t]
    with session_scope(write_factory) as db:
        figures_repository.save_figures(db, figures)
        figures_repository.delete_figures_except(db, {*totals, *map(scope_of, clients)})


def sample_waiting(
    *, read_factory: sessionmaker[Session], write_factory: sessionmaker[Session], now: datetime
) -> None:
    """Record how many threads of each mailbox are waiting, at risk and overdue this hour."""
    with read_factory() as db:
        samples = {
            m.id: {"waiting": 0, "at_risk": 0, "overdue": 0}
            for m in mailbox_repository.list_mailboxes(db)
        }
        for mailbox_id, _, state, count, *_ in repository.open_clock_counts(db, now=now):
            samples[mailbox_id][state.value] += count
    with session_scope(write_factory) as db:
        repository.save_samples(db, hour=hour_of(now), samples=samples)
