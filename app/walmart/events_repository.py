"""Queries of the order events Walmart reported, and of how far the poll of recent orders read."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.models import Mailbox, OrderEvent


def insert_event(db: Session, values: dict[str, Any]) -> bool:
    """Keep an event unless it is kept already (the same line's event, by either path); whether
    it was new."""
    statement = (
        dialect_insert(db)(OrderEvent)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["mailbox_id", "kind", "purchase_order_id", "line_number"]
        )
        .returning(OrderEvent.id)
    )
    return db.scalar(statement) is not None


def events_about(
    db: Session, *, mailbox_id: int, order_numbers: Collection[str]
) -> list[OrderEvent]:
    """The mailbox's events of the orders (purchase or customer order numbers), oldest first."""
    if not order_numbers:
        return []
    return list(
        db.scalars(
            select(OrderEvent)
            .where(
                OrderEvent.mailbox_id == mailbox_id,
                or_(
                    OrderEvent.purchase_order_id.in_(order_numbers),
                    OrderEvent.customer_order_id.in_(order_numbers),
                ),
            )
            .order_by(OrderEvent.occurred_at, OrderEvent.id)
        )
    )


def mark_read_until(db: Session, *, mailbox_id: int, at: datetime) -> None:
    db.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(order_events_read_until=at))
