"""All queries that find threads and the messages they hold."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.enums import ThreadKind
from app.models import (
    HourlyActivity,
    Message,
    MessageRaw,
    ResponseEpisode,
    ResponseFigures,
    Thread,
    ThreadTally,
    ThreadTransition,
)
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


# Enough for any real header section; bounded so a message with big attachments costs no more.
HEAD_BYTES = 65_536


def raw_heads_of(db: Session, thread_id: int) -> dict[int, bytes]:
    """The first HEAD_BYTES of each of the thread's raw messages, by message id: one query, never
    the whole messages."""
    rows = db.execute(
        select(MessageRaw.message_id, func.substr(MessageRaw.raw, 1, HEAD_BYTES))
        .join(Message, Message.id == MessageRaw.message_id)
        .where(Message.thread_id == thread_id)
    )
    return {message_id: bytes(head) for message_id, head in rows}


def episodes_of_mailbox(db: Session, *, mailbox_id: int, since: datetime) -> list[ResponseEpisode]:
    return list(
        db.scalars(
            select(ResponseEpisode).where(
                ResponseEpisode.mailbox_id == mailbox_id, ResponseEpisode.started_at >= since
            )
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
    mailbox_ids: frozenset[int] | None = None  # None: every mailbox
    text: str | None = None


def _filtered(query: SelectT, f: ThreadFilter) -> SelectT:
    if f.kinds:
        query = query.where(Thread.kind.in_(f.kinds))
    if f.mailbox_ids is not None:
        query = query.where(Thread.mailbox_id.in_(f.mailbox_ids))
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


def open_clock_counts(
    db: Session, *, now: datetime
) -> list[tuple[int, ThreadKind, ThreadState, int, datetime]]:
    """(mailbox_id, kind, state, count, oldest clock start) over threads with a running clock:
    a range of the due_at index, small however many threads are answered."""
    state = case(
        (Thread.due_at <= now, ThreadState.OVERDUE.value),
        (Thread.at_risk_at <= now, ThreadState.AT_RISK.value),
        else_=ThreadState.WAITING.value,
    )
    rows = db.execute(
        select(
            Thread.mailbox_id, Thread.kind, state, func.count(), func.min(Thread.clock_started_at)
        )
        .where(Thread.due_at.is_not(None), Thread.closed_at.is_(None))
        .group_by(Thread.mailbox_id, Thread.kind, state)
    )
    return [(m, kind, ThreadState(st), n, oldest) for m, kind, st, n, oldest in rows]


def tallies(db: Session) -> list[ThreadTally]:
    return list(db.scalars(select(ThreadTally)))


def bump_tally(db: Session, *, mailbox_id: int, kind: ThreadKind, bucket: str, delta: int) -> None:
    """Add ``delta`` to a tally in one statement (an upsert: safe with concurrent writers)."""
    statement = dialect_insert(db)(ThreadTally).values(
        mailbox_id=mailbox_id, kind=kind, bucket=bucket, count=delta
    )
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["mailbox_id", "kind", "bucket"],
            set_={"count": ThreadTally.count + delta},
        )
    )


def rebuild_tallies(db: Session) -> None:
    """Recount every tally from the threads themselves (after a bulk load or a manual edit)."""
    bucket = case(
        (Thread.has_customer_messages.is_(False), ThreadState.INFORMATIONAL.value),
        (Thread.closed_at.is_not(None), ThreadState.CLOSED.value),
        (Thread.due_at.is_(None), ThreadState.ANSWERED.value),
        else_="open",
    )
    db.execute(update(Thread).values(tally_kind=Thread.kind, tally_bucket=bucket))
    db.execute(delete(ThreadTally))
    db.execute(
        insert(ThreadTally).from_select(
            ["mailbox_id", "kind", "bucket", "count"],
            select(Thread.mailbox_id, Thread.kind, Thread.tally_bucket, func.count()).group_by(
                Thread.mailbox_id, Thread.kind, Thread.tally_bucket
            ),
        )
    )


def episodes_since(
    db: Session, *, mailbox_id: int, since: datetime
) -> list[tuple[datetime, datetime | None, datetime, float | None]]:
    """(started_at, answered_at, due_at, response_seconds) of a mailbox's waits since ``since``,
    read from the covering index alone."""
    rows = db.execute(
        select(
            ResponseEpisode.started_at,
            ResponseEpisode.answered_at,
            ResponseEpisode.due_at,
            ResponseEpisode.response_seconds,
        ).where(ResponseEpisode.mailbox_id == mailbox_id, ResponseEpisode.started_at >= since)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def all_figures(db: Session) -> list[ResponseFigures]:
    return list(db.scalars(select(ResponseFigures).execution_options(populate_existing=True)))


def save_figures(db: Session, values: dict[str, Any]) -> None:
    """Insert or replace one window's figures (two processes may refresh them at once)."""
    statement = dialect_insert(db)(ResponseFigures).values(**values)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["scope", "days"],
            set_={k: v for k, v in values.items() if k not in ("scope", "days")},
        )
    )


def delete_figures_except(db: Session, scopes: set[str]) -> None:
    """Drop the figures of mailboxes that are gone."""
    db.execute(delete(ResponseFigures).where(ResponseFigures.scope.not_in(scopes)))


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


def bump_activity(db: Session, *, mailbox_id: int, hour: datetime, **counts: int) -> None:
    """Add to an hour's message counts in one statement (an upsert: safe with concurrent
    writers)."""
    statement = dialect_insert(db)(HourlyActivity).values(
        mailbox_id=mailbox_id, hour=hour, **counts
    )
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["mailbox_id", "hour"],
            set_={name: getattr(HourlyActivity, name) + n for name, n in counts.items()},
        )
    )


def save_samples(db: Session, *, hour: datetime, samples: dict[int, dict[str, int]]) -> None:
    """Set each mailbox's waiting-thread sample of the hour (the latest sample wins)."""
    for mailbox_id, values in samples.items():
        statement = dialect_insert(db)(HourlyActivity).values(
            mailbox_id=mailbox_id, hour=hour, **values
        )
        db.execute(
            statement.on_conflict_do_update(index_elements=["mailbox_id", "hour"], set_=values)
        )


def activity_since(
    db: Session, *, since: datetime, mailbox_ids: frozenset[int] | None
) -> list[tuple[datetime, int, int, int, int | None, int | None, int | None]]:
    """(hour, customer_in, replies_out, spam_found, waiting, at_risk, overdue) per hour from
    ``since``, summed over the given mailboxes (None: all); samples are None where none was
    taken."""
    a = HourlyActivity
    query = select(
        a.hour,
        func.sum(a.customer_in),
        func.sum(a.replies_out),
        func.sum(a.spam_found),
        func.sum(a.waiting),
        func.sum(a.at_risk),
        func.sum(a.overdue),
    ).where(a.hour >= since)
    if mailbox_ids is not None:
        query = query.where(a.mailbox_id.in_(mailbox_ids))
    rows = db.execute(query.group_by(a.hour).order_by(a.hour))
    return [tuple(row) for row in rows]  # type: ignore[misc]
