"""The order copies kept beside threads and the Walmart API's health per mailbox: what a read
changes, and what a thread shows. Takes a session and never commits (its caller does)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.errors import WalmartApiError
from app.models import Thread
from app.walmart import repository
from app.walmart.lookup import Found
from app.walmart.orders import Order

# Failures that are about the API or the credentials (shown on the mailbox's health); an order
# that is not found says nothing about either.
HEALTH_KINDS = ("config", "auth", "forbidden", "rate_limited", "unreachable")


@dataclass(frozen=True)
class OrderState:
    """What slawatch has for a thread's order: the copy (None before a read succeeded), when
    it was read, and why the last attempt failed if it did."""

    order: Order | None
    fetched_at: datetime | None
    attempted_at: datetime | None
    error_kind: str | None
    error: str | None


def store(
    db: Session,
    *,
    mailbox_id: int,
    order_number: str,
    outcome: Found | WalmartApiError,
    at: datetime,
) -> None:
    """Keep what a read gave: the order (replacing the copy), or the failure (keeping it)."""
    if isinstance(outcome, WalmartApiError):
        repository.save_failure(
            db,
            mailbox_id=mailbox_id,
            order_number=order_number,
            at=at,
            kind=outcome.kind,
            error=outcome.reason,
        )
        if outcome.kind in HEALTH_KINDS:
            repository.record_health(
                db, mailbox_id=mailbox_id, at=at, kind=outcome.kind, error=outcome.reason
            )
        else:
            repository.record_health(db, mailbox_id=mailbox_id, at=at, kind=None, error=None)
        return
    order = outcome.order
    repository.save_read(
        db,
        {
            "mailbox_id": mailbox_id,
            "order_number": order_number,
            "purchase_order_id": order.purchase_order_id,
            "customer_order_id": order.customer_order_id,
            "data": order.to_json(),
            "fetched_at": at,
            "attempted_at": at,
            "error_kind": None,
            "error": None,
        },
    )
    problem = outcome.returns_problem
    repository.record_health(
        db,
        mailbox_id=mailbox_id,
        at=at,
        kind=problem.kind if problem else None,
        error=problem.reason if problem else None,
    )


def state_of(db: Session, thread: Thread) -> OrderState | None:
    """The copy of the thread's order and the last attempt's outcome; None before any."""
    if not thread.order_number:
        return None
    row = repository.copy_of(db, mailbox_id=thread.mailbox_id, order_number=thread.order_number)
    if row is None:
        return None
    return OrderState(
        order=Order.from_json(row.data) if row.data else None,
        fetched_at=row.fetched_at,
        attempted_at=row.attempted_at,
        error_kind=row.error_kind,
        error=row.error,
    )


def order_of(db: Session, thread: Thread) -> Order | None:
    state = state_of(db, thread)
    return state.order if state else None
