"""All queries that find threads and the messages they hold."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, delete, func, or_, select
from sqlalchemy.orm import Session

from app.enums import ThreadKind
from app.models import Message, ResponseEpisode, Thread, ThreadTransition
from app.sla import WAITING_STATES, ThreadState

SelectT = TypeVar("SelectT", bound=Select[Any])


def thread_of_message_ids(
    db: Session, *, mailbox_id: int, message_ids: Sequence[str]
) -> int | None:
    """The thread of the newest stored message among ``message_ids`` (In-Reply-To, References)."""
    if not message_ids:
        return None
    return db.scalar(
        select(Message.thread_id)
        .where(
            Message.mailbox_id == mailbox_id,
            Message.message_id_header.in_(message_ids),
            Message.thread_id.is_not(None),
        )
        .order_by(Message.received_at.desc())
        .limit(1)
    )


def thread_by_order(
    db: Session, *, mailbox_id: int, order_number: str, counterpart: str | None, since: datetime
) -> Thread | None:
    """A thread about the same order: the same counterpart's first, else any recent one (Walmart's
    relay address can change between a buyer's messages)."""
    same_counterpart = Thread.counterpart == counterpart
    return db.scalar(
        select(Thread)
        .where(
            Thread.mailbox_id == mailbox_id,
            Thread.order_number == order_number,
            or_(same_counterpart, Thread.last_message_at >= since),
        )
        .order_by(case((same_counterpart, 0), else_=1), Thread.last_message_at.desc())
        .limit(1)
    )


def thread_by_subject(
    db: Session, *, mailbox_id: int, counterpart: str, normalized_subject: str, since: datetime
) -> Thread | None:
    return db.scalar(
        select(Thread)
        .where(
            Thread.mailbox_id == mailbox_id,
            Thread.counterpart == counterpart,
            Thread.normalized_subject == normalized_subject,
            Thread.last_message_at >= since,
        )
        .order_by(Thread.last_message_at.desc())
        .limit(1)
    )


def messages_of(db: Session, thread_id: int) -> list[Message]:
    return list(
        db.scalars(
            select(Message).where(Message.thread_id == thread_id).order_by(Message.received_at)
        )
    )


def delete_episodes(db: Session, thread_id: int) -> None:
    db.execute(delete(ResponseEpisode).where(ResponseEpisode.thread_id == thread_id))


def _state_condition(state: ThreadState, now: datetime) -> ColumnElement[bool]:
    """SQL for a state at ``now``; agrees with sla.thread_state (tested against it)."""
    # Closing clears the clock, so "not closed" only guards the invariant in the queries too.
    open_ = and_(Thread.has_customer_messages, Thread.closed_at.is_(None))
    conditions: dict[ThreadState, ColumnElement[bool]] = {
        ThreadState.OVERDUE: and_(open_, Thread.due_at <= now),
        ThreadState.AT_RISK: and_(open_, Thread.at_risk_at <= now, Thread.due_at > now),
        ThreadState.WAITING: and_(open_, Thread.at_risk_at > now),
        ThreadState.ANSWERED: and_(
            Thread.has_customer_messages, Thread.closed_at.is_(None), Thread.due_at.is_(None)
        ),
        ThreadState.CLOSED: and_(Thread.has_customer_messages, Thread.closed_at.is_not(None)),
        ThreadState.INFORMATIONAL: Thread.has_customer_messages.is_(False),
    }
    return conditions[state]


@dataclass(frozen=True)
class ThreadFilter:
    states: frozenset[ThreadState]
    kinds: frozenset[ThreadKind] = frozenset()
    mailbox_id: int | None = None
    text: str | None = None


def _filtered(query: SelectT, f: ThreadFilter) -> SelectT:
    if f.kinds:
        query = query.where(Thread.kind.in_(f.kinds))
    if f.mailbox_id is not None:
        query = query.where(Thread.mailbox_id == f.mailbox_id)
    if f.text:
        pattern = f"%{f.text.lower()}%"
        query = query.where(
            or_(
                func.lower(Thread.subject).like(pattern),
                func.lower(Thread.counterpart).like(pattern),
                Thread.order_number.like(pattern),
            )
        )
    return query


