from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, Field

from app.clock import now
from app.deps import AgentUser, OrderReadsDep, SessionDep, SettingsDep, ViewerUser
from app.enums import AnswerChannel, Classification, FolderRole, ThreadKind, ThreadSource
from app.http_errors import errors
from app.ids import RowId
from app.mail.quoting import trim_quoted_history
from app.mailboxes import repository as mailbox_repository
from app.models import Message, OutsideAnswer, ResponseEpisode, Thread
from app.sla import ThreadState, WaitOutcome, wait_outcome
from app.threads import outside_repository, queries, repository, service
from app.threads.filter_params import ThreadFilterDep
from app.walmart.opening import order_context
from app.walmart.views import OrderEventOut, OrderOut, order_events_out, order_out

router = APIRouter(prefix="/api/v1", tags=["threads"])


class ThreadOut(BaseModel):
    id: int
    mailbox: str
    subject: str
    counterpart: str | None
    order_number: str | None
    kind: ThreadKind
    state: ThreadState
    source: ThreadSource
    clock_started_at: datetime | None
    due_at: datetime | None
    time_left_seconds: int | None = Field(description="negative when overdue")
    last_customer_at: datetime | None
    last_seller_at: datetime | None
    message_count: int
    closed_at: datetime | None
    closed_reason: str | None
    cancel_requested_at: datetime | None = Field(
        description="the customer asked Walmart to cancel the order: the queue lists the "
        "thread first until the line is cancelled or the thread closed"
    )
    cancel_due_at: datetime | None = Field(description="the request's deadline, [sla.cancellation]")


class ThreadPageOut(BaseModel):
    items: list[ThreadOut]
    next_cursor: str | None


class MessageOut(BaseModel):
    id: int
    direction: str = Field(description="'in' from the customer or Walmart, 'out' from the seller")
    from_address: str | None
    from_name: str | None
    to: list[str]
    subject: str
    received_at: datetime
    folder: FolderRole
    classification: Classification
    classification_reason: str
    text: str = Field(description="plain text with quoted history trimmed; never HTML")
    full_text: str
    attachment_names: list[str]
    parse_problems: list[str]


class WaitOut(BaseModel):
    started_at: datetime
    due_at: datetime
    answered_at: datetime | None
    answered_channel: AnswerChannel | None = Field(
        description="where it was answered outside the mailbox; null: by mail, or not answered"
    )
    outcome: WaitOutcome = Field(description="how it counts in the response rate now")


class OutsideAnswerOut(BaseModel):
    channel: AnswerChannel
    answered_at: datetime
    note: str | None
    recorded_by: str | None
    recorded_at: datetime


class ThreadDetailOut(ThreadOut):
    messages: list[MessageOut]
    order: OrderOut | None = Field(
        description="the order read from Walmart's Marketplace API (a copy at most a few "
        "minutes old, or older with its fetched_at when Walmart is slow)"
    )
    order_error: str | None = Field(
        description="why there is no order: no order number, no credentials, not found, "
        "Walmart unreachable"
    )
    order_events: list[OrderEventOut] = Field(
        description="what Walmart reported about the order's lines (cancellation requests, "
        "automatic and fraud cancellations), oldest first"
    )
    waits: list[WaitOut] = Field(description="the waits counted in the response rate, oldest first")
    outside_answers: list[OutsideAnswerOut] = Field(
        description="answers given where the mailbox never sees them (Seller Center, the phone)"
    )
    close_counts_in_rate: bool = Field(
        description="closing as no response needed still counts the wait in the response rate "
        "(Walmart: all messages require a response); false: closing removes it (Amazon)"
    )


class CloseIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="why no response is needed")


class AnsweredElsewhereIn(BaseModel):
    channel: AnswerChannel = Field(description="where the customer was answered")
    answered_at: AwareDatetime | None = Field(
        default=None, description="when (default now): not in the future, not before the wait"
    )
    note: str | None = Field(default=None, max_length=service.MAX_NOTE)


def _thread_out(thread: Thread, mailbox_name: str, at: datetime) -> ThreadOut:
    return ThreadOut(
        id=thread.id,
        mailbox=mailbox_name,
        subject=thread.subject,
        counterpart=thread.counterpart,
        order_number=thread.order_number,
        kind=thread.kind,
        state=queries.state_of(thread, at),
        source=thread.source,
        clock_started_at=thread.clock_started_at,
        due_at=thread.due_at,
        time_left_seconds=int((thread.due_at - at).total_seconds()) if thread.due_at else None,
        last_customer_at=thread.last_customer_at,
        last_seller_at=thread.last_seller_at,
        message_count=thread.message_count,
        closed_at=thread.closed_at,
        closed_reason=thread.closed_reason,
        cancel_requested_at=thread.cancel_requested_at,
        cancel_due_at=thread.cancel_due_at,
    )


def _message_out(message: Message) -> MessageOut:
    return MessageOut(
        id=message.id,
        direction="out" if message.classification == Classification.SELLER else "in",
        from_address=message.from_address,
        from_name=message.from_name,
        to=message.to_addresses,
        subject=message.subject,
        received_at=message.received_at,
        folder=message.folder,
        classification=message.classification,
        classification_reason=message.classification_reason,
        text=trim_quoted_history(message.body_text),
        full_text=message.body_text,
        attachment_names=message.attachment_names,
        parse_problems=message.parse_problems,
    )


def _wait_out(episode: ResponseEpisode, at: datetime) -> WaitOut:
    return WaitOut(
        started_at=episode.started_at,
        due_at=episode.due_at,
        answered_at=episode.answered_at,
        answered_channel=episode.answered_channel,
        outcome=wait_outcome(due_at=episode.due_at, answered_at=episode.answered_at, now=at),
    )


