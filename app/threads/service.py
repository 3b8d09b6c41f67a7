"""Putting each stored message into its conversation, and keeping the thread's summary current."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app import sla
from app.audit import service as audit
from app.clock import now
from app.config import KindPolicy, Settings
from app.enums import Classification, FolderRole, ThreadKind, ThreadSource
from app.errors import Conflict, HttpError, NotFound
from app.mail.subjects import normalize_subject
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.models import Message, ResponseEpisode, Thread, User
from app.sla import PolicyFor, ThreadState, policy_lookup
from app.threads import activity, repository

SYSTEM_ACTOR = "slawatch"
OPEN_BUCKET = "open"  # a running clock: split live into waiting, at risk and overdue

# Without headers, a message joins a thread with the same counterpart and subject only this recent.
THREADING_WINDOW = timedelta(days=30)


def counterpart_of(message: Message, seller_addresses: frozenset[str]) -> str | None:
    """Who the seller talks to: the sender of incoming mail, else the first other recipient."""
    if message.classification == Classification.SELLER:
        return next((a for a in message.to_addresses if a not in seller_addresses), None)
    return message.from_address


def _find_thread(db: Session, message: Message, counterpart: str | None) -> Thread | None:
    # 1. Headers: the reply names its parent.
    referenced = [m for m in [message.in_reply_to, *reversed(message.references)] if m]
    thread_id = repository.thread_of_message_ids(
        db, mailbox_id=message.mailbox_id, message_ids=referenced
    )
    if thread_id is not None:
        return db.get(Thread, thread_id)
    # Notices and bounces join a conversation only through headers, never by guesswork.
    if message.classification == Classification.AUTOMATED:
        return None
    since = message.received_at - THREADING_WINDOW
    # 2. The same order (Walmart relay mail may carry no reply headers at all).
    if message.order_number:
        thread = repository.thread_by_order(
            db,
            mailbox_id=message.mailbox_id,
            order_number=message.order_number,
            counterpart=counterpart,
            since=since,
        )
        if thread:
            return thread
    # 3. The same counterpart and subject, recently.
    subject = normalize_subject(message.subject)
    if counterpart and subject:
        return repository.thread_by_subject(
            db,
            mailbox_id=message.mailbox_id,
            counterpart=counterpart,
            normalized_subject=subject,
            since=since,
        )
    return None


def policy_for_thread(db: Session, settings: Settings, thread: Thread) -> PolicyFor:
    """The policies of the marketplace the thread's mailbox sells on."""
    name = mailbox_repository.get_mailbox(db, thread.mailbox_id).name
    return policy_lookup(settings.sla, registry.marketplace_of(db, settings, name))


def attach(
    db: Session,
    *,
    message: Message,
    complaint: bool,
    seller_addresses: frozenset[str],
    policy_for: PolicyFor,
) -> Thread:
    """Put a flushed message into its thread (a new one if none fits), update the thread and
    count the message in its hour's activity."""
    counterpart = counterpart_of(message, seller_addresses)
    thread = _find_thread(db, message, counterpart)
    is_new = thread is None
    if thread is None:
        thread = Thread(
            mailbox_id=message.mailbox_id,
            kind=ThreadKind.CUSTOMER,
            source=ThreadSource.INBOX,
            subject=message.subject,
            normalized_subject=normalize_subject(message.subject),
            counterpart=counterpart,
            order_number=message.order_number,
        )
        db.add(thread)
        db.flush()
    message.thread_id = thread.id
    if complaint:
        thread.kind = ThreadKind.COMPLAINT
    if is_new:
        messages = [message]
    else:
        db.flush()
        messages = repository.messages_of(db, thread.id)
    _summarize(thread, messages)
    # A customer message the person closing the thread had not seen reopens it.
    if (
        thread.closed_at
        and message.classification in sla.CLOCK_STARTERS
        and message.stored_at > thread.closed_at
    ):
        thread.closed_at, thread.closed_reason, thread.closed_by_id = None, None, None
        audit.record(
            db,
            actor=SYSTEM_ACTOR,
            action="thread.reopen",
            target=thread,
            detail={"reason": "new customer message"},
        )
    _update_clock(db, thread, messages, policy_for(thread.kind), replace_episodes=not is_new)
    activity.count_message(db, message)
    return thread


def _summarize(thread: Thread, messages: list[Message]) -> None:
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


