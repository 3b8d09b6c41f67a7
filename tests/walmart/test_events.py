"""Walmart's order events read without I/O: ORDER_UPDATES notifications (and the standalone
events Walmart deprecates on 2026-12-15), and the lines of recent orders a poll reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.walmart.events import (
    FRAUD_CANCEL,
    INTENT_TO_CANCEL,
    PO_LINE_AUTOCANCELLED,
    UnreadableEvent,
    read_notification,
    read_orders,
)
from tests.support.walmart_api import (
    cancel_request_line,
    order_line,
    order_updates,
    purchase_order,
)

PO, CO = "108829272810783", "200011419023224"
AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def test_a_cancellation_request_is_one_fact_per_line_at_walmarts_time() -> None:
    document = order_updates(
        INTENT_TO_CANCEL, PO, CO, [("1", "Kitchen towels"), ("2", "Lamp")], event_id="ev-1"
    )
    facts = read_notification(document, received_at=AT)
    assert [(f.kind, f.purchase_order_id, f.line_number, f.product_name) for f in facts] == [
        (INTENT_TO_CANCEL, PO, "1", "Kitchen towels"),
        (INTENT_TO_CANCEL, PO, "2", "Lamp"),
    ]
    assert {f.customer_order_id for f in facts} == {CO}
    assert {f.event_id for f in facts} == {"ev-1"}
    assert {f.occurred_at for f in facts} == {datetime(2026, 12, 2, 9, 30, tzinfo=UTC)}


def test_the_standalone_event_walmart_deprecates_reads_the_same() -> None:
    document = {
        "source": {"eventType": "INTENT_TO_CANCEL", "eventId": "e", "eventTime": "nonsense"},
        "payload": {"purchaseOrderId": PO, "customerOrderId": CO, "orderLines": []},
    }
    (fact,) = read_notification(document, received_at=AT)
    assert (fact.kind, fact.purchase_order_id, fact.line_number) == (INTENT_TO_CANCEL, PO, "")
    assert fact.occurred_at == AT  # an unreadable eventTime: when it arrived


def test_sub_events_slawatch_does_not_keep_are_acknowledged_without_facts() -> None:
    created = order_updates("PO_CREATED", PO, CO, [("1", "x")])
    assert read_notification(created, received_at=AT) == []
    assert read_notification(order_updates("SOMETHING_NEW", PO, CO, []), received_at=AT) == []


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([1, 2], "not a JSON object"),
        ({"source": {}}, "'source' and a 'payload'"),
        ({"source": {}, "payload": {}}, "name the event"),
        ({"source": {"eventType": "ORDER_UPDATES"}, "payload": {"order": {}}}, "name the event"),
        (
            {"source": {"eventType": "ORDER_UPDATES"}, "payload": {"subEventType": FRAUD_CANCEL}},
            "order is missing",
        ),
        (order_updates(FRAUD_CANCEL, "", CO, [("1", "x")]), "no purchaseOrderId"),
    ],
)
def test_what_is_not_an_order_event_says_why(document: object, reason: str) -> None:
    with pytest.raises(UnreadableEvent, match=reason):
        read_notification(document, received_at=AT)


def test_recent_orders_show_requests_and_cancellations_by_line() -> None:
    fraud = order_line("3", "Phone", status="Cancelled", tracking=None)
    fraud["orderLineStatuses"]["orderLineStatus"][0]["cancellationReason"] = "FRAUD_CANCEL"
    auto = order_line("4", "Rug", status="Cancelled", tracking=None)
    auto["orderLineStatuses"]["orderLineStatus"][0]["cancellationReason"] = "AUTO_CANCEL"
    by_seller = cancel_request_line("5", "Mug")  # asked, then cancelled by the seller: settled
    by_seller["orderLineStatuses"]["orderLineStatus"][0]["status"] = "Cancelled"
    document = {
        "list": {
            "elements": {
                "order": [
                    purchase_order(
                        PO,
                        CO,
                        [
                            cancel_request_line("1", "Kitchen towels"),
                            order_line("2", "Lamp"),
                            fraud,
                            auto,
                            by_seller,
                        ],
                    )
                ]
            }
        }
    }
    facts = list(read_orders(document, seen_at=AT))
    assert [(f.kind, f.line_number, f.product_name) for f in facts] == [
        (INTENT_TO_CANCEL, "1", "Kitchen towels"),
        (FRAUD_CANCEL, "3", "Phone"),
        (PO_LINE_AUTOCANCELLED, "4", "Rug"),
    ]
    assert {(f.purchase_order_id, f.customer_order_id, f.occurred_at) for f in facts} == {
        (PO, CO, AT)
    }
