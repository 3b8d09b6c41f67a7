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
