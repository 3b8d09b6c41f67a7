"""All queries of the poller: mailboxes, folder cursors, stored messages and dead letters."""

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import now
from app.db import dialect_insert
from app.enums import FolderRole
from app.models import DeadLetter, FolderCursor, Mailbox, Message, MessageLocation


def get_or_create_mailbox(db: Session, name: str) -> Mailbox:
    mailbox = db.scalar(select(Mailbox).where(Mailbox.name == name))
    if mailbox is None:
        # Several workers starting at once record the same config mailboxes: an upsert lets
        # each of them find the one row.
        db.execute(
            dialect_insert(db)(Mailbox)
            .values(
                name=name, source="config", enabled=True, consecutive_failures=0, created_at=now()
            )
            .on_conflict_do_nothing(index_elements=["name"])
        )
        mailbox = db.scalars(select(Mailbox).where(Mailbox.name == name)).one()
    return mailbox


def get_mailbox(db: Session, mailbox_id: int) -> Mailbox:
    mailbox = db.get(Mailbox, mailbox_id)
    if mailbox is None:
        raise LookupError(f"mailbox id {mailbox_id} vanished")
    return mailbox


def list_mailboxes(db: Session) -> list[Mailbox]:
    return list(db.scalars(select(Mailbox).order_by(Mailbox.name)))


def mailbox_by_name(db: Session, name: str) -> Mailbox | None:
    return db.scalar(select(Mailbox).where(Mailbox.name == name))


def api_mailboxes(db: Session) -> list[Mailbox]:
    """Mailboxes created through the API (their settings are in the database)."""
    return list(db.scalars(select(Mailbox).where(Mailbox.source == "api").order_by(Mailbox.name)))


def get_or_create_cursor(
    db: Session, *, mailbox_id: int, role: FolderRole, path: str
) -> FolderCursor:
    query = select(FolderCursor).where(
        FolderCursor.mailbox_id == mailbox_id, FolderCursor.role == role
    )
    cursor = db.scalar(query)
    if cursor is None:
        # An upsert: a worker taking a mailbox over may meet the previous one's last poll.
        db.execute(
            dialect_insert(db)(FolderCursor)
            .values(mailbox_id=mailbox_id, role=role, path=path, last_uid=0, skipped_count=0)
            .on_conflict_do_nothing(index_elements=["mailbox_id", "role"])
        )
        cursor = db.scalars(query).one()
    return cursor


def lock_cursor(db: Session, cursor_id: int) -> FolderCursor:
    """The folder's cursor, locked for the batch (PostgreSQL; SQLite transactions already hold the
    database's write lock)."""
    cursor = db.get(FolderCursor, cursor_id, populate_existing=True, with_for_update=True)
    assert cursor is not None  # noqa: S101 (it was created before the batch)
    return cursor


def message_ids_by_key(
    db: Session, *, mailbox_id: int, dedupe_keys: Sequence[str]
) -> dict[str, int]:
    rows = db.execute(
        select(Message.dedupe_key, Message.id).where(
            Message.mailbox_id == mailbox_id, Message.dedupe_key.in_(set(dedupe_keys))
        )
    )
    return {key: message_id for key, message_id in rows}


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


def unresolved_dead_letters(db: Session, *, mailbox_id: int | None = None) -> list[DeadLetter]:
    query = select(DeadLetter).where(DeadLetter.resolved_at.is_(None)).order_by(DeadLetter.id)
    if mailbox_id is not None:
        query = query.join(FolderCursor).where(FolderCursor.mailbox_id == mailbox_id)
    return list(db.scalars(query))
