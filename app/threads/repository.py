"""All queries that find threads and the messages they hold."""

from collections.abc import Collection, Mapping, Sequence
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
from sqlalchemy.sql.elements import SQLCoreOperations

from app.db import dialect_insert, insert_returning_ids, insert_rows
from app.enums import Classification, FolderRole, ThreadKind
from app.models import (
    HourlyActivity,
    Message,
    MessageRaw,
    ResponseEpisode,
    Thread,
    ThreadTally,
)
from app.sla import WAITING_STATES, ThreadState

SelectT = TypeVar("SelectT", bound=Select[Any])


def stored_message_threads(
    db: Session, *, mailbox_id: int, message_ids: Collection[str]
) -> list[tuple[str, datetime, int]]:
    """(Message-ID, arrival, thread id) of the stored messages among ``message_ids``."""
    if not message_ids:
        return []
    rows = db.execute(
        select(Message.message_id_header, Message.received_at, Message.thread_id).where(
            Message.mailbox_id == mailbox_id,
            Message.message_id_header.in_(message_ids),
            Message.thread_id.is_not(None),
        )
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def threads_by_ids(db: Session, thread_ids: Collection[int]) -> list[Thread]:
    if not thread_ids:
        return []
    return list(db.scalars(select(Thread).where(Thread.id.in_(thread_ids))))


def threads_by_orders(
    db: Session, *, mailbox_id: int, order_numbers: Collection[str]
) -> list[Thread]:
    """Every thread of the mailbox about one of the orders."""
    if not order_numbers:
        return []
    return list(
        db.scalars(
            select(Thread).where(
                Thread.mailbox_id == mailbox_id, Thread.order_number.in_(order_numbers)
            )
        )
    )


def threads_by_counterparts(
    db: Session,
    *,
    mailbox_id: int,
    counterparts: Collection[str],
    normalized_subjects: Collection[str],
    since: datetime,
) -> list[Thread]:
    """Recent threads with one of the counterparts and one of the subjects (a superset of the
    pairs wanted, found through the (mailbox, counterpart) index)."""
    if not counterparts or not normalized_subjects:
        return []
    return list(
        db.scalars(
            select(Thread).where(
                Thread.mailbox_id == mailbox_id,
                Thread.counterpart.in_(counterparts),
                Thread.normalized_subject.in_(normalized_subjects),
                Thread.last_message_at >= since,
            )
        )
    )


def message_facts(
    db: Session, thread_ids: Collection[int]
) -> list[tuple[int, datetime, datetime, Classification, FolderRole, str | None, str | None]]:
    """(thread id, received_at, stored_at, classification, folder, from_address, order_number)
    of every message of the threads, oldest first: what a thread's summary is made of."""
    if not thread_ids:
        return []
    rows = db.execute(
        select(
            Message.thread_id,
            Message.received_at,
            Message.stored_at,
            Message.classification,
            Message.folder,
            Message.from_address,
            Message.order_number,
        )
        .where(Message.thread_id.in_(thread_ids))
        .order_by(Message.received_at, Message.id)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


def insert_threads(db: Session, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert threads in multi-row statements; their ids, in the order of ``rows``."""
    return insert_returning_ids(db, Thread, rows)


def add_thread(db: Session, thread: Thread) -> None:
    db.add(thread)
    db.flush()


def insert_episodes(db: Session, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(db, ResponseEpisode, rows)


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


def episodes_of_thread(db: Session, thread_id: int) -> list[ResponseEpisode]:
    return list(
        db.scalars(
            select(ResponseEpisode)
            .where(ResponseEpisode.thread_id == thread_id)
            .order_by(ResponseEpisode.started_at)
        )
    )


def delete_episodes(db: Session, thread_ids: Collection[int]) -> None:
    if thread_ids:
        db.execute(delete(ResponseEpisode).where(ResponseEpisode.thread_id.in_(thread_ids)))


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

    @property
    def cancellations_first(self) -> bool:
        """A queue (some waiting state asked for) lists cancellation requests first."""
        return any(s in WAITING_STATES for s in self.states)


# A cancellation request waiting for the seller, whatever the thread's own clock says.
_CANCEL_PENDING = and_(Thread.cancel_due_at.is_not(None), Thread.closed_at.is_(None))


def _filtered(query: SelectT, f: ThreadFilter) -> SelectT:
    if f.kinds:
        query = query.where(Thread.kind.in_(f.kinds))
    if f.mailbox_ids is not None:
        query = query.where(Thread.mailbox_id.in_(f.mailbox_ids))
    if f.text:
        # autoescape: a % or _ typed in the search box is looked for, not a wildcard.
        text = f.text.lower()
        buyer_named = (
            select(Message.id)
            .where(
                Message.thread_id == Thread.id,
                Message.classification == Classification.CUSTOMER,
                func.lower(Message.from_name).contains(text, autoescape=True),
            )
            .exists()
        )
        query = query.where(
            or_(
                func.lower(Thread.subject).contains(text, autoescape=True),
                func.lower(Thread.counterpart).contains(text, autoescape=True),
                Thread.order_number.contains(text, autoescape=True),
                buyer_named,
            )
        )
    return query


def _with_running_clock(f: ThreadFilter, now: datetime) -> Select[Thread] | None:
    """Threads in the filter's waiting states (None when it asks for none of them)."""
    states = [s for s in f.states if s in WAITING_STATES]
    if not states:
        return None
    query = select(Thread).where(Thread.due_at.is_not(None))
    return _filtered(query.where(or_(*(_state_condition(s, now) for s in states))), f)


def threads_with_deadline(
    db: Session, f: ThreadFilter, *, now: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[Thread]:
    """Waiting threads in the requested states, soonest deadline first (walks the due_at index)."""
    query = _with_running_clock(f, now)
    if query is None:
        return []
    if after is not None:
        due, thread_id = after
        query = query.where(
            or_(Thread.due_at > due, and_(Thread.due_at == due, Thread.id > thread_id))
        )
    if f.cancellations_first:
        query = query.where(~_CANCEL_PENDING)
    return list(db.scalars(query.order_by(Thread.due_at, Thread.id).limit(limit)))


def threads_with_cancel_request(
    db: Session, f: ThreadFilter, *, after: tuple[datetime, int] | None, limit: int
) -> list[Thread]:
    """Threads whose order the customer asked to cancel, the request's deadline soonest first:
    a queue lists them before any other (the lists above leave them out)."""
    query = select(Thread).where(_CANCEL_PENDING)
    if after is not None:
        due, thread_id = after
        query = query.where(
            or_(
                Thread.cancel_due_at > due, and_(Thread.cancel_due_at == due, Thread.id > thread_id)
            )
        )
    query = _filtered(query, f).order_by(Thread.cancel_due_at, Thread.id).limit(limit)
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
    if f.cancellations_first:
        query = query.where(~_CANCEL_PENDING)
    query = _filtered(query, f).order_by(Thread.id.desc()).limit(limit)
    return list(db.scalars(query))


def queue(db: Session, f: ThreadFilter, *, now: datetime, limit: int) -> list[Thread]:
    """The agent's queue: cancellation requests first, then threads with a running clock, most
    urgent first; then, when the filter asks for other states too, those newest first. The
    queue's order is decided here alone."""
    threads = (
        threads_with_cancel_request(db, f, after=None, limit=limit) if f.cancellations_first else []
    )
    if len(threads) < limit:
        threads += threads_with_deadline(db, f, now=now, after=None, limit=limit - len(threads))
    if len(threads) < limit:
        threads += threads_without_deadline(
            db, f, now=now, before_id=None, limit=limit - len(threads)
        )
    return threads


def waiting_counts(db: Session, f: ThreadFilter, *, now: datetime) -> dict[ThreadState, int]:
    """How many threads wait, by waiting state, among those the filter's mailboxes, kinds and
    text select (whatever states it asks for: the count says what waits)."""
    running = select(Thread).where(Thread.due_at.is_not(None), Thread.closed_at.is_(None))
    clocks = _filtered(running, f).subquery()
    state = _clock_state(clocks.c.due_at, clocks.c.at_risk_at, now)
    counts = dict.fromkeys(WAITING_STATES, 0)
    counts.update(
        {ThreadState(s): n for s, n in db.execute(select(state, func.count()).group_by(state))}
    )
    return counts


def _clock_state(
    due_at: SQLCoreOperations[datetime | None],
    at_risk_at: SQLCoreOperations[datetime | None],
    now: datetime,
) -> ColumnElement[Any]:
    """The waiting state of a running clock, in SQL."""
    return case(
        (due_at <= now, ThreadState.OVERDUE.value),
        (at_risk_at <= now, ThreadState.AT_RISK.value),
        else_=ThreadState.WAITING.value,
    )


# Enough of a message's text to find its topic in; the rest is history the customer quoted.
TEXT_HEAD = 4000


def latest_customer_messages(
    db: Session, thread_ids: Collection[int]
) -> dict[int, tuple[str | None, str, str]]:
    """(sender's display name, subject, first TEXT_HEAD characters of the text) of each thread's
    latest message from its customer, by thread id; threads without one are left out."""
    if not thread_ids:
        return {}
    newest_first = func.row_number().over(
        partition_by=Message.thread_id, order_by=(Message.received_at.desc(), Message.id.desc())
    )
    ranked = (
        select(
            Message.thread_id,
            Message.from_name,
            Message.subject,
            func.substr(Message.body_text, 1, TEXT_HEAD).label("text"),
            newest_first.label("rank"),
        )
        .where(Message.thread_id.in_(thread_ids), Message.classification == Classification.CUSTOMER)
        .subquery()
    )
    rows = db.execute(
        select(ranked.c.thread_id, ranked.c.from_name, ranked.c.subject, ranked.c.text).where(
            ranked.c.rank == 1
        )
    )
    return {thread_id: (name, subject, text or "") for thread_id, name, subject, text in rows}


def open_clock_counts(
    db: Session, *, now: datetime
) -> list[tuple[int, ThreadKind, ThreadState, int, datetime, datetime]]:
    """(mailbox_id, kind, state, count, oldest clock start, soonest deadline) over threads with
    a running clock: a range of the due_at index, small however many threads are answered."""
    state = _clock_state(Thread.due_at, Thread.at_risk_at, now)
    rows = db.execute(
        select(
            Thread.mailbox_id,
            Thread.kind,
            state,
            func.count(),
            func.min(Thread.clock_started_at),
            func.min(Thread.due_at),
        )
        .where(Thread.due_at.is_not(None), Thread.closed_at.is_(None))
        .group_by(Thread.mailbox_id, Thread.kind, state)
    )
    return [(m, kind, ThreadState(st), n, oldest, due) for m, kind, st, n, oldest, due in rows]


def tallies(db: Session) -> list[ThreadTally]:
    return list(db.scalars(select(ThreadTally)))


def bump_tallies(db: Session, deltas: Mapping[tuple[int, ThreadKind, str], int]) -> None:
    """Add to tallies, (mailbox id, kind, bucket) -> delta, in one statement (an upsert: safe
    with concurrent writers)."""
    rows = [
        {"mailbox_id": mailbox_id, "kind": kind, "bucket": bucket, "count": delta}
        for (mailbox_id, kind, bucket), delta in deltas.items()
        if delta
    ]
    if not rows:
        return
    statement = dialect_insert(db)(ThreadTally)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["mailbox_id", "kind", "bucket"],
            set_={"count": ThreadTally.count + statement.excluded.count},
        ),
        rows,
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


def bump_activity(db: Session, counts: Mapping[tuple[int, datetime], dict[str, int]]) -> None:
    """Add to hours' message counts, (mailbox id, hour) -> counts, in one statement (an upsert:
    safe with concurrent writers)."""
    if not counts:
        return
    statement = dialect_insert(db)(HourlyActivity)
    names = ("customer_in", "replies_out", "spam_found")
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["mailbox_id", "hour"],
            set_={n: getattr(HourlyActivity, n) + getattr(statement.excluded, n) for n in names},
        ),
        [
            {"mailbox_id": mailbox_id, "hour": hour, **{n: c.get(n, 0) for n in names}}
            for (mailbox_id, hour), c in counts.items()
        ],
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
