from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from app.deps import AdminUser, SessionDep
from app.ids import RowId
from app.models import AuditEntry

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
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEntry.action == action)
    if before_id:
        query = query.where(AuditEntry.id < before_id)
    return [AuditOut.model_validate(e) for e in db.scalars(query)]
