"""The audit log: who changed what, and when."""

from typing import Any

from sqlalchemy.orm import Session

from app.models import AuditEntry, User


def _target_type(target: Any) -> str:
    return str(target.__tablename__).removesuffix("s")


def record(
    db: Session,
    *,
    actor: str | User,
    action: str,
    target: Any = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry; the caller's unit of work commits it together with the change itself."""
    user = actor if isinstance(actor, User) else None
    entry = AuditEntry(
        user_id=user.id if user else None,
        actor=user.name if user else str(actor),
        action=action,
        target_type=_target_type(target) if target is not None else None,
        target_id=str(target.id) if target is not None else None,
        detail=detail or {},
    )
    db.add(entry)
    return entry
