"""The poller's read model: each mailbox's poll health and, per folder, the server's count beside
what is stored, skipped and failed, and the UIDs the server answered without their content."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.ingest import repository as ingest_repository
from app.mailboxes import repository as mailbox_repository


@dataclass
class FolderStatus:
    path: str
    uidvalidity: int | None
    last_uid: int
    server_count: int | None
    stored_count: int
    skipped_count: int
    failed_count: int
    # Answered without their body (or sender header): the cursor waits below the first of them.
    waiting_uids: list[int]
    last_synced_at: datetime | None


@dataclass
class MailboxStatus:
    name: str
    configured: bool
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    folders: dict[str, FolderStatus]


def mailbox_statuses(db: Session, *, configured: Sequence[str]) -> list[MailboxStatus]:
    """Poll health and per-folder counts of every mailbox: configured ones not yet polled too."""
    mailboxes = {m.name: m for m in mailbox_repository.list_mailboxes(db)}
    result = []
    for name in sorted(set(configured) | set(mailboxes)):
        mailbox = mailboxes.get(name)
        folders = {
            cursor.role.value: FolderStatus(
                path=cursor.path,
                uidvalidity=cursor.uidvalidity,
                last_uid=cursor.last_uid,
                server_count=cursor.server_count,
                stored_count=ingest_repository.stored_count(db, cursor),
                skipped_count=cursor.skipped_count,
                failed_count=ingest_repository.failed_count(db, cursor),
                waiting_uids=ingest_repository.waiting_uids(db, cursor),
                last_synced_at=cursor.last_synced_at,
            )
            for cursor in (mailbox.folders if mailbox else [])
        }
        result.append(
            MailboxStatus(
                name=name,
                configured=name in configured,
                last_poll_at=mailbox.last_poll_at if mailbox else None,
                last_success_at=mailbox.last_success_at if mailbox else None,
                last_error_at=mailbox.last_error_at if mailbox else None,
                last_error=mailbox.last_error if mailbox else None,
                consecutive_failures=mailbox.consecutive_failures if mailbox else 0,
                folders=folders,
            )
        )
    return result
