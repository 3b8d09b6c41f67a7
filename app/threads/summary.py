"""A thread's summary, waits and running clock from all its messages: pure, so one message stored,
a whole batch, or a person closing a thread all come to the same thread."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from app import sla
from app.enums import Classification, FolderRole, ThreadKind, ThreadSource
from app.sla import PolicyFor, ThreadState

OPEN_BUCKET = "open"  # a running clock: split live into waiting, at risk and overdue


class MessageFacts(Protocol):
    """What the summary reads of a message (a stored row or one about to be)."""

    @property
    def received_at(self) -> datetime: ...
    @property
    def stored_at(self) -> datetime: ...
    @property
    def classification(self) -> Classification: ...
    @property
    def folder(self) -> FolderRole: ...
    @property
    def from_address(self) -> str | None: ...
    @property
    def order_number(self) -> str | None: ...


class AnswerFacts(Protocol):
    """What the clock reads of an answer given outside the mailbox (app.models.OutsideAnswer)."""

    @property
    def answered_at(self) -> datetime: ...
    @property
    def channel(self) -> str: ...


class ThreadFacts(Protocol):
    """The thread fields the summary sets (a Thread row, or one about to be inserted)."""

    mailbox_id: int
    kind: ThreadKind
    source: ThreadSource
    counterpart: str | None
    order_number: str | None
    message_count: int
    last_message_at: datetime | None
    last_customer_at: datetime | None
    last_seller_at: datetime | None
    has_customer_messages: bool
    closed_at: datetime | None
    dismissed_until: datetime | None
    clock_started_at: datetime | None
    due_at: datetime | None
    at_risk_at: datetime | None
    sla_level: str | None
    next_transition_at: datetime | None


def summarize(thread: ThreadFacts, messages: Sequence[MessageFacts]) -> None:
    """Set the thread's summary fields from all its messages, oldest first."""
    waiting_on = [m for m in messages if m.classification in sla.CLOCK_STARTERS]
    replies = [m for m in messages if m.classification == Classification.SELLER]
    thread.message_count = len(messages)
    thread.last_message_at = messages[-1].received_at if messages else None
    thread.last_customer_at = waiting_on[-1].received_at if waiting_on else None
    thread.last_seller_at = replies[-1].received_at if replies else None
    thread.has_customer_messages = bool(waiting_on)
    thread.source = (
        ThreadSource.SPAM
        if any(m.folder == FolderRole.SPAM for m in waiting_on)
        else ThreadSource.INBOX
    )
    if thread.kind != ThreadKind.COMPLAINT:  # a complaint stays one
        escalated = any(m.classification == Classification.ESCALATION for m in waiting_on)
        thread.kind = ThreadKind.ESCALATION if escalated else ThreadKind.CUSTOMER
    if waiting_on and waiting_on[0].from_address:
        thread.counterpart = waiting_on[0].from_address
    thread.order_number = thread.order_number or next(
        (m.order_number for m in messages if m.order_number), None
    )


def waits(
    thread: ThreadFacts,
    messages: Sequence[MessageFacts],
    policy_for: PolicyFor,
    *,
    answers: Sequence[AnswerFacts] = (),
) -> list[sla.Episode]:
    """The thread's waits, oldest first, answered by seller messages and by ``answers`` given
    outside the mailbox; sets its running clock (none while it is closed).

    Customer messages dismissed when a person closed the thread start no clock: a customer who
    writes again starts a new one. Whether their waits count in the rate is the marketplace's
    rule: Amazon's "no response needed" removes them; Walmart ("all messages require a
    response") still counts them, answered by a later reply if one comes, else missed once
    their deadline passes."""
    policy = policy_for(thread.kind)
    dismissed_until = thread.dismissed_until

    def dismissed(m: MessageFacts) -> bool:
        return (
            dismissed_until is not None
            and m.classification in sla.CLOCK_STARTERS
            and m.stored_at <= dismissed_until
        )

    outside = [sla.ClockMessage(a.answered_at, Classification.SELLER, a.channel) for a in answers]
    found = sla.episodes(
        [sla.ClockMessage(m.received_at, m.classification) for m in messages if not dismissed(m)]
        + outside,
        policy,
    )
    _set_clock(thread, None if thread.closed_at else sla.running_clock(found, policy))
    if dismissed_until is None or not policy_for.close_counts_in_rate:
        return found
    closed = sla.episodes(
        [
            sla.ClockMessage(m.received_at, m.classification)
            for m in messages
            if dismissed(m) or m.classification == Classification.SELLER
        ]
        + outside,
        policy,
    )
    return sorted(found + closed, key=lambda e: e.started_at)


def _set_clock(thread: ThreadFacts, clock: sla.Clock | None) -> None:
    if clock is None:
        thread.clock_started_at = thread.due_at = thread.at_risk_at = None
        thread.sla_level = thread.next_transition_at = None
        return
    if clock.started_at != thread.clock_started_at:
        # A new wait: the sweep looks at it at once and records the level it is at.
        thread.sla_level = None
        thread.next_transition_at = clock.started_at
    thread.clock_started_at = clock.started_at
    thread.due_at = clock.due_at
    thread.at_risk_at = clock.at_risk_at


def tally_bucket(thread: ThreadFacts) -> str:
    """The thread_tallies bucket the thread is counted in."""
    if not thread.has_customer_messages:
        return ThreadState.INFORMATIONAL.value
    if thread.closed_at is not None:
        return ThreadState.CLOSED.value
    if thread.due_at is None:
        return ThreadState.ANSWERED.value
    return OPEN_BUCKET


def reopens(thread: ThreadFacts, message: MessageFacts) -> bool:
    """A customer message the person closing the thread had not seen reopens it."""
    return (
        thread.closed_at is not None
        and message.classification in sla.CLOCK_STARTERS
        and message.stored_at > thread.closed_at
    )
