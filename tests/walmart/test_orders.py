"""Walmart's order and return documents read into the order beside a thread (pure), and the
lookup by a thread's order number against the API playing Walmart: a purchase order, a customer
order resolved to its purchase orders, returns, and an order Walmart does not have."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.errors import WalmartApiError
from app.walmart.client import WalmartClient
from app.walmart.lookup import find_order
from app.walmart.orders import Order, overall_status, parse_order, purchase_orders, safe_url
from app.walmart.variables import order_values
from tests.support.walmart_api import (
    FakeWalmart,
    order_line,
    purchase_order,
    return_order,
    walmart_mailbox,
)

PO, CO = "108829272810783", "200011419023224"
OLD_PO, OLD_CO = "1815367951431", "4372135469400"


def test_a_shipped_purchase_order_as_walmart_documents_it() -> None:
    document = {"order": purchase_order(PO, CO, [order_line("1", "Kitchen towels")])}
    order = parse_order(purchase_orders(document))
    assert order.purchase_order_id == PO and order.customer_order_id == CO
    assert order.status == "Shipped"
    assert order.order_date == datetime(2026, 11, 25, 10, tzinfo=UTC)
    assert order.estimated_delivery == datetime(2026, 12, 3, 20, tzinfo=UTC)
    (line,) = order.lines
    assert (line.line_number, line.product_name, line.carrier) == ("1", "Kitchen towels", "UPS")
    assert line.tracking_number == "1Z999AA10123456784"
    assert line.tracking_url == "https://www.ups.com/track?tracknum=1Z999AA10123456784"
    assert line.shipped_at == datetime(2026, 11, 28, 15, tzinfo=UTC)
    assert not line.placeholder_tracking
    assert Order.from_json(order.to_json()) == order


def test_usps_12345_is_the_mcf_placeholder_never_a_template_value() -> None:
    lines = [
        order_line(
            "1",
            "Towels",
            carrier="USPS",
            tracking="12345",
            url="https://tools.usps.com/go/TrackConfirmAction?tLabels=12345",
        ),
        order_line("2", "Mugs", carrier="usps", tracking=" 12345 ", other_carrier=True),
    ]
    order = parse_order([purchase_order(PO, CO, lines)])
    assert [line.placeholder_tracking for line in order.lines] == [True, True]
    assert order.tracking_numbers() == frozenset()
    values = order_values(order)
    assert values["tracking_number"] is None and values["carrier"] is None
    assert values["tracking_url"] is None and values["ship_date"] is None
    assert values["order_status"] == "Shipped"
    # USPS with a real number, or 12345 with another carrier, is not the placeholder.
    real = parse_order(
        [
            purchase_order(
                PO, CO, [order_line("1", "T", carrier="USPS", tracking="9400111899223197428490")]
            )
        ]
    )
    assert not real.lines[0].placeholder_tracking
    assert order_values(real)["tracking_number"] == "9400111899223197428490"


def test_template_values_take_the_latest_real_tracking_and_dates_as_people_read_them() -> None:
    lines = [
        order_line("1", "Towels", tracking="1ZAAA", shipped="2026-11-27T10:00:00+00:00"),
        order_line("2", "Mugs", tracking="1ZBBB", shipped="2026-11-29T10:00:00+00:00"),
        order_line(
            "3", "Plates", carrier="USPS", tracking="12345", shipped="2026-11-30T10:00:00+00:00"
        ),
    ]
    order = parse_order(
        [purchase_order(PO, CO, lines)],
        [return_order("RMA1", CO, PO, status="INITIATED", refund="REFUND_PENDING")],
    )
    values = order_values(order)
    assert values["tracking_number"] == "1ZBBB" and values["carrier"] == "UPS"
    assert values["ship_date"] == "November 29, 2026"
    assert values["estimated_delivery"] == "December 3, 2026"
    assert values["return_status"] == "INITIATED"
    assert order.returns[0].refund_status == "REFUND_PENDING"
    assert order_values(None) == dict.fromkeys(values)


def test_only_http_links_are_kept() -> None:
    assert (
        safe_url("https://www.fedex.com/fedextrack/?trknbr=1")
        == "https://www.fedex.com/fedextrack/?trknbr=1"
    )
    for bad in (
        "javascript:alert(1)",
        "data:text/html,<b>x</b>",
        "//evil.example/x",
        "ftp://x/y",
        "https://",
        "https://x.example/a b",
        42,
        None,
    ):
        assert safe_url(bad) is None
    line = order_line("1", "T", url="javascript:alert(document.cookie)")
    assert parse_order([purchase_order(PO, CO, [line])]).lines[0].tracking_url is None


def test_the_status_of_lines_that_differ() -> None:
    assert overall_status(["Shipped", "Shipped"]) == "Shipped"
    assert overall_status(["Shipped", "Cancelled"]) == "Shipped"
    assert overall_status(["Cancelled", "Cancelled"]) == "Cancelled"
    assert overall_status(["Shipped", "Acknowledged"]) == "Partially shipped"
    assert overall_status(["Shipped", "Delivered"]) == "Shipped"
    assert overall_status([None, ""]) is None


def test_documents_with_missing_or_odd_fields_give_what_they_have() -> None:
    odd = {
        "purchaseOrderId": PO,
        "orderLines": {"orderLine": {"lineNumber": 1, "item": {"productName": ["x"]}}},
    }
    order = parse_order(purchase_orders({"list": {"elements": {"order": odd}}}))
    assert order.purchase_order_id == PO and order.customer_order_id is None
    assert order.lines[0].line_number == "1" and order.lines[0].product_name is None
    assert order.lines[0].status is None and order.lines[0].tracking_number is None
    assert purchase_orders({"list": {"elements": {}}}) == [] and purchase_orders("x") == []
    with pytest.raises(ValueError):
        parse_order([])


@pytest.fixture
def shop(walmart: FakeWalmart) -> FakeWalmart:
    walmart.add_order(
        purchase_order(
            PO, CO, [order_line("1", "Kitchen towels")], ordered="2026-11-25T10:00:00+00:00"
        )
    )
    walmart.add_order(
        purchase_order(
            "108829272810799",
            CO,
            [order_line("1", "Mugs", status="Acknowledged", tracking=None)],
            ordered="2026-11-25T10:00:01+00:00",
            delivery="2026-12-06T20:00:00+00:00",
        )
    )
    walmart.add_order(
        purchase_order(OLD_PO, OLD_CO, [order_line("1", "Plates", status="Delivered")])
    )
    walmart.add_return(
        CO, return_order("RMA-77", CO, PO, status="INITIATED", refund="REFUND_PENDING")
    )
    return walmart


def test_a_purchase_order_number_is_read_with_its_customer_orders_returns(
    shop: FakeWalmart,
) -> None:
    found = find_order(WalmartClient(walmart_mailbox(shop)), PO)
    assert found.order.purchase_order_id == PO and found.returns_problem is None
    assert [r.return_order_id for r in found.order.returns] == ["RMA-77"]
    assert shop.calls()[1:] == [("GET", f"/v3/orders/{PO}"), ("GET", "/v3/returns")]
    shop.assert_read_only()


def test_a_customer_order_is_resolved_to_its_purchase_orders(shop: FakeWalmart) -> None:
    found = find_order(WalmartClient(walmart_mailbox(shop)), CO)
    order = found.order
    assert order.purchase_order_id == PO and order.customer_order_id == CO
    assert [line.product_name for line in order.lines] == ["Kitchen towels", "Mugs"]
    assert order.status == "Partially shipped"
    assert order.estimated_delivery == datetime(2026, 12, 6, 20, tzinfo=UTC)
    assert shop.seen[1].path == "/v3/orders" and shop.seen[1].query == {"customerOrderId": CO}


def test_an_older_13_digit_customer_order_after_the_purchase_order_is_not_found(
    shop: FakeWalmart,
) -> None:
    found = find_order(WalmartClient(walmart_mailbox(shop)), "4372135-469400")
    assert found.order.purchase_order_id == OLD_PO
    assert [c[1] for c in shop.calls()[1:3]] == ["/v3/orders/4372135469400", "/v3/orders"]


def test_an_order_walmart_does_not_have(shop: FakeWalmart) -> None:
    with pytest.raises(WalmartApiError) as missing:
        find_order(WalmartClient(walmart_mailbox(shop)), "1234567890123")
    assert missing.value.kind == "not_found" and "1234567890123" in missing.value.reason


def test_returns_the_key_may_not_read_leave_the_order_shown(shop: FakeWalmart) -> None:
    shop.knobs.forbid_returns = True
    found = find_order(WalmartClient(walmart_mailbox(shop)), PO)
    assert found.order.purchase_order_id == PO and found.order.returns == ()
    assert found.returns_problem is not None and found.returns_problem.kind == "forbidden"
