"""The reply templates' values from an order: ``order_status``, ``carrier``, ``tracking_number``,
``tracking_url``, ``ship_date``, ``estimated_delivery``, ``return_status``. Pure.

None (so the template's ``{% if %}`` skips it) when unknown, and always for the MCF placeholder
(USPS 12345): a placeholder is never written into a reply. The tracking values come from one
line: the most recently shipped one with real tracking.
"""

from __future__ import annotations

from datetime import datetime

from app.walmart.orders import Order, OrderLine

ORDER_VARIABLES = (
    "order_status",
    "carrier",
    "tracking_number",
    "tracking_url",
    "ship_date",
    "estimated_delivery",
    "return_status",
)


def _date(value: datetime | None) -> str | None:
    """A date as a customer reads it: "December 5, 2026" (UTC)."""
    return f"{value:%B} {value.day}, {value.year}" if value else None


def _shipped_key(line: OrderLine) -> float:
    return line.shipped_at.timestamp() if line.shipped_at else float("-inf")


def order_values(order: Order | None) -> dict[str, str | None]:
    values: dict[str, str | None] = dict.fromkeys(ORDER_VARIABLES)
    if order is None:
        return values
    real = [line for line in order.lines if line.real_tracking]
    line = max(real, key=_shipped_key) if real else None
    returns = [r.status for r in order.returns if r.status]
    values.update(
        order_status=order.status,
        carrier=line.carrier if line else None,
        tracking_number=line.tracking_number if line else None,
        tracking_url=line.tracking_url if line else None,
        ship_date=_date(line.shipped_at) if line else None,
        estimated_delivery=_date(order.estimated_delivery),
        return_status=", ".join(dict.fromkeys(returns)) if returns else None,
    )
    return values
