"""``POST /webhooks/walmart/{name}``: Walmart's ORDER_UPDATES notifications for one seller
account (a mailbox).

Walmart's subscription API (``POST /v3/webhooks/subscriptions``) sends the custom ``headers`` of
a subscription with every notification; the subscription names SECRET_HEADER with the secret
the mailbox's ``walmart_webhook_secret_env`` / ``_file`` holds, compared here in constant time.
No such mailbox (or one receiving no webhooks): 404; a missing or wrong secret: 401; a body
that is not JSON, or not an order event: 400 saying why. Anything else is 200, including a
sub-event slawatch does not keep and an event it has already (Walmart retries until it gets 200).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from pydantic import BaseModel, Field

from app.clock import now
from app.deps import SessionDep, SettingsDep
from app.errors import ConfigError, HttpError, NotFound, Unauthenticated
from app.http_errors import errors
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.walmart import events_service
from app.walmart.events import UnreadableEvent, read_notification

log = logging.getLogger(__name__)

router = APIRouter(tags=["webhooks"])

SECRET_HEADER = "X-Slawatch-Webhook-Secret"
MAX_BODY = 1024 * 1024  # an order event is a few kilobytes


class EventsReceivedOut(BaseModel):
    events: int = Field(description="order lines the notification named that slawatch keeps")
    new: int = Field(description="of those, the ones not received before (by webhook or poll)")


async def _body(request: Request) -> bytes:
    return await request.body()


@router.post("/webhooks/walmart/{name}", responses=errors(400, 401, 404, 413))
def receive_order_event(
    name: Annotated[str, Path(max_length=100, description="the mailbox")],
    body: Annotated[bytes, Depends(_body)],
    db: SessionDep,
    settings: SettingsDep,
    secret: Annotated[str | None, Header(alias=SECRET_HEADER, max_length=500)] = None,
) -> EventsReceivedOut:
    """An ORDER_UPDATES notification from Walmart (no token: the subscription's secret header
    `X-Slawatch-Webhook-Secret`). A cancellation request (INTENT_TO_CANCEL) alerts the team at
    once and puts the order's thread first in the queue; PO_LINE_AUTOCANCELLED and FRAUD_CANCEL
    are recorded on the thread. The same event twice is kept once."""
    configured = registry.settings_for(db, settings, name)
    if configured is None or not configured.receives_walmart_webhooks:
        raise NotFound(f"no mailbox {name!r} receives Walmart webhooks")
    try:
        expected = configured.walmart_webhook_secret().get_secret_value()
    except ConfigError as e:
        log.error("Walmart webhook for mailbox %s refused: %s", name, e.message)
        expected = None
    if (
        expected is None
        or secret is None
        or not hmac.compare_digest(secret.encode(), expected.encode())
    ):
        raise Unauthenticated(f"send the subscription's secret in the {SECRET_HEADER} header")
    if len(body) > MAX_BODY:
        raise HttpError("an order event is at most 1 MiB", status_code=413)
    at = now()
    try:
        facts = read_notification(json.loads(body), received_at=at)
    except (ValueError, RecursionError) as e:
        reason = str(e) if isinstance(e, UnreadableEvent) else "the body is not valid JSON"
        raise HttpError(f"not an order event: {reason}", status_code=400) from None
    row = mailbox_repository.get_or_create_mailbox(db, configured.name)
    recorded = events_service.record(
        db,
        mailbox=configured,
        mailbox_id=row.id,
        facts=facts,
        source="webhook",
        settings=settings,
        at=at,
    )
    return EventsReceivedOut(events=len(facts), new=recorded.new)
