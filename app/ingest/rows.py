"""A fetched message as the row it will be: parsed, classified and cleaned for every database, in
memory, so a batch is written with a few multi-row statements."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from app.enums import Classification, FolderRole
from app.mail.classify import classify, extract_order_number
from app.mail.fetched import FetchedMessage
from app.mail.parse import dedupe_key, parse_message
from app.sla import arrival_time


@dataclass(slots=True)
class NewMessage:
    """The messages row of a message not stored yet (its columns by name), its raw bytes, and
    whether it reports a complaint."""

    mailbox_id: int
    folder: FolderRole
    dedupe_key: str
    message_id_header: str | None
    in_reply_to: str | None
    references: list[str]
    from_address: str | None
    from_name: str | None
    reply_to: list[str]
    to_addresses: list[str]
    cc_addresses: list[str]
    subject: str
    date_header: datetime | None
    internal_date: datetime | None
    received_at: datetime
    stored_at: datetime
    fetch_lag_seconds: float | None
    body_text: str
    attachment_names: list[str]
    classification: Classification
    classification_reason: str
    order_number: str | None
    parse_problems: list[str]
    size_bytes: int
    thread_id: int | None = None
    raw: bytes = b""
    complaint: bool = False

    def row(self) -> dict[str, Any]:
        """The values of the messages row."""
        return {name: getattr(self, name) for name in ROW_FIELDS}


ROW_FIELDS = tuple(f.name for f in fields(NewMessage) if f.name not in ("raw", "complaint"))


def text(value: str | None, limit: int | None = None) -> str | None:
    """Text fit for every database: PostgreSQL refuses NUL characters, columns have lengths."""
    if value is None:
        return None
    value = value.replace("\x00", "\ufffd")
    return value[:limit] if limit else value


def _texts(values: Sequence[str]) -> list[str]:
    return [text(v) or "" for v in values]


def new_message(
    *,
    mailbox_id: int,
    role: FolderRole,
    fetched: FetchedMessage,
    seller_addresses: frozenset[str],
    stored_at: datetime,
) -> NewMessage:
    """Parse and classify a fetched message into the row it will be."""
    parsed = parse_message(fetched.raw, headers_only=fetched.headers_only)
    verdict = classify(parsed, folder=role, seller_addresses=seller_addresses)
    problems = [*fetched.problems, *parsed.problems]
    if fetched.internal_date is None:
        problems.append("server gave no INTERNALDATE; arrival taken from the Date header")
    return NewMessage(
        mailbox_id=mailbox_id,
        folder=role,
        dedupe_key=dedupe_key(parsed, fetched.raw),
        message_id_header=text(parsed.message_id, 998),
        in_reply_to=text(parsed.in_reply_to),
        references=_texts(parsed.references),
        from_address=text(parsed.from_address, 320),
        from_name=text(parsed.from_name),
        reply_to=_texts(parsed.reply_to),
        to_addresses=_texts(parsed.to),
        cc_addresses=_texts(parsed.cc),
        subject=text(parsed.subject) or "",
        date_header=parsed.date,
        internal_date=fetched.internal_date,
        received_at=arrival_time(
            internal_date=fetched.internal_date, date_header=parsed.date, stored_at=stored_at
        ),
        stored_at=stored_at,
        fetch_lag_seconds=(
            (stored_at - fetched.internal_date).total_seconds() if fetched.internal_date else None
        ),
        body_text=text(parsed.body_text) or "",
        attachment_names=_texts(parsed.attachment_names),
        classification=verdict.classification,
        classification_reason=text(verdict.reason, 200) or "",
        order_number=extract_order_number(parsed.subject, parsed.body_text),
        parse_problems=_texts(problems),
        size_bytes=len(fetched.raw) if fetched.size is None else fetched.size,
        raw=fetched.raw,
        complaint=verdict.complaint,
    )
