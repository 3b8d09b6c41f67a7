"""Reply templates and the drafts written from them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from app.clock import now
from app.db import Base, UTCDateTime
from app.enums import DraftState
from app.models.base import enum_column


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
    state: Mapped[DraftState] = mapped_column(enum_column(DraftState, "draft_state"))
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
