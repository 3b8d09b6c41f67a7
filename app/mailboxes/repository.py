"""All queries of mailboxes and their folder cursors (where each folder's poll has got to)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.clock import now
from app.db import dialect_insert
from app.enums import FolderRole
from app.models import FolderCursor, Mailbox


def get_or_create_mailboxes(db: Session, names: Sequence[str]) -> dict[str, Mailbox]:
    """The mailboxes of ``names``, recorded first where missing, in a few statements however many
    there are."""
    found = {m.name: m for m in db.scalars(select(Mailbox).where(Mailbox.name.in_(names)))}
    missing = [name for name in dict.fromkeys(names) if name not in found]
    if not missing:
        return found
    # Several workers starting at once record the same config mailboxes: an upsert lets each of
    # them find the one row.
    db.execute(
        dialect_insert(db)(Mailbox).on_conflict_do_nothing(index_elements=["name"]),
        [
            {
                "name": name,
                "source": "config",
                "enabled": True,
                "consecutive_failures": 0,
                "created_at": now(),
            }
            for name in missing
        ],
    )
    added = db.scalars(select(Mailbox).where(Mailbox.name.in_(missing)))
    return found | {m.name: m for m in added}


def get_or_create_mailbox(db: Session, name: str) -> Mailbox:
    return get_or_create_mailboxes(db, [name])[name]


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


def cursors_of(db: Session, mailbox_id: int) -> dict[FolderRole, FolderCursor]:
    return {
        c.role: c
        for c in db.scalars(select(FolderCursor).where(FolderCursor.mailbox_id == mailbox_id))
    }


def note_synced(db: Session, counts: dict[int, int], *, at: datetime) -> None:
    """Record each cursor's folder (by cursor id) as read at ``at``, holding that many messages."""
    if counts:
        db.execute(
            update(FolderCursor).execution_options(synchronize_session=False),
            [{"id": i, "server_count": n, "last_synced_at": at} for i, n in counts.items()],
        )


def lock_cursor(db: Session, cursor_id: int) -> FolderCursor:
    """The folder's cursor, locked for the batch (PostgreSQL; SQLite transactions already hold the
    database's write lock)."""
    cursor = db.get(FolderCursor, cursor_id, populate_existing=True, with_for_update=True)
    assert cursor is not None  # noqa: S101 (it was created before the batch)
    return cursor
