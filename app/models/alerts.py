"""Internal alerts, and their deliveries to chat and webhook channels."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, UTCDateTime
from app.enums import AlertState
from app.models.base import enum_column


class Alert(Base):
    """An internal alert, recorded before it is sent so it goes out exactly once.

    ``dedupe_key`` names the event (a thread's clock reaching a level, a mailbox's outage), so the
    same event can never produce a second alert, however many sweeps run."""

    __tablename__ = "alerts"
    __table_args__ = (Index("ix_alerts_state_deliver_after", "state", "deliver_after"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30))
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    recipients: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[AlertState] = mapped_column(enum_column(AlertState, "alert_state"))
    # Not before this moment: quiet hours, a digest period, or the back-off after a failure.
    deliver_after: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(998))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the alert was handed to the configured channels (one AlertDelivery each); None: not
    # yet. Whoever records an alert needs to know nothing of channels.
    channels_routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)


class AlertDelivery(Base):
    """One alert for one chat or webhook channel (``[[alerts.channels]]``), recorded before it is
    sent so each channel gets each alert once, with its own retries: a channel that fails holds
    back no other, nor the email."""

    __tablename__ = "alert_deliveries"
    __table_args__ = (
        UniqueConstraint("alert_id", "channel"),
        Index("ix_alert_deliveries_state_deliver_after", "state", "deliver_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(100))  # its name (AlertChannel.key), never the URL
    channel_kind: Mapped[str] = mapped_column(String(20))
    state: Mapped[AlertState] = mapped_column(enum_column(AlertState, "alert_state"))
    deliver_after: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
