"""Walmart's order and return documents read into the order a person sees beside a message.

Pure: dicts from the Orders API (``GET /v3/orders/{purchaseOrderId}`` answers ``{"order": ...}``,
``GET /v3/orders?customerOrderId=`` answers ``{"list": {"elements": {"order": [...]}}}``) and the
Returns API (``{"returnOrders": [...]}``) in, frozen data out. Field names follow Walmart's
documentation: ``purchaseOrderId``, ``customerOrderId``, ``orderDate`` (epoch milliseconds),
``shippingInfo.estimatedDeliveryDate``, ``orderLines.orderLine[].orderLineStatuses
.orderLineStatus[].trackingInfo`` (``shipDateTime``, ``carrierName.carrier`` or
``.otherCarrier``, ``trackingNumber``, ``trackingURL``); returns' ``returnOrderId`` and their
lines' ``status`` / ``currentRefundStatus`` (or ``currentTrackingStatuses``). Anything missing
or of the wrong type is left out, never guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

# Orders fulfilled through Amazon Multi-Channel Fulfilment are confirmed in Seller Center with
# carrier USPS and this tracking number (the first seed's SOP): a placeholder, never real
# tracking, and never to be quoted to a customer.
PLACEHOLDER_CARRIER = "USPS"
PLACEHOLDER_TRACKING_NUMBER = "12345"

# How far along a line is, to name the order's status when its lines differ.
_SHIPPED = {"shipped", "delivered"}
_NOT_SHIPPED = {"created", "acknowledged"}
MAX_TEXT = 500  # a product name or a status longer than this is cut


@dataclass(frozen=True)
class OrderLine:
    line_number: str | None
    product_name: str | None
    status: str | None
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None  # http(s) only; anything else is dropped
    shipped_at: datetime | None
    placeholder_tracking: bool

    @property
    def real_tracking(self) -> bool:
        return bool(self.tracking_number) and not self.placeholder_tracking


@dataclass(frozen=True)
class ReturnOrder:
    return_order_id: str | None
    status: str | None
    refund_status: str | None


@dataclass(frozen=True)
class Order:
    purchase_order_id: str | None
    customer_order_id: str | None
    status: str | None
    order_date: datetime | None
    estimated_delivery: datetime | None
    lines: tuple[OrderLine, ...] = ()
    returns: tuple[ReturnOrder, ...] = field(default_factory=tuple)

    def tracking_numbers(self) -> frozenset[str]:
        """The real tracking numbers of the order's lines (placeholders left out)."""
        return frozenset(
            line.tracking_number
            for line in self.lines
            if line.real_tracking and line.tracking_number
        )

    def placeholder_numbers(self) -> frozenset[str]:
        return frozenset(
            line.tracking_number
            for line in self.lines
            if line.placeholder_tracking and line.tracking_number
        )

    def to_json(self) -> dict[str, Any]:
        """For the order_copies table: datetimes as ISO 8601 text."""
        return _jsonable(asdict(self))

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Order:
        return cls(
            purchase_order_id=data.get("purchase_order_id"),
            customer_order_id=data.get("customer_order_id"),
            status=data.get("status"),
            order_date=_iso(data.get("order_date")),
            estimated_delivery=_iso(data.get("estimated_delivery")),
            lines=tuple(
                OrderLine(
                    line_number=line.get("line_number"),
                    product_name=line.get("product_name"),
                    status=line.get("status"),
                    carrier=line.get("carrier"),
                    tracking_number=line.get("tracking_number"),
                    tracking_url=safe_url(line.get("tracking_url")),
                    shipped_at=_iso(line.get("shipped_at")),
                    placeholder_tracking=bool(line.get("placeholder_tracking")),
                )
                for line in data.get("lines") or ()
            ),
            returns=tuple(
                ReturnOrder(
                    return_order_id=r.get("return_order_id"),
                    status=r.get("status"),
                    refund_status=r.get("refund_status"),
                )
                for r in data.get("returns") or ()
            ),
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _iso(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# ---- Walmart's documents --------------------------------------------------------------------


def purchase_orders(document: Any) -> list[dict[str, Any]]:
    """The purchase orders in an Orders API answer: one (``{"order": {...}}``) or a list
    (``{"list": {"elements": {"order": [...]}}}``); empty when it holds none."""
    if not isinstance(document, dict):
        return []
    if isinstance(document.get("order"), dict):
        return [document["order"]]
    elements = dig(document, "list", "elements", "order")
    if elements is None:  # some answers leave out the "list" wrapper
        elements = dig(document, "elements", "order")
    return [o for o in as_list(elements) if isinstance(o, dict)]


def return_orders(document: Any) -> list[dict[str, Any]]:
    """The return orders in a Returns API answer (``{"returnOrders": [...]}``)."""
    if not isinstance(document, dict):
        return []
    return [r for r in as_list(document.get("returnOrders")) if isinstance(r, dict)]


def parse_order(orders: list[dict[str, Any]], returns: Iterable[dict[str, Any]] = ()) -> Order:
    """One order from a customer order's purchase orders (oldest first): the first one's
    numbers and dates, every one's lines, the customer order's returns."""
    if not orders:
        raise ValueError("no purchase order to read")
    orders = sorted(
        orders, key=lambda o: walmart_time(o.get("orderDate")) or datetime.max.replace(tzinfo=UTC)
    )
    first = orders[0]
    lines = [line for order in orders for line in _lines(order)]
    deliveries = [
        d
        for d in (walmart_time(dig(o, "shippingInfo", "estimatedDeliveryDate")) for o in orders)
        if d is not None
    ]
    return Order(
        purchase_order_id=text_of(first.get("purchaseOrderId")),
        customer_order_id=text_of(first.get("customerOrderId")),
        status=overall_status(line.status for line in lines),
        order_date=walmart_time(first.get("orderDate")),
        estimated_delivery=max(deliveries) if deliveries else None,
        lines=tuple(lines),
        returns=tuple(_return(r) for r in returns),
    )


def _lines(order: dict[str, Any]) -> Iterator[OrderLine]:
    for line in as_list(dig(order, "orderLines", "orderLine")):
        if not isinstance(line, dict):
            continue
        statuses = [
            s
            for s in as_list(dig(line, "orderLineStatuses", "orderLineStatus"))
            if isinstance(s, dict)
        ]
        # A line of several units may have a status per shipment; the tracking shown is the
        # first shipment's that has any.
        tracked: dict[str, Any] = next(
            (s["trackingInfo"] for s in statuses if isinstance(s.get("trackingInfo"), dict)), {}
        )
        carrier = _carrier(tracked.get("carrierName"))
        number = text_of(tracked.get("trackingNumber"))
        yield OrderLine(
            line_number=text_of(line.get("lineNumber")),
            product_name=text_of(dig(line, "item", "productName")),
            status=overall_status(text_of(s.get("status")) for s in statuses),
            carrier=carrier,
            tracking_number=number,
            tracking_url=safe_url(tracked.get("trackingURL")),
            shipped_at=walmart_time(tracked.get("shipDateTime")),
            placeholder_tracking=is_placeholder(carrier, number),
        )


def _carrier(value: Any) -> str | None:
    if isinstance(value, dict):
        return text_of(value.get("carrier")) or text_of(value.get("otherCarrier"))
    return text_of(value)


def is_placeholder(carrier: str | None, tracking_number: str | None) -> bool:
    """The MCF placeholder: carrier USPS with tracking number 12345."""
    return (carrier or "").strip().upper() == PLACEHOLDER_CARRIER and (
        tracking_number or ""
    ).strip() == PLACEHOLDER_TRACKING_NUMBER


def _return(document: dict[str, Any]) -> ReturnOrder:
    statuses: list[str | None] = []
    refunds: list[str | None] = []
    for line in as_list(document.get("returnOrderLines")):
        if not isinstance(line, dict):
            continue
        current = [c for c in as_list(line.get("currentTrackingStatuses")) if isinstance(c, dict)]
        statuses += [text_of(c.get("status")) for c in current] or [text_of(line.get("status"))]
        refunds += [text_of(c.get("currentRefundStatus")) for c in current] or [
            text_of(line.get("currentRefundStatus"))
        ]
    return ReturnOrder(
        return_order_id=text_of(document.get("returnOrderId")),
        status=_joined(statuses),
        refund_status=_joined(refunds),
    )


def overall_status(statuses: Iterable[str | None]) -> str | None:
    """One status for lines that may differ: theirs when they agree (cancelled lines aside),
    "Partially shipped" when some shipped and some did not, else the distinct ones joined."""
    known = [s for s in statuses if s]
    if not known:
        return None
    live = [s for s in known if s.lower() not in ("cancelled", "canceled")] or known
    distinct = list(dict.fromkeys(live))
    if len(distinct) == 1:
        return distinct[0]
    lowered = {s.lower() for s in distinct}
    if lowered <= _SHIPPED:
        return "Shipped"
    if lowered & _SHIPPED and lowered & _NOT_SHIPPED:
        return "Partially shipped"
    return ", ".join(distinct)


def _joined(values: Iterable[str | None]) -> str | None:
    distinct = list(dict.fromkeys(v for v in values if v))
    return ", ".join(distinct) if distinct else None


def safe_url(value: Any) -> str | None:
    """An http(s) link with a host, else None: a tracking link is shown as a link."""
    url = text_of(value)
    if not url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        return None
    return url


def walmart_time(value: Any) -> datetime | None:
    """Walmart's dates: epoch milliseconds (a number or digits), or ISO 8601 text."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(float(value) / 1000, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        return _iso(value.strip().replace("Z", "+00:00"))
    return None


def text_of(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | str):
        text = str(value).strip()
        return text[:MAX_TEXT] if text else None
    return None


def dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def as_list(value: Any) -> list[Any]:
    """Walmart sends a one-element list as the element itself in some answers."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]
