"""Order events Walmart reported (a webhook, or the poll of recent orders) and what they change:
each kept once; a cancellation request puts its order's thread (or a new "cancellation request"
thread) first in the queue with the [sla.cancellation] deadline and alerts the team once; a line
cancelled (automatically, or for fraud) ends the request. Takes a session and never commits."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.alerts import service as alert_service
from app.config import MailboxSettings, Settings
from app.enums import ThreadKind, ThreadSource
from app.models import Thread
from app.threads import batch
from app.threads import repository as thread_repository
from app.walmart import events_repository
from app.walmart.events import CANCELLED, INTENT_TO_CANCEL, EventFact

SUBJECT = "Cancellation request: order {po}"


@dataclass
class Recorded:
    new: int = 0  # events kept now (the others were kept before)
    alerts: list[str] = field(default_factory=list)  # the keys of the alerts raised
    threads: list[int] = field(default_factory=list)  # threads a cancellation request ranks first


def record(
    db: Session,
    *,
    mailbox: MailboxSettings,
    mailbox_id: int,
    facts: Iterable[EventFact],
    source: str,
    settings: Settings,
    at: datetime,
) -> Recorded:
    """Keep the events not kept yet and apply them to their orders' threads."""
    outcome = Recorded()
    fresh: dict[str, list[EventFact]] = defaultdict(list)
    for fact in facts:
        kept = events_repository.insert_event(
            db,
            {
                "mailbox_id": mailbox_id,
                "kind": fact.kind,
                "purchase_order_id": fact.purchase_order_id,
                "customer_order_id": fact.customer_order_id,
                "line_number": fact.line_number,
                "product_name": fact.product_name,
                "source": source,
                "event_id": fact.event_id,
                "occurred_at": fact.occurred_at,
                "received_at": at,
            },
        )
        if kept:
            outcome.new += 1
            fresh[fact.purchase_order_id].append(fact)
    for purchase_order, order_facts in fresh.items():
        _apply(
            db,
            mailbox=mailbox,
            mailbox_id=mailbox_id,
            purchase_order=purchase_order,
            facts=order_facts,
            settings=settings,
            at=at,
            outcome=outcome,
        )
    return outcome


def _apply(
    db: Session,
    *,
    mailbox: MailboxSettings,
    mailbox_id: int,
    purchase_order: str,
    facts: list[EventFact],
    settings: Settings,
    at: datetime,
    outcome: Recorded,
) -> None:
    requests = [f for f in facts if f.kind == INTENT_TO_CANCEL]
    cancelled = any(f.kind in CANCELLED for f in facts)
    numbers = {purchase_order, *(f.customer_order_id for f in facts if f.customer_order_id)}
    thread = _thread_of(db, mailbox_id=mailbox_id, order_numbers=numbers)
    if requests and not cancelled:
        if thread is None:
            thread = _new_thread(db, mailbox_id=mailbox_id, purchase_order=purchase_order, at=at)
        if thread.cancel_requested_at is None:
            requested = min(f.occurred_at for f in requests)
            thread.cancel_requested_at = requested
            thread.cancel_due_at = requested + timedelta(
                hours=settings.sla.cancellation.response_hours
            )
        outcome.threads.append(thread.id)
        alert = alert_service.cancel_request_alert(
            db,
            thread=thread,
            mailbox_name=mailbox.name,
            purchase_order_id=purchase_order,
            products=[f.product_name for f in requests if f.product_name],
            settings=settings,
            now=at,
        )
        if alert is not None:
            outcome.alerts.append(alert.dedupe_key)
    elif cancelled and thread is not None:
        end_request(thread)


def end_request(thread: Thread) -> None:
    """The request is settled (the line cancelled, or a person closed the thread)."""
    thread.cancel_requested_at = None
    thread.cancel_due_at = None


def settled(db: Session, *, mailbox_id: int, still_requested: set[str], seen: Iterable[str]) -> int:
    """End the requests of the orders the poll saw (``seen``) with no line asking to cancel any
    more: the seller cancelled or shipped them in Seller Center. How many ended."""
    ended = 0
    for thread in thread_repository.threads_by_orders(
        db, mailbox_id=mailbox_id, order_numbers=set(seen) - still_requested
    ):
        if thread.cancel_requested_at is not None:
            end_request(thread)
            ended += 1
    return ended


def _thread_of(db: Session, *, mailbox_id: int, order_numbers: set[str]) -> Thread | None:
    """The order's thread: an open one before a closed one, the latest first."""
    threads = thread_repository.threads_by_orders(
        db, mailbox_id=mailbox_id, order_numbers=order_numbers
    )
    threads.sort(key=lambda t: (t.closed_at is None, t.last_message_at or t.created_at, t.id))
    return threads[-1] if threads else None


def _new_thread(db: Session, *, mailbox_id: int, purchase_order: str, at: datetime) -> Thread:
    """A thread for a request about an order no mail has named yet; the customer's mail about
    it joins this thread by the order number."""
    thread = Thread(
        mailbox_id=mailbox_id,
        kind=ThreadKind.CUSTOMER,
        source=ThreadSource.INBOX,
        subject=SUBJECT.format(po=purchase_order),
        normalized_subject=SUBJECT.format(po=purchase_order).lower(),
        order_number=purchase_order,
        has_customer_messages=False,
        message_count=0,
        created_at=at,
    )
    thread_repository.add_thread(db, thread)
    deltas: Counter[tuple[int, ThreadKind, str]] = Counter()
    batch.move_tally(thread, deltas)
    thread_repository.bump_tallies(db, deltas)
    return thread
