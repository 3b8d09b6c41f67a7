"""Walmart's Seller Response Rate documents read without I/O: the summary in the shapes public
clients have seen, and .xlsx reports built with openpyxl under other headings, without a verdict
column, and files that are not reports."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook

from app.walmart.reconciliation import Verdict, Wait, verdict
from app.walmart.srr_documents import UnreadableDocument, parse_report, parse_summary


def test_the_summary_in_its_payload_or_at_the_top() -> None:
    wrapped = parse_summary(
        {
            "payload": {
                "reportDuration": 30,
                "cumulativeRate": 94.2,
                "cumulativeRateTrend": "RED_DOWN",
                "impactedCustomerCount": 7,
                "riskLevel": "URGENT_REVIEW",
            }
        },
        days=30,
    )
    assert wrapped.rate == pytest.approx(0.942) and wrapped.trend == "RED_DOWN"
    assert wrapped.impacted_customers == 7 and wrapped.risk_level == "URGENT_REVIEW"
    flat = parse_summary({"overallRate": "99.1", "performanceRiskLevel": "Good"}, days=60)
    assert flat.rate == pytest.approx(0.991) and flat.days == 60 and flat.risk_level == "Good"


@pytest.mark.parametrize(
    "body", [[], {"payload": {}}, {"cumulativeRate": 140}, {"cumulativeRate": "n/a"}]
)
def test_a_summary_without_a_rate_is_refused(body: object) -> None:
    with pytest.raises(UnreadableDocument):
        parse_summary(body, days=30)


def _xlsx(rows: list[list[object]]) -> bytes:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_report_under_other_headings_and_without_a_verdict_column() -> None:
    content = _xlsx(
        [
            ["PO #", "Sales Order ID", "Inquiry Date", "First Response Date", "Notes"],
            [108829272810783, "2000-1141902-3224", "11/20/2026 10:00", "11/21/2026 09:00", "x"],
            ["108829272810784", None, datetime(2026, 11, 20, 10), datetime(2026, 11, 23, 9), ""],
            ["108829272810785", None, datetime(2026, 11, 20, 10), None, ""],
            [None, None, None, None, "a total line"],
        ]
    )
    orders = parse_report(content)
    assert [(o.purchase_order_id, o.customer_order_id, o.in_time) for o in orders] == [
        ("108829272810783", "200011419023224", True),  # 23 h
        ("108829272810784", None, False),  # 71 h
        ("108829272810785", None, False),  # no response
    ]
    assert orders[0].received_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert orders[0].row["Notes"] == "x"


@pytest.mark.parametrize(
    "content",
    [b"not a workbook", _xlsx([["Date", "Rate"], ["2026-11-20", 95]]), _xlsx([])],
)
def test_a_file_that_is_no_report_is_refused(content: bytes) -> None:
    with pytest.raises(UnreadableDocument):
        parse_report(content)


def test_slawatchs_verdict_on_waits() -> None:
    at = datetime(2026, 12, 1, tzinfo=UTC)
    due = datetime(2026, 12, 3, tzinfo=UTC)
    in_time = Wait(at, due, datetime(2026, 12, 2, tzinfo=UTC), None)
    late = Wait(at, due, datetime(2026, 12, 4, tzinfo=UTC), "seller_center")
    open_ = Wait(at, due, None, None)
    assert verdict([in_time], now=due) == Verdict.IN_TIME
    assert verdict([in_time, late], now=due) == Verdict.LATE
    assert verdict([in_time, open_], now=at) == Verdict.WAITING
    assert verdict([late, open_], now=due) == Verdict.MISSED
    assert verdict([], now=at) is None