def threads_with_deadline(
    db: Session, f: ThreadFilter, *, now: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[Thread]:
    """Waiting threads in the requested states, soonest deadline first (walks the due_at index)."""
    states = [s for s in f.states if s in WAITING_STATES]
    if not states:
        return []
    query = select(Thread).where(Thread.due_at.is_not(None))
    query = query.where(or_(*(_state_condition(s, now) for s in states)))
    if after is not None:
        due, thread_id = after
        query = query.where(
            or_(Thread.due_at > due, and_(Thread.due_at == due, Thread.id > thread_id))
        )
    query = _filtered(query, f).order_by(Thread.due_at, Thread.id).limit(limit)
    return list(db.scalars(query))


def threads_without_deadline(
    db: Session, f: ThreadFilter, *, now: datetime, before_id: int | None, limit: int
) -> list[Thread]:
    """Threads in the other requested states (answered, closed, informational), newest first."""
    states = [s for s in f.states if s not in WAITING_STATES]
    if not states:
        return []
    query = select(Thread).where(or_(*(_state_condition(s, now) for s in states)))
    if before_id is not None:
        query = query.where(Thread.id < before_id)
    query = _filtered(query, f).order_by(Thread.id.desc()).limit(limit)
    return list(db.scalars(query))


def state_counts(db: Session, *, now: datetime) -> list[tuple[int, ThreadState, ThreadKind, int]]:
    """(mailbox_id, state, kind, count) for every thread."""
    state = case(
        (Thread.has_customer_messages.is_(False), ThreadState.INFORMATIONAL.value),
        (Thread.closed_at.is_not(None), ThreadState.CLOSED.value),
        (Thread.due_at.is_(None), ThreadState.ANSWERED.value),
        (Thread.due_at <= now, ThreadState.OVERDUE.value),
        (Thread.at_risk_at <= now, ThreadState.AT_RISK.value),
        else_=ThreadState.WAITING.value,
    )
    rows = db.execute(
        select(Thread.mailbox_id, state, Thread.kind, func.count()).group_by(
            Thread.mailbox_id, state, Thread.kind
        )
    )
    return [(mailbox_id, ThreadState(s), kind, n) for mailbox_id, s, kind, n in rows]


def oldest_waiting(db: Session) -> dict[int, datetime]:
    """Per mailbox, when the longest-waiting customer's clock started."""
    rows = db.execute(
        select(Thread.mailbox_id, func.min(Thread.clock_started_at))
        .where(Thread.due_at.is_not(None))
        .group_by(Thread.mailbox_id)
    )
    return {mailbox_id: started for mailbox_id, started in rows if started is not None}


def response_rate(
    db: Session, *, mailbox_id: int, since: datetime, now: datetime
) -> tuple[int, int]:
    """(decided waits, answered in time) among waits started since ``since``; a wait is decided
    once answered or once its deadline has passed."""
    in_time = and_(
        ResponseEpisode.answered_at.is_not(None),
        ResponseEpisode.answered_at <= ResponseEpisode.due_at,
    )
    total, good = db.execute(
        select(func.count(), func.coalesce(func.sum(case((in_time, 1), else_=0)), 0)).where(
            ResponseEpisode.mailbox_id == mailbox_id,
            ResponseEpisode.started_at >= since,
            or_(ResponseEpisode.answered_at.is_not(None), ResponseEpisode.due_at <= now),
        )
    ).one()
    return int(total), int(good)


def response_time_quantile(
    db: Session, *, mailbox_id: int, since: datetime, quantile: float
) -> float | None:
    """The ``quantile`` of first-response seconds of waits answered since ``since``."""
    answered = (
        ResponseEpisode.mailbox_id == mailbox_id,
        ResponseEpisode.started_at >= since,
        ResponseEpisode.response_seconds.is_not(None),
    )
    count = db.scalar(select(func.count()).where(*answered)) or 0
    if not count:
        return None
    rank = max(math.ceil(quantile * count) - 1, 0)
    return db.scalar(
        select(ResponseEpisode.response_seconds)
        .where(*answered)
        .order_by(ResponseEpisode.response_seconds)
        .offset(rank)
        .limit(1)
    )


def due_for_sweep(db: Session, *, now: datetime, limit: int) -> list[Thread]:
    """Threads whose SLA level may have changed, locked so two sweeps never take the same one."""
    return list(
        db.scalars(
            select(Thread)
            .where(Thread.next_transition_at <= now)
            .order_by(Thread.next_transition_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def transition_exists(
    db: Session, *, thread_id: int, clock_started_at: datetime, to_level: str
) -> bool:
    found = db.scalar(
        select(ThreadTransition.id).where(
            ThreadTransition.thread_id == thread_id,
            ThreadTransition.clock_started_at == clock_started_at,
            ThreadTransition.to_level == to_level,
        )
    )
    return found is not None
