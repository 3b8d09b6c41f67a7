from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from app.alerts import repository
from app.deps import SessionDep, ViewerUser
from app.enums import AlertState
from app.ids import RowId

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class AlertOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: str
    state: AlertState
    urgent: bool
    thread_id: int | None
    mailbox_id: int | None
    recipients: list[str]
    subject: str
    detail: dict[str, Any]
    deliver_after: datetime
    attempts: int
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None


@router.get("/alerts")
def list_alerts(
    db: SessionDep,
    _: ViewerUser,
    state: AlertState | None = None,
    before_id: Annotated[RowId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlertOut]:
    """Alerts sent, pending (with when they may go out) and failed (with the reason), newest
    first; page with `before_id` = the last id seen."""
    alerts = repository.recent(db, state=state, before_id=before_id, limit=limit)
    return [AlertOut.model_validate(a) for a in alerts]
