from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict

from app.alerts import repository
from app.alerts.channels import repository as channel_repository
from app.deps import SessionDep, ViewerUser
from app.enums import AlertState
from app.ids import RowId

router = APIRouter(prefix="/api/v1", tags=["alerts"])


class DeliveryOut(BaseModel):
    """The alert's delivery to one chat or webhook channel (by its name; never its URL)."""

    model_config = ConfigDict(from_attributes=True)

    channel: str
    channel_kind: str
    state: AlertState
    deliver_after: datetime
    attempts: int
    last_error: str | None
    sent_at: datetime | None


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
    deliveries: list[DeliveryOut] = []


@router.get("/alerts")
def list_alerts(
    db: SessionDep,
    _: ViewerUser,
    state: AlertState | None = None,
    before_id: Annotated[RowId | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[AlertOut]:
    """Alerts sent, pending (with when they may go out) and failed (with the reason), newest
    first, each with its deliveries to chat and webhook channels; `state` is the email's. Page
    with `before_id` = the last id seen."""
    alerts = repository.recent(db, state=state, before_id=before_id, limit=limit)
    deliveries: dict[int, list[DeliveryOut]] = {}
    for delivery in channel_repository.of_alerts(db, [a.id for a in alerts]):
        deliveries.setdefault(delivery.alert_id, []).append(DeliveryOut.model_validate(delivery))
    return [
        AlertOut.model_validate(a).model_copy(update={"deliveries": deliveries.get(a.id, [])})
        for a in alerts
    ]
