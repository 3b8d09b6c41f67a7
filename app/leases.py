"""Leases in the database: which worker process polls a mailbox, sweeps or computes the figures.

A lease is a row with a holder and an expiry. A worker renews the rows it holds and takes free or
expired ones with SELECT ... FOR UPDATE SKIP LOCKED, so two workers never hold the same lease and
never wait for each other while sharing (SQLite has one writer at a time anyway).
A worker renews what it holds well before the expiry; one that dies stops renewing, and another
takes its leases over once they expire. Correctness never rests on the lease alone: a folder's
batches are serialised by its cursor row and stored messages are unique, so even two pollers of
one mailbox (a worker paused past its expiry) store each message once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.models import Lease

WORKER_PREFIX = "worker:"  # a worker's own lease: its heartbeat, counted to share the work
MAILBOX_PREFIX = "mailbox:"


def mailbox_lease(name: str) -> str:
    return MAILBOX_PREFIX + name


def acquire(db: Session, name: str, *, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew the lease ``name`` for ``ttl``; False when another live holder has it."""
    db.execute(
        dialect_insert(db)(Lease)
        .values(name=name, holder=None, expires_at=now)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    taken = db.execute(
        update(Lease)
        .where(
            Lease.name == name,
            (Lease.holder == holder) | Lease.holder.is_(None) | (Lease.expires_at <= now),
        )
        .values(holder=holder, expires_at=now + ttl)
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def ensure(db: Session, names: Iterable[str], *, now: datetime) -> None:
    """Create the lease rows that do not exist yet (free), so they can be locked and taken."""
    # Read first: every round asks for rows that nearly always exist, and an INSERT of them, even
    # one doing nothing on conflict, waits for any worker's open transaction that wrote them.
    # (Without the heartbeats: a row for every worker process that ever ran.)
    existing = set(db.scalars(select(Lease.name).where(~Lease.name.startswith(WORKER_PREFIX))))
    rows = [
        {"name": name, "holder": None, "expires_at": now} for name in names if name not in existing
    ]
    if rows:
        db.execute(
            dialect_insert(db)(Lease).values(rows).on_conflict_do_nothing(index_elements=["name"])
        )


def renew(
    db: Session, names: Iterable[str], *, holder: str, now: datetime, ttl: timedelta
) -> list[str]:
    """Extend those of ``names`` that ``holder`` still holds; returns them. One that expired and
    was taken by another worker is lost, not renewed."""
    wanted = list(names)
    if not wanted:
        return []
    renewed = db.scalars(
        update(Lease)
        .where(Lease.name.in_(wanted), Lease.holder == holder)
        .values(expires_at=now + ttl)
        .returning(Lease.name)
        .execution_options(synchronize_session=False)
    )
    return sorted(renewed)


def take(
    db: Session,
    names: Iterable[str],
    *,
    holder: str,
    now: datetime,
    ttl: timedelta,
    limit: int,
) -> list[str]:
    """Take up to ``limit`` of ``names`` that are free or expired. Rows another worker is taking
    at this moment are skipped (SKIP LOCKED), so workers never wait for each other here."""
    candidates = list(names)
    if limit <= 0 or not candidates:
        return []
    free = list(
        db.scalars(
            select(Lease.name)
            .where(
                Lease.name.in_(candidates),
                Lease.holder.is_(None) | (Lease.expires_at <= now),
            )
            .order_by(Lease.name)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if free:
        db.execute(
            update(Lease)
            .where(Lease.name.in_(free))
            .values(holder=holder, expires_at=now + ttl)
            .execution_options(synchronize_session=False)
        )
    return free


def release(db: Session, names: Iterable[str], *, holder: str) -> None:
    """Give leases up at once (a worker stopping, or handing work to a newcomer)."""
    given = list(names)
    if not given:
        return
    db.execute(
        update(Lease)
        .where(Lease.name.in_(given), Lease.holder == holder)
        .values(holder=None)
        .execution_options(synchronize_session=False)
    )


def release_all(db: Session, *, holder: str) -> None:
    """Give up every lease ``holder`` holds, including any taken by a round that raced its stop."""
    db.execute(
        update(Lease)
        .where(Lease.holder == holder)
        .values(holder=None)
        .execution_options(synchronize_session=False)
    )


def live_workers(db: Session, *, now: datetime) -> list[str]:
    """Holders of an unexpired worker heartbeat lease."""
    return list(
        db.scalars(
            select(Lease.holder).where(
                Lease.name.startswith(WORKER_PREFIX),
                Lease.holder.is_not(None),
                Lease.expires_at > now,
            )
        )
    )


def counts_by_holder(db: Session, *, prefix: str, now: datetime) -> dict[str, int]:
    """How many unexpired leases named ``prefix``... each holder holds."""
    rows = db.execute(
        select(Lease.holder, func.count())
        .where(Lease.name.startswith(prefix), Lease.holder.is_not(None), Lease.expires_at > now)
        .group_by(Lease.holder)
    )
    return {holder: count for holder, count in rows if holder is not None}


def held(db: Session, *, holder: str, now: datetime) -> dict[str, datetime]:
    """The leases ``holder`` holds, with their expiry."""
    rows = db.execute(
        select(Lease.name, Lease.expires_at).where(Lease.holder == holder, Lease.expires_at > now)
    )
    return {name: expires for name, expires in rows}


def holders(db: Session, names: Iterable[str], *, now: datetime) -> dict[str, str]:
    """Who holds each of ``names`` now (free or expired leases are left out)."""
    rows = db.execute(
        select(Lease.name, Lease.holder).where(
            Lease.name.in_(list(names)), Lease.holder.is_not(None), Lease.expires_at > now
        )
    )
    return {name: holder for name, holder in rows if holder is not None}
