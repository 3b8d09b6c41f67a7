"""Walmart's Seller Response Rate documents read without I/O: the summary's JSON and the report's
Excel workbook (openpyxl), into plain data.

Where the shapes come from. The summary (``GET /v3/insights/performance/srr/summary
?reportDuration=30``): Walmart's page "Retrieve seller response rate summary" names the
``cumulativeRateTrend`` field (GREEN_UP, GREEN_DOWN, NEUTRAL, RED_UP, RED_DOWN; older pages also
GREEN/YELLOW/RED) and says the answer has the rate, trend, impacted customer counts and a risk
level; public clients of the Insights API read them as ``payload.cumulativeRate`` (or
``overallRate`` / ``sellerAccountableRate``, a percentage), ``payload.impactedCustomerCount``,
``payload.riskLevel`` / ``performanceRiskLevel`` and ``payload.reportDuration``, and treat HTTP 204
as "no data yet". Those names are read here; anything else is ignored.

The report (``.../srr/report?reportDuration=60``) is answered directly (a synchronous call,
``accept: application/octet-stream``) as an .xlsx file. Walmart does not publish its columns: the
headings below are guesses, matched loosely (case, spaces and punctuation ignored) and in several
spellings; the sheet's first row naming an order column is taken as the headings. Every cell is
kept by heading, so a report with other columns is still stored and shown.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

DEADLINE = timedelta(hours=48)
HEADER_SEARCH_ROWS = 10
MAX_ROWS = 50_000

# Loose spellings of each column's heading (lower case, letters and digits only).
_COLUMNS = {
    "purchase_order_id": ("purchaseordernumber", "purchaseorderid", "ponumber", "po", "poid"),
    "customer_order_id": (
        "customerordernumber",
        "customerorderid",
        "salesordernumber",
        "salesorderid",
        "ordernumber",
        "orderid",
    ),
    "received_at": (
        "messagereceiveddate",
        "messagereceivedtime",
        "messagereceived",
        "inquirydate",
        "inquiryreceiveddate",
        "receiveddate",
        "messagedate",
        "customermessagedate",
    ),
    "responded_at": (
        "responsedate",
        "respondeddate",
        "sellerresponsedate",
        "firstresponsedate",
        "responsetime",
    ),
    "verdict": (
        "respondedwithin48hours",
        "respondedwithin48hrs",
        "respondedwithin48h",
        "within48hours",
        "responsestatus",
        "slastatus",
        "withinsla",
        "respondedontime",
    ),
}
_YES = {"yes", "y", "true", "1", "ontime", "intime", "responded", "met", "withinsla"}
_NO = {"no", "n", "false", "0", "late", "missed", "notresponded", "breached", "notmet"}


class UnreadableDocument(ValueError):
    """Walmart's answer is not a summary or a report as documented."""


@dataclass(frozen=True)
class RateSummary:
    """One window's figures; ``rate`` a fraction. ``no_data``: Walmart has none yet (HTTP 204)."""

    days: int
    rate: float | None
    trend: str | None = None
    impacted_customers: int | None = None
    risk_level: str | None = None
    no_data: bool = False


@dataclass(frozen=True)
class ReportOrder:
    purchase_order_id: str | None
    customer_order_id: str | None
    received_at: datetime | None
    responded_at: datetime | None
    in_time: bool | None  # Walmart's verdict; None when the report says neither
    row: dict[str, str]


def parse_summary(body: Any, *, days: int) -> RateSummary:
    """The summary JSON (``{"payload": {...}}`` or the fields at the top)."""
    if not isinstance(body, dict):
        raise UnreadableDocument("the summary is not a JSON object")
    inner = body.get("payload")
    payload: dict[str, Any] = inner if isinstance(inner, dict) else body
    percent = next(
        (
            payload[k]
            for k in ("cumulativeRate", "overallRate", "sellerAccountableRate")
            if _number(payload.get(k)) is not None
        ),
        None,
    )
    if percent is None:
        raise UnreadableDocument("the summary has no rate (cumulativeRate or overallRate)")
    rate = float(percent) / 100
    if not 0 <= rate <= 1:
        raise UnreadableDocument(f"the summary's rate {percent!r} is not a percentage")
    impacted = _number(payload.get("impactedCustomerCount"))
    return RateSummary(
        days=int(_number(payload.get("reportDuration")) or days),
        rate=rate,
        trend=_text(payload.get("cumulativeRateTrend") or payload.get("overallTrend")),
        impacted_customers=int(impacted) if impacted is not None else None,
        risk_level=_text(payload.get("riskLevel") or payload.get("performanceRiskLevel")),
    )


