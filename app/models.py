"""The database tables. Every change needs an Alembic migration (`alembic check` guards it)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import Base, UTCDateTime
from app.enums import (
    AlertState,
    Classification,
    DraftState,
    FolderRole,
    Role,
    ThreadKind,
    ThreadSource,
)


def _enum(enum_cls: type[StrEnum], name: str) -> Enum:
    # Stored as short strings with a CHECK constraint: the same on SQLite and PostgreSQL.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )


class Mailbox(Base):
    """A monitored IMAP account and its health. Its connection settings live in the config file
    (source "config") or, for one created through the API (source "api"), in ``settings`` here:
    names of the environment variables or files holding secrets, never a secret itself."""

    __tablename__ = "mailboxes"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(10), default="config")
    client: Mapped[str | None] = mapped_column(String(100), index=True)
    settings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_poll_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_kind: Mapped[str | None] = mapped_column(String(20))
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # The start of the outage a "mailbox down" alert was raised for, until its recovery alert.
    down_alerted_since: Mapped[datetime | None] = mapped_column(UTCDateTime)

    folders: Mapped[list[FolderCursor]] = relationship(back_populates="mailbox")


class OAuthGrant(Base):
    """A mailbox's OAuth2 sign-in: the refresh token a person's consent gave, and the access
    token in use. Both are encrypted (app.oauth.cipher); neither is ever logged or returned."""

    __tablename__ = "oauth_grants"

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailboxes.id", ondelete="CASCADE"), primary_key=True
    )
    refresh_token: Mapped[str] = mapped_column(Text)
    access_token: Mapped[str | None] = mapped_column(Text)
    access_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    authorized_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    refreshed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set when the provider refused the refresh token (revoked, expired, password changed):
    # nothing is tried again until a person authorises anew.
    refused_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    refused_reason: Mapped[str | None] = mapped_column(Text)


class Lease(Base):
    """Who does a piece of shared work (polls a mailbox, sweeps) until when: see app.leases."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class FolderCursor(Base):
    """How far a folder has been read: the UIDVALIDITY and the highest UID stored."""

    __tablename__ = "folder_cursors"
    __table_args__ = (UniqueConstraint("mailbox_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    role: Mapped[FolderRole] = mapped_column(_enum(FolderRole, "folder_role"))
    path: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    server_count: Mapped[int | None] = mapped_column(Integer)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    mailbox: Mapped[Mailbox] = relationship(back_populates="folders")


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
    kind: Mapped[ThreadKind] = mapped_column(_enum(ThreadKind, "thread_kind"))
    source: Mapped[ThreadSource] = mapped_column(_enum(ThreadSource, "thread_source"))
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
    dismissed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The thread_tallies row this thread is counted in (kept in step by the threads service).
    tally_kind: Mapped[ThreadKind | None] = mapped_column(_enum(ThreadKind, "tally_kind"))
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
    kind: Mapped[ThreadKind] = mapped_column(_enum(ThreadKind, "tally_kind"), primary_key=True)
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
    kind: Mapped[ThreadKind] = mapped_column(_enum(ThreadKind, "episode_kind"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    response_seconds: Mapped[float | None] = mapped_column(Float)


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


class Message(Base):
    """One email, stored once per mailbox however many folders or UIDs it appears under."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("mailbox_id", "dedupe_key"),
        Index("ix_messages_thread_id_received_at", "thread_id", "received_at"),
        Index("ix_messages_mailbox_id_message_id_header", "mailbox_id", "message_id_header"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"))
    folder: Mapped[FolderRole] = mapped_column(_enum(FolderRole, "message_folder"))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    message_id_header: Mapped[str | None] = mapped_column(String(998))
    in_reply_to: Mapped[str | None] = mapped_column(Text)
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    from_address: Mapped[str | None] = mapped_column(String(320))
    from_name: Mapped[str | None] = mapped_column(Text)
    reply_to: Mapped[list[str]] = mapped_column(JSON, default=list)
    to_addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    cc_addresses: Mapped[list[str]] = mapped_column(JSON, default=list)
    subject: Mapped[str] = mapped_column(Text, default="")
    date_header: Mapped[datetime | None] = mapped_column(UTCDateTime)
    internal_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stored_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    fetch_lag_seconds: Mapped[float | None] = mapped_column(Float)
    body_text: Mapped[str] = mapped_column(Text, default="")
    attachment_names: Mapped[list[str]] = mapped_column(JSON, default=list)
    classification: Mapped[Classification] = mapped_column(_enum(Classification, "classification"))
    classification_reason: Mapped[str] = mapped_column(String(200), default="")
    order_number: Mapped[str | None] = mapped_column(String(20))
    parse_problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)

    raw: Mapped[MessageRaw] = relationship(cascade="all, delete-orphan", passive_deletes=True)


class MessageRaw(Base):
    """The message exactly as the server gave it, kept apart so listing queries stay lean."""

    __tablename__ = "message_raw"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    raw: Mapped[bytes] = mapped_column(LargeBinary)


class MessageLocation(Base):
    """Where a stored message was seen on the server: one row per folder UID."""

    __tablename__ = "message_locations"
    __table_args__ = (UniqueConstraint("cursor_id", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    cursor_id: Mapped[int] = mapped_column(ForeignKey("folder_cursors.id", ondelete="CASCADE"))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)


class DeadLetter(Base):
    """A fetched message whose processing failed: kept raw with the error, for replay."""

    __tablename__ = "dead_letters"
    __table_args__ = (UniqueConstraint("cursor_id", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cursor_id: Mapped[int] = mapped_column(ForeignKey("folder_cursors.id", ondelete="CASCADE"))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    internal_date: Mapped[datetime | None] = mapped_column(UTCDateTime)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    # What was known to be wrong at the fetch (a body left on the server), stored again with
    # the message when it is replayed.
    fetch_problems: Mapped[list[str]] = mapped_column(JSON, default=list)
    size: Mapped[int | None] = mapped_column(BigInteger)
    headers_only: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    cursor: Mapped[FolderCursor] = relationship()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    role: Mapped[Role] = mapped_column(_enum(Role, "role"))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """An API bearer token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(back_populates="tokens")


class WebSession(Base):
    """A signed-in browser: the cookie holds a random token, only its digest is stored."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class SignInThrottle(Base):
    """Failed sign-ins counted per key (``user:NAME``, ``address:IP``): here rather than in
    memory so every API replica sees the same counts (see app.users.throttle)."""

    __tablename__ = "sign_in_throttles"

    key: Mapped[str] = mapped_column(String(150), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    window_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Lockouts in a row: each lasts twice as long as the one before, up to the maximum.
    lockouts: Mapped[int] = mapped_column(Integer, default=0)


class ReplyTemplate(Base):
    __tablename__ = "reply_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    category: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TemplateVersion(Base):
    """An immutable body of a template; editing adds a version, drafts keep theirs."""

    __tablename__ = "template_versions"
    __table_args__ = (UniqueConstraint("template_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("reply_templates.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class Draft(Base):
    """A reply a person writes and approves; only an approved draft can ever be sent."""

    __tablename__ = "drafts"

    id: Mapped[int] = mapped_column(primary_key=True)
    thread_id: Mapped[int] = mapped_column(ForeignKey("threads.id", ondelete="CASCADE"), index=True)
    template_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("template_versions.id", ondelete="SET NULL")
    )
    body: Mapped[str] = mapped_column(Text)
    # The envelope, fixed when the draft is made and approved with the body: the reply goes to
    # exactly this address, whatever mail joins the thread later.
    to_address: Mapped[str | None] = mapped_column(String(320))
    to_name: Mapped[str | None] = mapped_column(Text)
    from_address: Mapped[str | None] = mapped_column(String(320))
    subject: Mapped[str | None] = mapped_column(Text)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Who picked a recipient other than the thread's buyer (None: the buyer, by default).
    recipient_chosen_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    # The template's text as first rendered: a draft still equal to it is not personalised.
    rendered_body: Mapped[str | None] = mapped_column(Text)
    state: Mapped[DraftState] = mapped_column(_enum(DraftState, "draft_state"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_body_sha256: Mapped[str | None] = mapped_column(String(64))
    # SHA-256 over the envelope and the body as approved, and the envelope itself, so a send
    # that would differ is refused naming what changed.
    approved_sha256: Mapped[str | None] = mapped_column(String(64))
    approved_envelope: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    lint_overridden: Mapped[bool] = mapped_column(Boolean, default=False)
    # Fixed before the SMTP call, so a retried send can never produce a second message.
    outgoing_message_id: Mapped[str | None] = mapped_column(String(998), unique=True)
    sending_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    sent_copy_error: Mapped[str | None] = mapped_column(Text)


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
    state: Mapped[AlertState] = mapped_column(_enum(AlertState, "alert_state"))
    # Not before this moment: quiet hours, a digest period, or the back-off after a failure.
    deliver_after: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(998))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Who did what, when: every state change a person makes is recorded here."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    target_type: Mapped[str | None] = mapped_column(String(50))
    target_id: Mapped[str | None] = mapped_column(String(50))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
