"""GET /api/v1/audit: the audit log, for admins."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from app.audit import repository as audit_repository
from app.deps import AdminUser, SessionDep
from app.ids import RowId

router = APIRouter(prefix="/api/v1", tags=["audit"])


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    target_type: str | None
    target_id: str | None
    detail: dict[str, Any]


@router.get("/audit")
def list_audit(
    db: SessionDep,
    _: AdminUser,
    action: Annotated[str | None, Query(max_length=50)] = None,
    before_id: Annotated[RowId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AuditOut]:
    """Who did what, newest first (admin); page with `before_id` = the last id seen."""
    entries = audit_repository.list_entries(db, action=action, before_id=before_id, limit=limit)
    return [AuditOut.model_validate(e) for e in entries]
