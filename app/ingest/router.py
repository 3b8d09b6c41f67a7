from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import AdminUser, SessionDep, SettingsDep
from app.ingest import repository, service

router = APIRouter(prefix="/api/v1", tags=["mailboxes"])


class FolderOut(BaseModel):
    path: str
    uidvalidity: int | None
    last_uid: int
    server_count: int | None
    stored_count: int
    skipped_count: int
    failed_count: int
    last_synced_at: datetime | None


class MailboxOut(BaseModel):
    name: str
    configured: bool
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    folders: dict[str, FolderOut]


class DeadLetterOut(BaseModel):
    id: int
    mailbox: str
    folder: str
    uid: int
    uidvalidity: int
    error: str
    attempts: int
    size_bytes: int
    created_at: datetime


@router.get("/mailboxes")
def list_mailboxes(db: SessionDep, settings: SettingsDep, _: AdminUser) -> list[MailboxOut]:
    """Each mailbox's poll health and, per folder (inbox, sent, spam), the server's count beside
    what is stored, skipped (spam not whitelisted) and failed (dead letters)."""
    statuses = service.mailbox_statuses(db, configured=[m.name for m in settings.mailboxes])
    return [MailboxOut.model_validate(s, from_attributes=True) for s in statuses]


@router.get("/dead-letters")
def list_dead_letters(db: SessionDep, _: AdminUser) -> list[DeadLetterOut]:
    """Fetched messages that could not be processed; kept raw, retried by `slawatch replay`."""
    return [
        DeadLetterOut(
            id=letter.id,
            mailbox=letter.cursor.mailbox.name,
            folder=letter.cursor.role,
            uid=letter.uid,
            uidvalidity=letter.uidvalidity,
            error=letter.error,
            attempts=letter.attempts,
            size_bytes=len(letter.raw),
            created_at=letter.created_at,
        )
        for letter in repository.unresolved_dead_letters(db)
    ]
