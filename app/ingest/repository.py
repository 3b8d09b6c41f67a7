"""The poller's storage queries: stored messages, their locations (folder, UIDVALIDITY, UID), dead
letters and the UIDs the server answered without their content. Mailbox and folder-cursor queries
are in app.mailboxes.repository."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from app.db import insert_returning_ids, insert_rows
from app.ingest.rows import NewMessage
from app.models import (
    DeadLetter,
    FolderCursor,
    Message,
    MessageLocation,
    MessageRaw,
    UnansweredFetch,
)


def message_ids_by_key(
    db: Session, *, mailbox_id: int, dedupe_keys: Sequence[str]
) -> dict[str, int]:
    rows = db.execute(
        select(Message.dedupe_key, Message.id).where(
            Message.mailbox_id == mailbox_id, Message.dedupe_key.in_(set(dedupe_keys))
        )
    )
    return {key: message_id for key, message_id in rows}


def insert_messages(db: Session, messages: Sequence[NewMessage]) -> list[int]:
    """Insert messages and their raw bytes in two multi-row statements; their ids, in order."""
    if not messages:
        return []
    ids = insert_returning_ids(db, Message, [m.row() for m in messages])
    insert_rows(
        db,
        MessageRaw,
        [{"message_id": i, "raw": m.raw} for m, i in zip(messages, ids, strict=True)],
    )
    return ids


def insert_locations(db: Session, rows: Sequence[dict[str, Any]]) -> None:
    insert_rows(db, MessageLocation, rows)


def known_uids(db: Session, *, cursor_id: int, uidvalidity: int, uids: Sequence[int]) -> set[int]:
    """Which of ``uids`` are stored already (a batch re-fetched after a crash, a replay)."""
    return set(
        db.scalars(
            select(MessageLocation.uid).where(
                MessageLocation.cursor_id == cursor_id,
                MessageLocation.uidvalidity == uidvalidity,
                MessageLocation.uid.in_(uids),
            )
        )
    )


def accounted_uids_above(
    db: Session, *, cursor_id: int, uidvalidity: int, last_uid: int
) -> set[int]:
    """The UIDs above a folder's cursor stored or kept as dead letters already: there are some
    only while the cursor waits below a UID the server answered without its content."""
    stored = db.scalars(
        select(MessageLocation.uid).where(
            MessageLocation.cursor_id == cursor_id,
            MessageLocation.uidvalidity == uidvalidity,
            MessageLocation.uid > last_uid,
        )
    )
    lettered = db.scalars(
        select(DeadLetter.uid).where(
            DeadLetter.cursor_id == cursor_id,
            DeadLetter.uidvalidity == uidvalidity,
            DeadLetter.uid > last_uid,
        )
    )
    return set(stored) | set(lettered)


def unanswered_by_uid(
    db: Session, *, cursor_id: int, uidvalidity: int, uids: Sequence[int]
) -> dict[int, UnansweredFetch]:
    rows = db.scalars(
        select(UnansweredFetch).where(
            UnansweredFetch.cursor_id == cursor_id,
            UnansweredFetch.uidvalidity == uidvalidity,
            UnansweredFetch.uid.in_(uids),
        )
    )
    return {row.uid: row for row in rows}


def forget_unanswered(
    db: Session, *, cursor_id: int, uidvalidity: int, up_to: int, read: Sequence[int]
) -> None:
    """Forget the unanswered UIDs that were ``read`` after all or that the cursor has passed
    (read, kept as dead letters, or deleted from the server), and those of an old UIDVALIDITY."""
    db.execute(
        delete(UnansweredFetch).where(
            UnansweredFetch.cursor_id == cursor_id,
            or_(
                UnansweredFetch.uidvalidity != uidvalidity,
                UnansweredFetch.uid <= up_to,
                UnansweredFetch.uid.in_(read),
            ),
        )
    )


def unresolved_dead_letters_by_uid(
    db: Session, *, cursor_id: int, uidvalidity: int
) -> dict[int, DeadLetter]:
    rows = db.scalars(
        select(DeadLetter).where(
            DeadLetter.cursor_id == cursor_id,
            DeadLetter.uidvalidity == uidvalidity,
            DeadLetter.resolved_at.is_(None),
        )
    )
    return {letter.uid: letter for letter in rows}


def stored_count(db: Session, cursor: FolderCursor) -> int:
    """Server messages of the folder's current UIDVALIDITY represented in the database."""
    return (
        db.scalar(
            select(func.count(MessageLocation.id)).where(
                MessageLocation.cursor_id == cursor.id,
                MessageLocation.uidvalidity == cursor.uidvalidity,
            )
        )
        or 0
    )


def failed_count(db: Session, cursor: FolderCursor) -> int:
    return (
        db.scalar(
            select(func.count(DeadLetter.id)).where(
                DeadLetter.cursor_id == cursor.id,
                DeadLetter.uidvalidity == cursor.uidvalidity,
                DeadLetter.resolved_at.is_(None),
            )
        )
        or 0
    )


def waiting_uids(db: Session, cursor: FolderCursor) -> list[int]:
    """The UIDs of the folder the server answered without their content, read again each poll."""
    return list(
        db.scalars(
            select(UnansweredFetch.uid)
            .where(
                UnansweredFetch.cursor_id == cursor.id,
                UnansweredFetch.uidvalidity == cursor.uidvalidity,
            )
            .order_by(UnansweredFetch.uid)
        )
    )


def unresolved_dead_letters(db: Session, *, mailbox_id: int | None = None) -> list[DeadLetter]:
    query = select(DeadLetter).where(DeadLetter.resolved_at.is_(None)).order_by(DeadLetter.id)
    if mailbox_id is not None:
        query = query.join(FolderCursor).where(FolderCursor.mailbox_id == mailbox_id)
    return list(db.scalars(query))