def no_data(days: int) -> RateSummary:
    return RateSummary(days=days, rate=None, no_data=True)


def parse_report(content: bytes) -> list[ReportOrder]:
    """The report workbook's orders (first sheet), in the file's order."""
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many kinds for a file that is not a workbook
        raise UnreadableDocument(f"the report is not an .xlsx workbook ({type(e).__name__})") from e
    try:
        sheet = book.worksheets[0] if book.worksheets else None
        if sheet is None:
            raise UnreadableDocument("the report workbook has no sheet")
        return _orders(sheet.iter_rows(values_only=True))
    finally:
        book.close()


def _orders(rows: Iterable[tuple[Any, ...]]) -> list[ReportOrder]:
    iterator = iter(rows)
    headings: list[str] | None = None
    for _ in range(HEADER_SEARCH_ROWS):
        row = next(iterator, None)
        if row is None:
            break
        names = [_cell_text(c) for c in row]
        found = _columns(names)
        if "purchase_order_id" in found or "customer_order_id" in found:
            headings, columns = names, found
            break
    if headings is None:
        raise UnreadableDocument("the report has no purchase or customer order column")
    orders: list[ReportOrder] = []
    for row in iterator:
        if len(orders) >= MAX_ROWS:
            break
        cells = {h: _cell_text(v) for h, v in zip(headings, row, strict=False) if h}
        if not any(cells.values()):
            continue
        values = {key: row[i] if i < len(row) else None for key, i in columns.items()}
        po = _order_number(values.get("purchase_order_id"))
        co = _order_number(values.get("customer_order_id"))
        if po is None and co is None:
            continue
        received = _moment(values.get("received_at"))
        responded = _moment(values.get("responded_at"))
        orders.append(
            ReportOrder(
                purchase_order_id=po,
                customer_order_id=co,
                received_at=received,
                responded_at=responded,
                in_time=_verdict(values.get("verdict"), received, responded),
                row=cells,
            )
        )
    return orders


def _columns(headings: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, heading in enumerate(headings):
        key = re.sub(r"[^a-z0-9]", "", heading.lower())
        for column, spellings in _COLUMNS.items():
            if key in spellings and column not in found:
                found[column] = index
    return found


def _verdict(value: Any, received: datetime | None, responded: datetime | None) -> bool | None:
    if isinstance(value, bool):
        return value
    word = re.sub(r"[^a-z0-9]", "", _cell_text(value).lower())
    if word in _YES:
        return True
    if word in _NO:
        return False
    if received is not None:
        # No verdict column: Walmart's rule, a response within 48 hours of receipt.
        return responded is not None and responded - received <= DEADLINE
    return None


def _order_number(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a number Excel stored as a float
    digits = re.sub(r"[\s-]", "", _cell_text(value))
    return digits if digits.isdigit() and len(digits) <= 40 else None


def _moment(value: Any) -> datetime | None:
    """A cell's date and time, as UTC (Walmart's reports give no zone: UTC is assumed)."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    text = _cell_text(value)
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        for pattern in ("%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y"):
            try:
                parsed = datetime.strptime(text, pattern)
                break
            except ValueError:
                continue
        else:
            return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).strip()[:500]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value else None  # NaN is no number
    if isinstance(value, str):
        try:
            return float(value.strip().rstrip("%"))
        except ValueError:
            return None
    return None


def _text(value: Any) -> str | None:
    return str(value)[:60] if value not in (None, "") else None
