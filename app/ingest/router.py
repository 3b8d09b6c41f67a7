from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from app.deps import AdminUser, SessionDep, SettingsDep
from app.ingest import repository as ingest_repository
from app.ingest import status as ingest_status

router = APIRouter(prefix="/api/v1", tags=["mailboxes"])


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
def list_mailboxes(
    db: SessionDep, settings: SettingsDep, _: AdminUser
) -> list[ingest_status.MailboxStatus]:
    """Each mailbox's poll health and, per folder (inbox, sent, spam), the server's count beside
    what is stored, skipped (spam not whitelisted) and failed (dead letters)."""
    return ingest_status.mailbox_statuses(db, configured=[m.name for m in settings.mailboxes])


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
            size_bytes=len(letter.raw or b""),  # no message: the server never gave it
            created_at=letter.created_at,
        )
        for letter in ingest_repository.unresolved_dead_letters(db)
    ]
