"""Putting a batch of new messages into their conversations with a number of statements that does
not grow with the batch: one lookup each for the Message-IDs they refer to, their order numbers
and their counterparts and subjects; the threading in memory (app.threads.matching); each thread
touched summarized once; new threads, waits, tallies and hourly counts written in multi-row
statements. Nothing here commits."""

from __future__ import annotations

import bisect
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app import sla
from app.audit import service as audit
from app.enums import Classification, FolderRole, ThreadKind, ThreadSource
from app.mail.subjects import normalize_subject
from app.models import Thread
from app.sla import PolicyFor
from app.threads import outside_repository, repository
from app.threads.activity import hour_of
from app.threads.matching import (
    THREADING_WINDOW,
    Joinable,
    Joining,
    ThreadIndex,
    counterpart_of,
    referenced_ids,
)
from app.threads.summary import (
    MessageFacts,
    ThreadFacts,
    reopens,
    summarize,
    tally_bucket,
    waits,
)

SYSTEM_ACTOR = "slawatch"


class Threadable(Joining, Protocol):
    """A message about to be stored; its thread id is set here."""

    thread_id: int | None

    @property
    def complaint(self) -> bool: ...


@dataclass(slots=True)
class NewThread:
    """A thread this batch starts, inserted once its messages are in it."""

    mailbox_id: int
    kind: ThreadKind
    source: ThreadSource
    subject: str
    normalized_subject: str
    counterpart: str | None
    order_number: str | None
    message_count: int = 0
    last_message_at: datetime | None = None
    last_customer_at: datetime | None = None
    last_seller_at: datetime | None = None
    has_customer_messages: bool = False
    closed_at: datetime | None = None
    dismissed_until: datetime | None = None
    clock_started_at: datetime | None = None
    due_at: datetime | None = None
    at_risk_at: datetime | None = None
    sla_level: str | None = None
    next_transition_at: datetime | None = None
    tally_kind: ThreadKind | None = None
    tally_bucket: str | None = None
    id: int | None = None


_NEW_THREAD_COLUMNS = tuple(f.name for f in fields(NewThread) if f.name != "id")


@dataclass(frozen=True, slots=True)
class StoredFacts:
    received_at: datetime
    stored_at: datetime
    classification: Classification
    folder: FolderRole
    from_address: str | None
    order_number: str | None


class Tallied(ThreadFacts, Protocol):
    tally_kind: ThreadKind | None
    tally_bucket: str | None


class AnyThread(Tallied, Joinable, Protocol):
    """A thread stored already or one this batch starts."""

    @property
    def id(self) -> int | None: ...


def attach_batch(
    db: Session,
    messages: Sequence[Threadable],
    *,
    seller_addresses: frozenset[str],
    policy_for: PolicyFor,
) -> None:
    """Put each of ``messages`` (of one mailbox, in the order they are stored) into its thread,
    a new one if none fits, and set its ``thread_id``; keep the threads' summaries, clocks and
    waits, the tallies and the hourly counts in step."""
    if not messages:
        return
    mailbox_id = messages[0].mailbox_id
    counterparts = [counterpart_of(m, seller_addresses) for m in messages]
    index, history = _lookups(db, mailbox_id, messages, counterparts)
    members: dict[int, list[MessageFacts]] = {}  # by id() of the thread
    touched: list[AnyThread] = []
    reopened: list[Thread] = []
    thread_of: list[AnyThread] = []
    new: list[NewThread] = []
    for message, counterpart in zip(messages, counterparts, strict=True):
        thread = index.find(message, counterpart)
        if thread is None:
            thread = NewThread(
                mailbox_id=mailbox_id,
                kind=ThreadKind.CUSTOMER,
                source=ThreadSource.INBOX,
                subject=message.subject,
                normalized_subject=normalize_subject(message.subject),
                counterpart=counterpart,
                order_number=message.order_number,
            )
            index.add_thread(thread)
            new.append(thread)
        if id(thread) not in members:
            members[id(thread)] = list(history.get(thread.id, ())) if thread.id else []
            touched.append(thread)
        if message.complaint:
            thread.kind = ThreadKind.COMPLAINT
        joined = members[id(thread)]
        # After stored messages of the same instant: the order of their ids.
        joined.insert(bisect.bisect_right(joined, message.received_at, key=_arrival), message)
        summarize(thread, joined)
        if isinstance(thread, Thread) and reopens(thread, message):
            thread.closed_at, thread.closed_reason, thread.closed_by_id = None, None, None
            reopened.append(thread)
        index.joined(message, thread)
        thread_of.append(thread)
    episodes = _clocks_and_tallies(db, touched, members, policy_for)
    ids = repository.insert_threads(
        db, [{name: getattr(t, name) for name in _NEW_THREAD_COLUMNS} for t in new]
    )
    for thread, thread_id in zip(new, ids, strict=True):
        thread.id = thread_id
    for message, thread in zip(messages, thread_of, strict=True):
        message.thread_id = thread.id
    repository.delete_episodes(db, [t.id for t in touched if isinstance(t, Thread)])
    repository.insert_episodes(
        db, [episode_row(thread, wait) for thread, found in episodes for wait in found]
    )
    repository.bump_activity(db, _hourly_counts(messages))
    for thread in reopened:
        audit.record(
            db,
            actor=SYSTEM_ACTOR,
            action="thread.reopen",
            target=thread,
            detail={"reason": "new customer message"},
        )
    db.flush()