def _update_clock(
    db: Session,
    thread: Thread,
    messages: list[Message],
    policy: KindPolicy,
    *,
    replace_episodes: bool,
) -> None:
    dismissed = thread.dismissed_until
    waits = sla.episodes(
        [
            sla.ClockMessage(m.received_at, m.classification)
            for m in messages
            if not (
                dismissed and m.classification in sla.CLOCK_STARTERS and m.stored_at <= dismissed
            )
        ],
        policy,
    )
    if replace_episodes:
        repository.delete_episodes(db, thread.id)
    db.add_all(
        ResponseEpisode(
            thread_id=thread.id,
            mailbox_id=thread.mailbox_id,
            kind=thread.kind,
            started_at=wait.started_at,
            due_at=wait.due_at,
            answered_at=wait.answered_at,
            response_seconds=(
                (wait.answered_at - wait.started_at).total_seconds() if wait.answered_at else None
            ),
        )
        for wait in waits
    )
    _set_clock(thread, None if thread.closed_at else sla.running_clock(waits, policy))
    _retally(db, thread)


def tally_bucket(thread: Thread) -> str:
    if not thread.has_customer_messages:
        return ThreadState.INFORMATIONAL.value
    if thread.closed_at is not None:
        return ThreadState.CLOSED.value
    if thread.due_at is None:
        return ThreadState.ANSWERED.value
    return OPEN_BUCKET


def _retally(db: Session, thread: Thread) -> None:
    """Move the thread's count to the tally it belongs in now, in the same transaction."""
    bucket = tally_bucket(thread)
    if (thread.tally_kind, thread.tally_bucket) == (thread.kind, bucket):
        return
    if thread.tally_kind is not None and thread.tally_bucket is not None:
        repository.bump_tally(
            db,
            mailbox_id=thread.mailbox_id,
            kind=thread.tally_kind,
            bucket=thread.tally_bucket,
            delta=-1,
        )
    repository.bump_tally(
        db, mailbox_id=thread.mailbox_id, kind=thread.kind, bucket=bucket, delta=1
    )
    thread.tally_kind, thread.tally_bucket = thread.kind, bucket


def _set_clock(thread: Thread, clock: sla.Clock | None) -> None:
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


def recompute(db: Session, thread: Thread, policy_for: PolicyFor) -> None:
    """Recompute the clock from the stored messages (after close, reopen or a kind change)."""
    messages = repository.messages_of(db, thread.id)
    _summarize(thread, messages)
    _update_clock(db, thread, messages, policy_for(thread.kind), replace_episodes=True)


def get_thread(db: Session, thread_id: int) -> Thread:
    thread = db.get(Thread, thread_id)
    if thread is None:
        raise NotFound(f"no thread with id {thread_id}")
    return thread


def close(db: Session, *, thread: Thread, user: User, reason: str, policy_for: PolicyFor) -> None:
    """A person decides no response is needed; only with a reason, which the audit log keeps."""
    reason = reason.strip()
    if not reason:
        raise HttpError(
            "closing a thread needs a reason (why no response is needed)", status_code=422
        )
    if thread.closed_at is not None:
        raise Conflict(f"thread {thread.id} is already closed")
    thread.closed_at, thread.closed_reason, thread.closed_by_id = now(), reason, user.id
    thread.dismissed_until = thread.closed_at
    recompute(db, thread, policy_for)
    audit.record(db, actor=user, action="thread.close", target=thread, detail={"reason": reason})


def reopen(db: Session, *, thread: Thread, user: User, policy_for: PolicyFor) -> None:
    if thread.closed_at is None:
        raise Conflict(f"thread {thread.id} is not closed")
    # A person reopening means the dismissed messages do need an answer after all.
    thread.closed_at, thread.closed_reason, thread.closed_by_id = None, None, None
    thread.dismissed_until = None
    recompute(db, thread, policy_for)
    audit.record(db, actor=user, action="thread.reopen", target=thread)


def mark_complaint(db: Session, *, thread: Thread, user: User, policy_for: PolicyFor) -> None:
    """A BBB or Attorney General complaint: Walmart allows 1 hour from its arrival."""
    if thread.kind == ThreadKind.COMPLAINT:
        raise Conflict(f"thread {thread.id} is already a complaint")
    previous = thread.kind
    thread.kind = ThreadKind.COMPLAINT
    recompute(db, thread, policy_for)
    audit.record(
        db,
        actor=user,
        action="thread.mark_complaint",
        target=thread,
        detail={"previous_kind": previous},
    )
