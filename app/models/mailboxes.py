"""Mailboxes, the folders read from them, their OAuth sign-ins, and the leases on shared work."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.clock import now
from app.db import Base, UTCDateTime
from app.enums import FolderRole
from app.models.base import enum_column


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
    # Walmart's Marketplace API (orders beside messages): its last success and last failure,
    # apart from the poll's health (an API outage never counts as the mailbox being down).
    walmart_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    walmart_error_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    walmart_error_kind: Mapped[str | None] = mapped_column(String(20))
    walmart_error: Mapped[str | None] = mapped_column(Text)
    # The poll of recent orders for cancellation events (app.walmart.events_jobs) has read the
    # orders modified up to this moment.
    order_events_read_until: Mapped[datetime | None] = mapped_column(UTCDateTime)

    folders: Mapped[list[FolderCursor]] = relationship(back_populates="mailbox")


class FolderCursor(Base):
    """How far a folder has been read: the UIDVALIDITY and the highest UID stored."""

    __tablename__ = "folder_cursors"
    __table_args__ = (UniqueConstraint("mailbox_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"))
    role: Mapped[FolderRole] = mapped_column(enum_column(FolderRole, "folder_role"))
    path: Mapped[str] = mapped_column(String(500))
    uidvalidity: Mapped[int | None] = mapped_column(BigInteger)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    server_count: Mapped[int | None] = mapped_column(Integer)
    skipped_count: Mapped[int] = mapped_column(Integer, default=0)
    last_synced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    mailbox: Mapped[Mailbox] = relationship(back_populates="folders")


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
