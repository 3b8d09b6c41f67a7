"""All queries on the audit log."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import AuditEntry


def list_entries(
    db: Session, *, action: str | None, before_id: int | None, limit: int
) -> list[AuditEntry]:
    """Entries newest first, of one ``action`` if given, older than ``before_id`` if given."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return list(db.scalars(query))
