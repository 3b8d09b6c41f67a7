"""The poll of recent orders: the order events of sellers who have no public endpoint for
Walmart's webhooks (and the ones a webhook missed), found in ``GET /v3/orders`` filtered by
``lastModifiedStartDate``. Read only, a few pages per mailbox per round; each mailbox's events
are kept, with how far it read, in one unit of work after its HTTP calls."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

from sqlalchemy.orm import Session, sessionmaker

from app.config import MailboxSettings, Settings
from app.db import session_scope
from app.errors import WalmartApiError
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.walmart import events_repository, events_service
from app.walmart import repository as order_repository
from app.walmart.client import WalmartClient
from app.walmart.events import INTENT_TO_CANCEL, EventFact, read_orders
from app.walmart.orders import dig, purchase_orders, text_of

log = logging.getLogger(__name__)

EVENTS_SECONDS = 300  # a round every five minutes (the webhook is the fast path)
PAGES = 5  # at most this many GET calls per mailbox per round
PAGE_SIZE = "100"
# The first round reads a day back; later ones from where the last stopped, a little earlier so
# an order modified while the last round read is not missed.
FIRST_LOOKBACK = timedelta(days=1)
OVERLAP = timedelta(minutes=10)


@dataclass
class Page:
    """What the pages of one round showed: the events, and which orders still ask to cancel."""

    facts: list[EventFact] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)  # purchase and customer order numbers
    still_requested: set[str] = field(default_factory=set)
    complete: bool = True  # every modified order was read (no page left for the next round)


def read_recent(mailbox: MailboxSettings, *, since: datetime, at: datetime) -> Page:
    """The orders modified since ``since``, at most PAGES pages; WalmartApiError when Walmart
    cannot be read."""
    client = WalmartClient(mailbox)
    result = Page()
    params: dict[str, str] = {
        "lastModifiedStartDate": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "limit": PAGE_SIZE,
    }
    for _ in range(PAGES):
        answer = client.get("/v3/orders", params)
        if answer.status == 404:  # Walmart's answer when no order matches
            return result
        if answer.status != 200:
            raise WalmartApiError(
                "unreachable", f"Walmart answered HTTP {answer.status} to the recent orders"
            )
        for order in purchase_orders(answer.body):
            numbers = (order.get("purchaseOrderId"), order.get("customerOrderId"))
            result.seen |= {n for n in numbers if isinstance(n, str)}
        facts = list(read_orders(answer.body, seen_at=at))
        result.facts += facts
        for fact in facts:
            if fact.kind == INTENT_TO_CANCEL:
                result.still_requested |= {fact.purchase_order_id, fact.customer_order_id or ""}
        cursor = text_of(dig(answer.body, "list", "meta", "nextCursor"))
        if not cursor:
            return result
        # Walmart's nextCursor is the query string of the next page.
        params = dict(parse_qsl(cursor.lstrip("?")))
    result.complete = False
    return result


def poll_events(session_factory: sessionmaker[Session], settings: Settings, *, at: datetime) -> int:
    """One round over the mailboxes with API credentials; how many new events were kept."""
    with session_scope(session_factory) as db:
        work = []
        for mailbox in registry.active(db, settings):
            row = mailbox_repository.mailbox_by_name(db, mailbox.name)
            if mailbox.has_walmart_api and row is not None:
                work.append((mailbox, row.id, row.order_events_read_until))
    new = 0
    for mailbox, mailbox_id, read_until in work:
        since = (read_until - OVERLAP) if read_until else at - FIRST_LOOKBACK
        try:
            page = read_recent(mailbox, since=since, at=at)
        except WalmartApiError as e:
            log.warning("mailbox %s: recent orders not read: %s", mailbox.name, e.reason)
            with session_scope(session_factory) as db:
                order_repository.record_health(
                    db, mailbox_id=mailbox_id, at=at, kind=e.kind, error=e.reason
                )
            continue
        except Exception:  # one mailbox's surprise must not stop the others' rounds
            log.exception("mailbox %s: reading recent orders failed", mailbox.name)
            continue
        with session_scope(session_factory) as db:
            recorded = events_service.record(
                db,
                mailbox=mailbox,
                mailbox_id=mailbox_id,
                facts=page.facts,
                source="poll",
                settings=settings,
                at=at,
            )
            events_service.settled(
                db, mailbox_id=mailbox_id, still_requested=page.still_requested, seen=page.seen
            )
            if page.complete:
                events_repository.mark_read_until(db, mailbox_id=mailbox_id, at=at)
        new += recorded.new
    return new
