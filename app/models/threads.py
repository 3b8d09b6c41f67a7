"""Threads, their clocks and what is counted from them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, UTCDateTime
from app.enums import AnswerChannel, ThreadKind, ThreadSource
from app.models.base import enum_column


class Thread(Base):
    """A conversation with one counterpart; its clock fields are derived from its messages."""

    __tablename__ = "threads"
    __table_args__ = (
        Index("ix_threads_mailbox_id_counterpart", "mailbox_id", "counterpart"),
        # The waiting states are ranges of due_at / at_risk_at: listing them walks these indexes.
        Index("ix_threads_due_at_id", "due_at", "id"),
        Index("ix_threads_mailbox_id_due_at_id", "mailbox_id", "due_at", "id"),
        Index("ix_threads_next_transition_at", "next_transition_at"),
        # Only running clocks: the summary counts them live from this small index alone.
        Index(
            "ix_threads_open_clocks",
            "mailbox_id",
            "kind",
            "due_at",
            "at_risk_at",
            "clock_started_at",
            sqlite_where=text("due_at IS NOT NULL AND closed_at IS NULL"),
            postgresql_where=text("due_at IS NOT NULL AND closed_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    kind: Mapped[ThreadKind] = mapped_column(enum_column(ThreadKind, "thread_kind"))
    source: Mapped[ThreadSource] = mapped_column(enum_column(ThreadSource, "thread_source"))
    subject: Mapped[str] = mapped_column(Text, default="")
    normalized_subject: Mapped[str] = mapped_column(Text, default="")
    counterpart: Mapped[str | None] = mapped_column(String(320))
    order_number: Mapped[str | None] = mapped_column(String(20), index=True)
    has_customer_messages: Mapped[bool] = mapped_column(Boolean, default=False)
    # The running clock (all None when nothing waits for an answer, or the thread is closed).
    clock_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    at_risk_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The last level the sweep recorded for this clock, and when the level next changes.
    sla_level: Mapped[str | None] = mapped_column(String(30))
    next_transition_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_customer_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_seller_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_message_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_count: Mapped[int] = mapped_column(Integer, default=0)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_reason: Mapped[str | None] = mapped_column(Text)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    # Customer messages stored up to this moment need no response: a person closed the thread.
    # They start no clock; whether their waits still count in the rate is the marketplace's rule
    # (close_counts_in_rate: Walmart yes, Amazon no; app.threads.summary.waits).
    dismissed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A customer's request to cancel the thread's order (Walmart's INTENT_TO_CANCEL) waiting for
    # the seller, and by when ([sla.cancellation]): the queue lists such threads first. Cleared
    # when Walmart reports the line cancelled (app.walmart.events_service).
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    # The thread_tallies row this thread is counted in (kept in step by the threads service).
    tally_kind: Mapped[ThreadKind | None] = mapped_column(enum_column(ThreadKind, "tally_kind"))
    tally_bucket: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)


class ThreadTally(Base):
    """How many threads of a mailbox and kind are in each bucket (open, answered, closed,
    informational): the summary reads these instead of counting a million rows."""

    __tablename__ = "thread_tallies"

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[ThreadKind] = mapped_column(
        enum_column(ThreadKind, "tally_kind"), primary_key=True
    )
    bucket: Mapped[str] = mapped_column(String(20), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ResponseFigures(Base):
    """Response figures over the last ``days`` days, of one mailbox or of all of them: Walmart's
    response rate, first-response quantiles and their distribution. A job refreshes them (they
    move slowly and come from scanning every wait of the window).

    ``scope`` is ``"all"`` or ``"mailbox:<id>"``: the figures of all mailboxes together are not a
    sum of each mailbox's (a median is not), so they are stored as their own row."""

    __tablename__ = "response_figures"

    scope: Mapped[str] = mapped_column(String(30), primary_key=True)
    days: Mapped[int] = mapped_column(Integer, primary_key=True)
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided: Mapped[int] = mapped_column(Integer)
    in_time: Mapped[int] = mapped_column(Integer)
    median_seconds: Mapped[float | None] = mapped_column(Float)
    p90_seconds: Mapped[float | None] = mapped_column(Float)
    # Waits started in the window by first-response time (app.threads.stats.RESPONSE_BUCKETS).
    distribution: Mapped[list[int]] = mapped_column(JSON, default=list)


class HourlyActivity(Base):
    """A mailbox's hour: messages in and out, counted as they are stored (by arrival hour), and
    the waiting threads as last sampled in that hour, for the status page's time series."""

    __tablename__ = "hourly_activity"
    __table_args__ = (Index("ix_hourly_activity_hour", "hour"),)

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
    )
    hour: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    customer_in: Mapped[int] = mapped_column(Integer, default=0)
    replies_out: Mapped[int] = mapped_column(Integer, default=0)
    spam_found: Mapped[int] = mapped_column(Integer, default=0)
    waiting: Mapped[int | None] = mapped_column(Integer)
    at_risk: Mapped[int | None] = mapped_column(Integer)
    overdue: Mapped[int | None] = mapped_column(Integer)


class ResponseEpisode(Base):
    """One wait of a thread and its answer: the ground truth of the response-rate metric."""

    __tablename__ = "response_episodes"
    # Covers the response-rate query: no table lookups for a mailbox's last 60 days.
    __table_args__ = (
        Index(
            "ix_response_episodes_rate",
            "mailbox_id",
            "started_at",
            "answered_at",
            "due_at",
            "response_seconds",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    kind: Mapped[ThreadKind] = mapped_column(enum_column(ThreadKind, "episode_kind"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_seconds: Mapped[float | None] = mapped_column(Float)
    # Where it was answered when not by mail (an OutsideAnswer); None: by mail, or not answered.
    answered_channel: Mapped[AnswerChannel | None] = mapped_column(
        enum_column(AnswerChannel, "episode_answer_channel")
    )


class OutsideAnswer(Base):
    """An answer a person gave where the mailbox never sees it (Walmart Seller Center's inbox, the
    phone), recorded by an agent: it answers the thread's wait at ``answered_at`` as a seller's
    reply would, every time the thread's clock is computed again."""

    __tablename__ = "outside_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    channel: Mapped[AnswerChannel] = mapped_column(enum_column(AnswerChannel, "answer_channel"))
    note: Mapped[str | None] = mapped_column(Text)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


class ThreadTransition(Base):
    """A level a thread's clock reached (warned, at risk, overdue), recorded once by the sweep."""

    __tablename__ = "thread_transitions"
    __table_args__ = (UniqueConstraint("thread_id", "clock_started_at", "to_level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"))
    clock_started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_level: Mapped[str | None] = mapped_column(String(30))
    to_level: Mapped[str] = mapped_column(String(30))
    reached_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
