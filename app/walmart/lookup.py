"""Finding the order a thread names: as a purchase order (``GET /v3/orders/{purchaseOrderId}``)
or as a customer order resolved to its purchase orders (``GET /v3/orders?customerOrderId=``),
then the customer order's returns (``GET /v3/returns?customerOrderId=``).

A bare 13 or 15-digit number does not say which it is: a 15-digit number starting 2000 is tried
as a customer order first, any other as a purchase order first, and the other way when the first
is not found. Only GET calls: see app.walmart.client.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.errors import WalmartApiError
from app.walmart.client import WalmartClient
from app.walmart.orders import Order, parse_order, purchase_orders, return_orders


@dataclass(frozen=True)
class Found:
    order: Order
    # A problem with the returns that did not stop the order being read (the API key may lack
    # the Returns permission): recorded on the mailbox's health.
    returns_problem: WalmartApiError | None = None


def looks_like_customer_order(number: str) -> bool:
    return len(number) == 15 and number.startswith("2000")


def find_order(client: WalmartClient, order_number: str) -> Found:
    """The order ``order_number`` names; WalmartApiError ``not_found`` when Walmart has no
    such purchase or customer order (orders older than 180 days are not found either)."""
    number = order_number.replace("-", "").strip()
    if not number.isdigit():
        raise WalmartApiError("not_found", f"{order_number!r} is not a Walmart order number")
    tries = [_as_customer_order, _as_purchase_order]
    if not looks_like_customer_order(number):
        tries.reverse()
    for attempt in tries:
        found = attempt(client, number)
        if found:
            break
    else:
        raise WalmartApiError(
            "not_found",
            f"Walmart has no purchase or customer order {number} for this seller (the Orders "
            "API keeps the last 180 days)",
        )
    customer_order = found[0].get("customerOrderId")
    returns: list[dict[str, Any]] = []
    problem = None
    if customer_order:
        try:
            returns = _returns(client, str(customer_order))
        except WalmartApiError as e:
            if e.kind not in ("auth", "forbidden"):
                raise
            problem = WalmartApiError(e.kind, f"returns not read: {e.reason}")
    return Found(parse_order(found, returns), problem)


def _as_purchase_order(client: WalmartClient, number: str) -> list[dict[str, Any]]:
    return purchase_orders(_read(client, f"/v3/orders/{number}"))


def _as_customer_order(client: WalmartClient, number: str) -> list[dict[str, Any]]:
    return purchase_orders(_read(client, "/v3/orders", {"customerOrderId": number}))


def _returns(client: WalmartClient, customer_order: str) -> list[dict[str, Any]]:
    return return_orders(_read(client, "/v3/returns", {"customerOrderId": customer_order}))


def _read(client: WalmartClient, path: str, params: dict[str, str] | None = None) -> Any:
    """The JSON document at ``path``; None when Walmart has nothing there (404, or 400: a
    number of the other kind refused as malformed)."""
    answer = client.get(path, params)
    if answer.status in (400, 404):
        return None
    if answer.status == 403:
        raise WalmartApiError(
            "forbidden",
            f"Walmart refused {path} (HTTP 403): the API key needs read access to orders and "
            "returns",
        )
    if answer.status != 200:
        raise WalmartApiError("unreachable", f"Walmart answered HTTP {answer.status} for {path}")
    if not isinstance(answer.body, dict):
        raise WalmartApiError("unreachable", f"Walmart answered {path} without a JSON document")
    return answer.body
