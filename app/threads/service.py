"""Putting each stored message into its conversation, and keeping the thread's summary current."""

from datetime import timedelta

from sqlalchemy.orm import Session

from app.enums import Classification, FolderRole, ThreadKind, ThreadSource
from app.mail.subjects import normalize_subject
from app.models import Message, Thread
from app.threads import repository

# Without headers, a message joins a thread with the same counterpart and subject only this recent.
THREADING_WINDOW = timedelta(days=30)
CLOCK_CLASSIFICATIONS = (Classification.CUSTOMER, Classification.ESCALATION)


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


def attach(
    db: Session, *, message: Message, complaint: bool, seller_addresses: frozenset[str]
) -> Thread:
    """Put a flushed message into its thread (a new one if none fits) and refresh the thread."""
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
        summarize(thread, [message])
    else:
        db.flush()
        summarize(thread, repository.messages_of(db, thread.id))
    return thread


def summarize(thread: Thread, messages: list[Message]) -> None:
    """Set the thread's summary fields from all its messages, oldest first."""
    waiting_on = [m for m in messages if m.classification in CLOCK_CLASSIFICATIONS]
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
