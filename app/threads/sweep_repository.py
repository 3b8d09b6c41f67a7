"""The sweep's queries: threads whose SLA level may have changed, their new levels and the
transitions they reached, each a statement per batch of threads rather than per thread."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.enums import ThreadKind, ThreadSource
from app.models import Thread, ThreadTransition

TransitionKey = tuple[int, datetime, str]  # thread id, clock start, level reached


@dataclass(frozen=True)
class DueThread:
    """What the sweep reads of a thread: its clock, and what an alert about it shows."""

    id: int
    mailbox_id: int
    kind: ThreadKind
    source: ThreadSource
    subject: str
    counterpart: str | None
    order_number: str | None
    clock_started_at: datetime | None
    due_at: datetime | None
    sla_level: str | None


def due_for_sweep(db: Session, *, now: datetime, limit: int) -> list[DueThread]:
    """Threads whose SLA level may have changed, locked so two sweeps never take the same one."""
    rows = db.execute(
        select(
            Thread.id,
            Thread.mailbox_id,
            Thread.kind,
            Thread.source,
            Thread.subject,
            Thread.counterpart,
            Thread.order_number,
            Thread.clock_started_at,
            Thread.due_at,
            Thread.sla_level,
        )
        .where(Thread.next_transition_at <= now)
        .order_by(Thread.next_transition_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return [DueThread(**row._mapping) for row in rows]


def set_levels(db: Session, levels: Sequence[dict[str, Any]]) -> None:
    """Set threads' levels and next look, ``{"thread_id", "level", "next_at"}`` each, in one
    executemany."""
    if not levels:
        return
    table = cast(Table, Thread.__table__)  # Core: an executemany, no ORM bookkeeping
    db.execute(
        update(table)
        .where(table.c.id == bindparam("thread_id"))
        .values(sla_level=bindparam("level"), next_transition_at=bindparam("next_at")),
        list(levels),
    )


def recorded_transitions(db: Session, keys: Collection[TransitionKey]) -> set[TransitionKey]:
    """Which of ``keys`` are recorded already (a thread closed and reopened resumes its clock)."""
    if not keys:
        return set()
    thread_ids = {thread_id for thread_id, _, _ in keys}
    rows = db.execute(
        select(
            ThreadTransition.thread_id,
            ThreadTransition.clock_started_at,
            ThreadTransition.to_level,
        ).where(ThreadTransition.thread_id.in_(thread_ids))
    )
    return {(row.thread_id, row.clock_started_at, row.to_level) for row in rows} & set(keys)


def insert_transitions(db: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert transitions in one executemany; one recorded meanwhile is left as it is."""
    if rows:
        statement = dialect_insert(db)(ThreadTransition.__table__).on_conflict_do_nothing(
            index_elements=["thread_id", "clock_started_at", "to_level"]
        )
        db.execute(statement, list(rows))
