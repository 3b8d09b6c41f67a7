"""Walmart's order events read into plain facts, one per order line: from an ORDER_UPDATES
notification, or from the orders a poll of recent orders returns. Pure: dicts in, frozen data out.

A notification (Walmart's "Order management event" page) is ``{"source": {"eventType":
"ORDER_UPDATES", "eventId", "eventTime", ...}, "payload": {"subEventType": "INTENT_TO_CANCEL",
"order": {"purchaseOrderId", "customerOrderId", "orderLines": [{"lineNumber", "productName",
...}]}}}``. The standalone events Walmart deprecates on 2026-12-15 (``source.eventType`` is the
sub-event itself, the order's fields directly in ``payload``) are read the same way.

The Orders API has no event list: a poll sees the order's lines. A line the customer asked to
cancel carries ``intentToCancel`` (the flag the shipping API's ``intentToCancelOverride``
overrides); a cancelled line's ``cancellationReason`` says fraud or an automatic cancellation.
Walmart documents neither field's values for a cancellation request, so the words are kept here,
in one place (a guess, see the README).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.walmart.orders import MAX_TEXT, as_list, dig, purchase_orders, text_of, walmart_time

ORDER_UPDATES = "ORDER_UPDATES"
INTENT_TO_CANCEL = "INTENT_TO_CANCEL"
PO_LINE_AUTOCANCELLED = "PO_LINE_AUTOCANCELLED"
FRAUD_CANCEL = "FRAUD_CANCEL"
# What slawatch keeps; PO_CREATED and sub-events Walmart adds later are acknowledged, not kept.
KEPT = (INTENT_TO_CANCEL, PO_LINE_AUTOCANCELLED, FRAUD_CANCEL)
# Events that end a cancellation request: the line is cancelled, nothing is left to decide.
CANCELLED = (PO_LINE_AUTOCANCELLED, FRAUD_CANCEL)

_YES = {"y", "yes", "true", "1"}
MAX_ID = 40
MAX_LINE = 20


class UnreadableEvent(ValueError):
    """A notification that is not one of Walmart's order events; the text says what is wrong."""


@dataclass(frozen=True)
class EventFact:
    kind: str
    purchase_order_id: str
    customer_order_id: str | None
    line_number: str  # "" when the event names no line
    product_name: str | None
    occurred_at: datetime
    event_id: str | None


def read_notification(document: Any, *, received_at: datetime) -> list[EventFact]:
    """The facts of one notification, one per line; [] for a sub-event slawatch does not keep.
    UnreadableEvent when it is not an order event at all."""
    if not isinstance(document, dict):
        raise UnreadableEvent("the body is not a JSON object")
    source = document.get("source")
    payload = document.get("payload")
    if not isinstance(source, dict) or not isinstance(payload, dict):
        raise UnreadableEvent("an order event has a 'source' and a 'payload' object")
    event_type = _cut(source.get("eventType"), MAX_ID * 2)
    if event_type == ORDER_UPDATES:
        kind = _cut(payload.get("subEventType"), MAX_ID * 2)
        order = payload.get("order")
    else:
        kind, order = event_type, payload
    if not kind:
        raise UnreadableEvent("source.eventType (and payload.subEventType) name the event")
    if kind not in KEPT:
        return []
    if not isinstance(order, dict):
        raise UnreadableEvent(f"{kind}: the order is missing (payload.order)")
    purchase_order = _cut(order.get("purchaseOrderId"), MAX_ID)
    if not purchase_order:
        raise UnreadableEvent(f"{kind}: the order has no purchaseOrderId")
    occurred = walmart_time(source.get("eventTime")) or received_at
    lines = [line for line in as_list(order.get("orderLines")) if isinstance(line, dict)]
    facts = [
        EventFact(
            kind=kind,
            purchase_order_id=purchase_order,
            customer_order_id=_cut(order.get("customerOrderId"), MAX_ID),
            line_number=_cut(line.get("lineNumber"), MAX_LINE) or "",
            product_name=_cut(line.get("productName"), MAX_TEXT)
            or _cut(dig(line, "item", "productName"), MAX_TEXT),
            occurred_at=occurred,
            event_id=_cut(source.get("eventId"), 100),
        )
        for line in lines or [{}]
    ]
    return list({f.line_number: f for f in facts}.values())  # a line named twice is one


def read_orders(document: Any, *, seen_at: datetime) -> Iterator[EventFact]:
    """The events visible in a page of ``GET /v3/orders``: lines with a cancellation request,
    lines cancelled for fraud or automatically. ``seen_at`` stands for when, as the Orders API
    does not say when a request was made."""
    for order in purchase_orders(document):
        purchase_order = _cut(order.get("purchaseOrderId"), MAX_ID)
        if not purchase_order:
            continue
        for line in as_list(dig(order, "orderLines", "orderLine")):
            if not isinstance(line, dict):
                continue
            kind = _line_event(line)
            if kind is None:
                continue
            yield EventFact(
                kind=kind,
                purchase_order_id=purchase_order,
                customer_order_id=_cut(order.get("customerOrderId"), MAX_ID),
                line_number=_cut(line.get("lineNumber"), MAX_LINE) or "",
                product_name=_cut(dig(line, "item", "productName"), MAX_TEXT),
                occurred_at=seen_at,
                event_id=None,
            )


def _line_event(line: dict[str, Any]) -> str | None:
    statuses = [
        s for s in as_list(dig(line, "orderLineStatuses", "orderLineStatus")) if isinstance(s, dict)
    ]
    for status in statuses:
        if str(status.get("status") or "").lower() != "cancelled":
            continue
        reason = str(status.get("cancellationReason") or "").upper()
        if "FRAUD" in reason:
            return FRAUD_CANCEL
        if "AUTO" in reason:
            return PO_LINE_AUTOCANCELLED
    cancelled = any(str(s.get("status") or "").lower() == "cancelled" for s in statuses)
    flag = line.get("intentToCancel")
    asked = flag is True or (isinstance(flag, str) and flag.strip().lower() in _YES)
    return INTENT_TO_CANCEL if asked and not cancelled else None


def _cut(value: Any, limit: int) -> str | None:
    text = text_of(value)
    return text[:limit] if text else None