def _outside_out(answer: OutsideAnswer, recorded_by: str | None) -> OutsideAnswerOut:
    return OutsideAnswerOut(
        channel=answer.channel,
        answered_at=answer.answered_at,
        note=answer.note,
        recorded_by=recorded_by,
        recorded_at=answer.recorded_at,
    )


def _names(db: SessionDep) -> dict[int, str]:
    return {m.id: m.name for m in mailbox_repository.list_mailboxes(db)}


@router.get("/threads")
def list_threads(
    db: SessionDep,
    _: ViewerUser,
    f: ThreadFilterDep,
    limit: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> ThreadPageOut:
    """Threads by deadline, soonest first (then those without one, newest first). Without
    `state`, the three waiting states: overdue, at_risk, waiting; such a queue lists first the
    threads whose order the customer asked to cancel (`cancel_due_at` soonest first).
    `mailbox` and `client` narrow them to one mailbox or to a client's mailboxes."""
    names = _names(db)
    at = now()
    page = queries.page_of_threads(db, f, limit=limit, cursor=cursor, now=at)
    return ThreadPageOut(
        items=[_thread_out(t, names[t.mailbox_id], at) for t in page.threads],
        next_cursor=page.next_cursor,
    )


@router.get("/threads/{thread_id}")
def get_thread(
    thread_id: RowId,
    db: SessionDep,
    _: ViewerUser,
    settings: SettingsDep,
    reads: OrderReadsDep,
) -> ThreadDetailOut:
    """A thread and its messages, oldest first, its waits and how each counts in the response
    rate, and the answers given outside the mailbox. Message text is plain text, never HTML.
    With the order it is about from Walmart's Marketplace API (`order`), or why not
    (`order_error`): a copy older than a few minutes is read again, waiting at most 3 seconds."""
    thread = service.get_thread(db, thread_id)
    at = now()
    messages = [_message_out(m) for m in repository.messages_of(db, thread.id)]
    waits = [_wait_out(e, at) for e in repository.episodes_of_thread(db, thread.id)]
    outside = [_outside_out(a, name) for a, name in outside_repository.of_thread(db, thread.id)]
    summary = _thread_out(thread, _names(db)[thread.mailbox_id], at)
    context = order_context(db, settings, thread, reads=reads)
    return ThreadDetailOut(
        **summary.model_dump(),
        messages=messages,
        order=order_out(context),
        order_error=context.error,
        order_events=order_events_out(db, thread, context),
        waits=waits,
        outside_answers=outside,
        close_counts_in_rate=service.policy_for_thread(db, settings, thread).close_counts_in_rate,
    )


@dataclass(frozen=True)
class ThreadToChange:
    """A thread an agent changes (closes, reopens, marks a complaint), with the policies of its
    mailbox's marketplace, which its clock is computed again under."""

    thread: Thread
    policy_for: service.PolicyFor


def thread_to_change(thread_id: RowId, db: SessionDep, settings: SettingsDep) -> ThreadToChange:
    thread = service.get_thread(db, thread_id)
    return ThreadToChange(thread=thread, policy_for=service.policy_for_thread(db, settings, thread))


# Declared after the user in each route: who may change a thread is checked before it is loaded.
ThreadToChangeDep = Annotated[ThreadToChange, Depends(thread_to_change)]


@router.post("/threads/{thread_id}/close", responses=errors(409))
def close_thread(
    body: CloseIn, db: SessionDep, user: AgentUser, target: ThreadToChangeDep
) -> ThreadOut:
    """Close as "no response needed" (agent); the reason is kept in the audit log. A new customer
    message reopens the thread. Whether the wait still counts in the response rate is the
    marketplace's rule (`close_counts_in_rate` on the thread): Walmart counts it, missed once
    its deadline passes; Amazon's policy removes it."""
    thread = target.thread
    service.close(db, thread=thread, user=user, reason=body.reason, policy_for=target.policy_for)
    return _thread_out(thread, _names(db)[thread.mailbox_id], now())


@router.post("/threads/{thread_id}/answered-elsewhere", responses=errors(409))
def answered_elsewhere(
    body: AnsweredElsewhereIn, db: SessionDep, user: AgentUser, target: ThreadToChangeDep
) -> ThreadOut:
    """Record that the customer was answered where the mailbox never sees it (agent): in Walmart
    Seller Center's inbox, by phone, or otherwise. The thread's wait is answered at `answered_at`
    (default now) as by a seller's reply, in time or late by then; audited. 409 when the thread
    is not waiting for an answer."""
    thread = target.thread
    service.answer_elsewhere(
        db,
        thread=thread,
        user=user,
        channel=body.channel,
        answered_at=body.answered_at,
        note=body.note,
        policy_for=target.policy_for,
    )
    return _thread_out(thread, _names(db)[thread.mailbox_id], now())


@router.post("/threads/{thread_id}/reopen", responses=errors(409))
def reopen_thread(db: SessionDep, user: AgentUser, target: ThreadToChangeDep) -> ThreadOut:
    thread = target.thread
    service.reopen(db, thread=thread, user=user, policy_for=target.policy_for)
    return _thread_out(thread, _names(db)[thread.mailbox_id], now())


@router.post("/threads/{thread_id}/complaint", responses=errors(409))
def mark_complaint(db: SessionDep, user: AgentUser, target: ThreadToChangeDep) -> ThreadOut:
    """Mark a Better Business Bureau or Attorney General complaint (agent): 1 hour to respond."""
    thread = target.thread
    service.mark_complaint(db, thread=thread, user=user, policy_for=target.policy_for)
    return _thread_out(thread, _names(db)[thread.mailbox_id], now())