def _lookups(
    db: Session,
    mailbox_id: int,
    messages: Sequence[Threadable],
    counterparts: Sequence[str | None],
) -> tuple[ThreadIndex[AnyThread], dict[int, list[StoredFacts]]]:
    """The threads the batch may join, found in three queries, and their stored messages."""
    stored = repository.stored_message_threads(
        db, mailbox_id=mailbox_id, message_ids={r for m in messages for r in referenced_ids(m)}
    )
    found: dict[int, Thread] = {
        t.id: t for t in repository.threads_by_ids(db, {thread_id for _, _, thread_id in stored})
    }
    orders = {m.order_number for m in messages if m.order_number}
    for thread in repository.threads_by_orders(db, mailbox_id=mailbox_id, order_numbers=orders):
        found[thread.id] = thread
    subjects = {normalize_subject(m.subject) for m in messages} - {""}
    for thread in repository.threads_by_counterparts(
        db,
        mailbox_id=mailbox_id,
        counterparts={c for c in counterparts if c},
        normalized_subjects=subjects,
        since=min(m.received_at for m in messages) - THREADING_WINDOW,
    ):
        found[thread.id] = thread
    history: defaultdict[int, list[StoredFacts]] = defaultdict(list)
    for (
        thread_id,
        received,
        stored_at,
        classification,
        folder,
        sender,
        order,
    ) in repository.message_facts(db, found):
        history[thread_id].append(
            StoredFacts(received, stored_at, classification, folder, sender, order)
        )
    index = ThreadIndex[AnyThread](
        found.values(),
        [(mid, at, found[thread_id]) for mid, at, thread_id in stored if thread_id in found],
    )
    return index, history


def _arrival(message: MessageFacts) -> datetime:
    return message.received_at


def _clocks_and_tallies(
    db: Session,
    touched: Sequence[AnyThread],
    members: dict[int, list[MessageFacts]],
    policy_for: PolicyFor,
) -> list[tuple[AnyThread, list[sla.Episode]]]:
    """Each touched thread's clock and waits from all its messages and the answers given outside
    the mailbox (one query for all); the tallies moved in one statement."""
    answers = outside_repository.by_thread(db, {t.id for t in touched if t.id is not None})
    episodes = []
    deltas: Counter[tuple[int, ThreadKind, str]] = Counter()
    for thread in touched:
        found = waits(
            thread,
            members[id(thread)],
            policy_for,
            answers=answers.get(thread.id, ()) if thread.id else (),
        )
        episodes.append((thread, found))
        move_tally(thread, deltas)
    repository.bump_tallies(db, deltas)
    return episodes


def move_tally(thread: Tallied, deltas: Counter[tuple[int, ThreadKind, str]]) -> None:
    """Move the thread's count to the tally it belongs in now (noted in ``deltas``)."""
    bucket = tally_bucket(thread)
    if (thread.tally_kind, thread.tally_bucket) == (thread.kind, bucket):
        return
    if thread.tally_kind is not None and thread.tally_bucket is not None:
        deltas[(thread.mailbox_id, thread.tally_kind, thread.tally_bucket)] -= 1
    deltas[(thread.mailbox_id, thread.kind, bucket)] += 1
    thread.tally_kind, thread.tally_bucket = thread.kind, bucket


def episode_row(thread: AnyThread, wait: sla.Episode) -> dict[str, Any]:
    """The response_episodes row of one of the thread's waits."""
    return {
        "thread_id": thread.id,
        "mailbox_id": thread.mailbox_id,
        "kind": thread.kind,
        "started_at": wait.started_at,
        "due_at": wait.due_at,
        "answered_at": wait.answered_at,
        "response_seconds": (
            (wait.answered_at - wait.started_at).total_seconds() if wait.answered_at else None
        ),
        "answered_channel": wait.answered_channel,
    }


def _hourly_counts(messages: Sequence[Threadable]) -> dict[tuple[int, datetime], dict[str, int]]:
    """Messages in and out by arrival hour, for the status page's charts."""
    counts: defaultdict[tuple[int, datetime], Counter[str]] = defaultdict(Counter)
    for m in messages:
        key = (m.mailbox_id, hour_of(m.received_at))
        counts[key]["customer_in"] += m.classification in sla.CLOCK_STARTERS
        counts[key]["replies_out"] += m.classification == Classification.SELLER
        counts[key]["spam_found"] += m.folder == FolderRole.SPAM
    return {key: dict(c) for key, c in counts.items() if any(c.values())}
