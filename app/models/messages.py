"""Stored messages, where they were seen, and the ones whose processing failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import Base, UTCDateTime
from app.enums import Classification, FolderRole
from app.models.base import enum_column
from app.models.mailboxes import FolderCursor


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
    folder: Mapped[FolderRole] = mapped_column(enum_column(FolderRole, "message_folder"))
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
    classification: Mapped[Classification] = mapped_column(
        enum_column(Classification, "classification")
    )
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
    # None: the server never gave the message (it answered FETCH without it poll after poll), so
    # there is nothing to replay; the UID is kept here so the folder's reconciliation counts it.
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
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


class UnansweredFetch(Base):
    """A UID the server listed but answered FETCH without what was asked for (its body, or in
    Junk the sender header that decides whether it is read): the folder's cursor waits below it,
    and the polls that found it so are counted, until it is read or kept as a dead letter."""

    __tablename__ = "unanswered_fetches"
    __table_args__ = (UniqueConstraint("cursor_id", "uidvalidity", "uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cursor_id: Mapped[int] = mapped_column(ForeignKey("folder_cursors.id", ondelete="CASCADE"))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    polls: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    last_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
