"""Walmart's own Seller Response Rate, read from its Insights API: the summary figures per window,
the report of the orders behind them, and when each endpoint was last called (Walmart allows one
call a minute per seller; the times are kept here so a restart honours it too)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.db import Base, UTCDateTime


class WalmartRate(Base):
    """Walmart's summary for one mailbox's seller account over ``days`` (30 or 60). ``rate`` is a
    fraction (0.964), as slawatch's own rate; None until a read succeeded."""

    __tablename__ = "walmart_rates"
    __table_args__ = (UniqueConstraint("mailbox_id", "days"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    days: Mapped[int] = mapped_column(Integer)
    rate: Mapped[float | None] = mapped_column(Float)
    trend: Mapped[str | None] = mapped_column(String(30))
    impacted_customers: Mapped[int | None] = mapped_column(Integer)
    risk_level: Mapped[str | None] = mapped_column(String(60))
    # True when Walmart answered that it has no figure yet (HTTP 204: too few inquiries).
    no_data: Mapped[bool] = mapped_column(Boolean, default=False)
    fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    error_kind: Mapped[str | None] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)


class WalmartRateRead(Base):
    """Per mailbox: when the summary and the report endpoints were last called (successful or
    not), and how the last report read went."""

    __tablename__ = "walmart_rate_reads"

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
    )
    summary_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_called_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_days: Mapped[int | None] = mapped_column(Integer)
    report_fetched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_attempted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    report_error_kind: Mapped[str | None] = mapped_column(String(20))
    report_error: Mapped[str | None] = mapped_column(Text)


class WalmartReportOrder(Base):
    """One row of Walmart's last Seller Response Rate report of a mailbox: an order whose inquiry
    Walmart counted, and its verdict. Replaced as a whole by each report read."""

    __tablename__ = "walmart_report_orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="CASCADE"), index=True
    )
    purchase_order_id: Mapped[str | None] = mapped_column(String(40))
    customer_order_id: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Walmart's verdict: answered within 48 h (True), late or missed (False), not said (None).
    in_time: Mapped[bool | None] = mapped_column(Boolean)
    row: Mapped[dict[str, Any]] = mapped_column(JSON)  # the report's cells, by column heading
