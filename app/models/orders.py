"""Orders read from Walmart's Marketplace API: the copy kept beside the threads about them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class OrderCopy(Base):
    """The last copy of an order a mailbox's threads name (``order_number`` as the thread has
    it: a purchase or a customer order), and how the last attempt to read it went. ``data`` is
    app.walmart.orders.Order as JSON: what the thread page and the reply templates show."""

    __tablename__ = "order_copies"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "order_number"),
        Index("ix_order_copies_attempted_at", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    order_number: Mapped[str] = mapped_column(String(20))
    purchase_order_id: Mapped[str | None] = mapped_column(String(40))
    customer_order_id: Mapped[str | None] = mapped_column(String(40))
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # When ``data`` was read; None until a read succeeds.
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The last attempt's failure (app.errors.WalmartApiError's kind and reason), None after a
    # read that succeeded.
    error_kind: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)


class OrderEvent(Base):
    """Something Walmart said happened to an order line (an ORDER_UPDATES sub-event: a
    cancellation request, an auto-cancellation, a fraud cancellation), from a webhook or found by
    the poll of recent orders. One row per mailbox, kind, purchase order and line, so the same
    event delivered twice, or found by both paths, is kept once. A thread shows the events of the
    order it is about (its order number is the purchase or the customer order)."""

    __tablename__ = "order_events"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "kind", "purchase_order_id", "line_number"),
        # A thread finds its order's events by the number it has (a purchase or customer order).
        Index("ix_order_events_purchase_order", "mailbox_id", "purchase_order_id"),
        Index("ix_order_events_customer_order", "mailbox_id", "customer_order_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))  # Walmart's subEventType, e.g. INTENT_TO_CANCEL
    purchase_order_id: Mapped[str] = mapped_column(String(40))
    customer_order_id: Mapped[str | None] = mapped_column(String(40))
    line_number: Mapped[str] = mapped_column(String(20))  # "" when the event names no line
    product_name: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(10))  # webhook | poll: whichever saw it first
    event_id: Mapped[str | None] = mapped_column(String(100))  # Walmart's, from a webhook
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
