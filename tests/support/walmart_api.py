"""A real HTTP server on 127.0.0.1 playing Walmart's Marketplace API for the tests, from its
documented shapes: ``POST /v3/token`` (client credentials in HTTP Basic; JSON when asked for,
or the ``OAuthTokenDTO`` XML), ``GET /v3/orders/{purchaseOrderId}`` (``{"order": ...}``),
``GET /v3/orders?customerOrderId=`` (``{"list": {"meta": ..., "elements": {"order": [...]}}}``),
``GET /v3/returns?customerOrderId=`` (``{"meta": ..., "returnOrders": [...]}``), and Walmart's
error body (``{"error": [{"code": ..., "description": ...}]}``).

Seller Response Rate (Insights API): ``GET /v3/insights/performance/srr/summary?reportDuration=``
answers ``{"payload": {"reportDuration", "cumulativeRate" (a percentage), "cumulativeRateTrend",
"impactedCustomerCount", "riskLevel"}}`` — ``cumulativeRateTrend`` and its values are named on
Walmart's page "Retrieve seller response rate summary", the other names as public clients of the
Insights API read them (Walmart's page lists rate, trend, impacted customers and risk level
without a sample); HTTP 204 when Walmart has no figure yet. ``GET .../srr/report?reportDuration=``
answers the .xlsx file itself (Walmart's page "Seller response rate reports": a synchronous call
with ``accept: application/octet-stream``), built here with openpyxl; its columns are not
published, so REPORT_HEADINGS is a guess app.walmart.srr_documents reads loosely. Both allow one
call a minute per seller (Walmart's "Seller Performance API endpoints" table): a second call
within the minute (by app.clock, so tests can move time) gets 429 with ``Retry-After: 60``.

Order events: ``GET /v3/orders?lastModifiedStartDate=`` answers every order (``limit`` per page,
``nextCursor`` the query string of the next), as Walmart's list of recent orders does; a line the
customer asked to cancel carries ``intentToCancel: "Y"`` (``cancel_request_line``). Walmart's side
of the webhooks: ``order_updates`` builds an ORDER_UPDATES notification as Walmart's "Order
management event" page documents it (``source`` with ``eventType``, ``eventId``, ``eventTime``;
``payload`` with ``subEventType`` and ``order``), and ``notify`` POSTs it over HTTP to a URL with
the subscription's custom headers, as Walmart delivers it.

Knobs make it misbehave as the real one does: tokens that expire (401), 429 with Retry-After,
5xx, answers slower than a client's timeout, XML where JSON was asked for. Every request is
recorded (method, path, query, headers) so tests can check what slawatch sent, and never sent.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CLIENT_ID = "0f6d4f2e-walmart-test-client"
CLIENT_SECRET = "wm-secret-" + "7" * 24  # tests look for it where it must never be
SECRET_ENV = "SLAWATCH_TEST_WALMART_SECRET"


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


def _millis(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp() * 1000)


def order_line(
    number: str,
    product: str,
    *,
    status: str = "Shipped",
    carrier: str | None = "UPS",
    tracking: str | None = "1Z999AA10123456784",
    url: str | None = "https://www.ups.com/track?tracknum=1Z999AA10123456784",
    shipped: str = "2026-11-28T15:00:00+00:00",
    other_carrier: bool = False,
) -> dict[str, Any]:
    """An ``orderLine`` as Walmart documents it (charges and quantities included)."""
    status_entry: dict[str, Any] = {
        "status": status,
        "statusQuantity": {"unitOfMeasurement": "EACH", "amount": "1"},
        "cancellationReason": None,
    }
    if tracking is not None:
        status_entry["trackingInfo"] = {
            "shipDateTime": _millis(shipped),
            "carrierName": (
                {"otherCarrier": carrier, "carrier": None}
                if other_carrier
                else {"otherCarrier": None, "carrier": carrier}
            ),
            "methodCode": "Standard",
            "trackingNumber": tracking,
            "trackingURL": url,
        }
    return {
        "lineNumber": number,
        "item": {"productName": product, "sku": f"SKU-{number}"},
        "charges": {
            "charge": [
                {
                    "chargeType": "PRODUCT",
                    "chargeName": "ItemPrice",
                    "chargeAmount": {"currency": "USD", "amount": 19.99},
                    "tax": {"taxName": "Tax1", "taxAmount": {"currency": "USD", "amount": 1.2}},
                }
            ]
        },
        "orderLineQuantity": {"unitOfMeasurement": "EACH", "amount": "1"},
        "statusDate": _millis(shipped),
        "orderLineStatuses": {"orderLineStatus": [status_entry]},
        "refund": None,
        "fulfillment": {"fulfillmentOption": "S2H", "shipMethod": "STANDARD"},
    }


def purchase_order(
    po: str,
    co: str,
    lines: list[dict[str, Any]],
    *,
    ordered: str = "2026-11-25T10:00:00+00:00",
    delivery: str = "2026-12-03T20:00:00+00:00",
) -> dict[str, Any]:
    return {
        "purchaseOrderId": po,
        "customerOrderId": co,
        "customerEmailId": "91DDE88D93C64028BE36D7771638A274@relay.walmart.com",
        "orderType": "REGULAR",
        "orderDate": _millis(ordered),
        "shippingInfo": {
            "phone": "2025550100",
            "estimatedDeliveryDate": _millis(delivery),
            "estimatedShipDate": _millis(ordered) + 86_400_000,
            "methodCode": "Standard",
            "postalAddress": {
                "name": "Dora Buyer",
                "address1": "1 Main St",
                "city": "Bentonville",
                "state": "AR",
                "postalCode": "72712",
                "country": "USA",
                "addressType": "RESIDENTIAL",
            },
        },
        "orderLines": {"orderLine": lines},
    }


def return_order(rma: str, co: str, po: str, *, status: str, refund: str) -> dict[str, Any]:
    return {
        "returnOrderId": rma,
        "customerEmailId": "91DDE88D93C64028BE36D7771638A274@relay.walmart.com",
        "customerOrderId": co,
        "returnOrderDate": "2026-11-30T12:00:00.000Z",
        "refundMode": "ONLINE",
        "returnOrderLines": [
            {
                "returnOrderLineNumber": 1,
                "salesOrderLineNumber": 1,
                "returnReason": "DAMAGED",
                "purchaseOrderId": po,
                "purchaseOrderLineNumber": 1,
                "currentTrackingStatuses": [
                    {
                        "status": status,
                        "statusTime": "2026-11-30T12:00:00.000Z",
                        "currentRefundStatus": refund,
                        "quantity": {"unitOfMeasure": "EACH", "measurementValue": 1},
                    }
                ],
            }
        ],
        "returnChannel": {"channelName": "ONLINE"},
    }


def cancel_request_line(number: str, product: str) -> dict[str, Any]:
    """An unshipped line the customer asked to cancel, as the Orders API shows it."""
    line = order_line(number, product, status="Acknowledged", tracking=None)
    line["intentToCancel"] = "Y"
    return line


def order_updates(
    sub_event: str,
    po: str,
    co: str,
    lines: list[tuple[str, str]],
    *,
    event_id: str | None = None,
    event_time: str = "2026-12-02T09:30:00.000Z",
) -> dict[str, Any]:
    """An ORDER_UPDATES notification: ``lines`` as (line number, product name)."""
    return {
        "source": {
            "eventType": "ORDER_UPDATES",
            "eventVersion": "V1",
            "eventId": event_id or str(uuid.uuid4()),
            "eventTime": event_time,
        },
        "payload": {
            "subEventType": sub_event,
            "partnerId": "10000012345",
            "order": {
                "purchaseOrderId": po,
                "customerOrderId": co,
                "orderDate": "2026-12-01T18:00:00.000Z",
                "orderLines": [
                    {
                        "lineNumber": number,
                        "sku": f"SKU-{number}",
                        "productName": product,
                        "quantity": {"unitOfMeasure": "EACH", "measurementValue": 1},
                    }
                    for number, product in lines
                ],
            },
        },
    }


def notify(url: str, body: Any, headers: dict[str, str]) -> Any:
    """POST a notification (a document, or raw bytes) to ``url`` as Walmart does: JSON, with
    the subscription's custom headers; the answer (an httpx.Response)."""
    import httpx

    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(
        url,
        content=data,
        headers={"Content-Type": "application/json", **headers},
        timeout=60,
    )


SRR_PREFIX = "/v3/insights/performance/srr/"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The report's columns (a guess: Walmart does not publish them).
REPORT_HEADINGS = (
    "Purchase Order Number",
    "Customer Order Number",
    "Message Received Date",
    "Response Date",
    "Responded Within 48 Hours",
)


def srr_row(
    po: str, co: str, *, received: str, responded: str | None, in_time: bool
) -> dict[str, Any]:
    """A report row: times as ISO strings (UTC), written as Excel dates."""
    return {
        "Purchase Order Number": po,
        "Customer Order Number": co,
        "Message Received Date": datetime.fromisoformat(received),
        "Response Date": datetime.fromisoformat(responded) if responded else None,
        "Responded Within 48 Hours": "Yes" if in_time else "No",
    }


def srr_workbook(rows: list[dict[str, Any]]) -> bytes:
    """The report as a real .xlsx file: a title line, the headings, then a row per order."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Seller Response Rate"
    sheet.append(["Seller Response Rate report"])
    sheet.append(list(REPORT_HEADINGS))
    for row in rows:
        sheet.append(
            [
                row[h].replace(tzinfo=None) if isinstance(row[h], datetime) else row[h]
                for h in REPORT_HEADINGS
            ]
        )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@dataclass
class Knobs:
    token_lifetime: int = 900
    xml_tokens: bool = False  # answer the token request in XML whatever Accept says
    rate_limited: int = 0  # answer this many GETs 429 first
    retry_after: str | None = "1"
    failing: int | None = None  # answer every GET with this status
    delay: float = 0.0  # seconds before answering a GET
    forbid_returns: bool = False
    srr_no_data: bool = False  # the summary answers 204 (no figure yet)
    forbid_insights: bool = False  # a key without the Insights permission: 403


@dataclass
class WalmartState:
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # by purchase order
    returns: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # by customer order
    tokens: set[str] = field(default_factory=set)
    seen: list[Seen] = field(default_factory=list)
    knobs: Knobs = field(default_factory=Knobs)
    lock: threading.Lock = field(default_factory=threading.Lock)
    srr_rates: dict[int, float] = field(default_factory=lambda: {30: 96.5, 60: 97.25})
    srr_report: list[dict[str, Any]] = field(default_factory=list)  # rows by REPORT_HEADINGS
    srr_calls: dict[str, datetime] = field(default_factory=dict)  # the last call per endpoint
    srr_refused: int = 0  # calls answered 429 by the one-a-minute limit


def _walmart_error(code: str, description: str) -> dict[str, Any]:
    return {
        "error": [
            {
                "code": code,
                "field": code.split(".")[0],
                "description": description,
                "info": description,
                "severity": "ERROR",
                "category": "DATA",
                "causes": [],
                "errorIdentifiers": {},
            }
        ]
    }


class _Handler(BaseHTTPRequestHandler):
    state: WalmartState
    protocol_version = "HTTP/1.1"

    def _record(self) -> tuple[str, dict[str, str]]:
        parts = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        with self.state.lock:
            self.state.seen.append(
                Seen(self.command, parts.path, query, {k: v for k, v in self.headers.items()})
            )
        return parts.path, query

    def do_POST(self) -> None:  # noqa: N802
        path, _ = self._record()
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if path != "/v3/token":
            self._json(404, _walmart_error("CONTENT_NOT_FOUND.GMP_GATEWAY_API", "Not found"))
            return
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        auth = self.headers.get("Authorization", "")
        client = ("", "")
        if auth.startswith("Basic "):
            client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            client = (client_id, secret)
        if client != (CLIENT_ID, CLIENT_SECRET) or form.get("grant_type") != "client_credentials":
            self._json(
                401,
                _walmart_error(
                    "UNAUTHORIZED.GMP_GATEWAY_API", "Unauthorized token or invalid clientId"
                ),
            )
            return
        token = "eyJ" + secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens.add(token)
            lifetime = self.state.knobs.token_lifetime
            xml = self.state.knobs.xml_tokens
        if xml or "application/json" not in self.headers.get("Accept", ""):
            data = (
                '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
                f"<OAuthTokenDTO><accessToken>{token}</accessToken>"
                f"<tokenType>Bearer</tokenType><expiresIn>{lifetime}</expiresIn></OAuthTokenDTO>"
            ).encode()
            self._send(200, "application/xml", data)
        else:
            self._json(200, {"access_token": token, "token_type": "Bearer", "expires_in": lifetime})

    def do_GET(self) -> None:  # noqa: N802
        path, query = self._record()
        knobs = self.state.knobs
        if knobs.delay:
            time.sleep(knobs.delay)
        with self.state.lock:
            valid = self.headers.get("WM_SEC.ACCESS_TOKEN") in self.state.tokens
            limited = knobs.rate_limited > 0
            if valid and limited:
                knobs.rate_limited -= 1
        if not valid:
            self._json(401, _walmart_error("UNAUTHORIZED.GMP_GATEWAY_API", "Unauthorized token"))
            return
        if limited:
            headers = {"Retry-After": knobs.retry_after} if knobs.retry_after else {}
            self._json(429, _walmart_error("TOO_MANY_REQUESTS", "Too many requests"), headers)
            return
        if knobs.failing:
            self._json(knobs.failing, _walmart_error("SYSTEM_ERROR.GMP_GATEWAY_API", "Error"))
            return
        self._answer(path, query)

    def _answer(self, path: str, query: dict[str, str]) -> None:
        state = self.state
        if path.startswith(SRR_PREFIX):
            self._srr(path, query)
            return
        not_found = _walmart_error("CONTENT_NOT_FOUND.GMP_ORDER_API", "No order found")
        if path.startswith("/v3/orders/"):
            order = state.orders.get(path.removeprefix("/v3/orders/"))
            if order is None:
                self._json(404, not_found)
            else:
                self._json(200, {"order": order})
        elif path == "/v3/orders" and "customerOrderId" in query:
            found = [
                o for o in state.orders.values() if o["customerOrderId"] == query["customerOrderId"]
            ]
            if not found:
                self._json(404, not_found)
            else:
                meta = {"totalCount": len(found), "limit": 10, "nextCursor": None}
                self._json(200, {"list": {"meta": meta, "elements": {"order": found}}})
        elif path == "/v3/orders" and "lastModifiedStartDate" in query:
            self._recent_orders(query)
        elif path == "/v3/returns" and "customerOrderId" in query:
            if state.knobs.forbid_returns:
                self._json(403, _walmart_error("FORBIDDEN.GMP_GATEWAY_API", "Forbidden"))
                return
            found = state.returns.get(query["customerOrderId"], [])
            meta = {"totalCount": len(found), "limit": 10, "nextCursor": None}
            self._json(200, {"meta": meta, "returnOrders": found})
        else:
            self._json(404, _walmart_error("CONTENT_NOT_FOUND.GMP_GATEWAY_API", "Not found"))

    def _recent_orders(self, query: dict[str, str]) -> None:
        orders = sorted(self.state.orders.values(), key=lambda o: o["purchaseOrderId"])
        limit, start = int(query.get("limit", "100")), int(query.get("soIndex", "0"))
        page = orders[start : start + limit]
        more = start + limit < len(orders)
        cursor = (
            f"?limit={limit}&hasMoreElements=true&soIndex={start + limit}"
            f"&lastModifiedStartDate={query['lastModifiedStartDate']}"
            if more
            else None
        )
        meta = {"totalCount": len(orders), "limit": limit, "nextCursor": cursor}
        self._json(200, {"list": {"meta": meta, "elements": {"order": page}}})

    def _srr(self, path: str, query: dict[str, str]) -> None:
        from app.clock import now

        state = self.state
        with state.lock:
            last = state.srr_calls.get(path)
            at = now()
            if last is not None and (at - last).total_seconds() < 60:
                state.srr_refused += 1
                limited = True
            else:
                state.srr_calls[path] = at
                limited = False
        if limited:
            error = _walmart_error("TOO_MANY_REQUESTS", "One call per minute per seller")
            self._json(429, error, {"Retry-After": "60"})
            return
        if state.knobs.forbid_insights:
            self._json(403, _walmart_error("FORBIDDEN.GMP_GATEWAY_API", "Forbidden"))
            return
        days = int(query.get("reportDuration", "30"))
        if path == SRR_PREFIX + "summary":
            if state.knobs.srr_no_data:
                self._send(204, "application/json", b"")
                return
            rate = state.srr_rates.get(days, 96.5)
            payload = {
                "reportDuration": days,
                "cumulativeRate": rate,
                "cumulativeRateTrend": "GREEN_UP" if rate >= 95 else "RED_DOWN",
                "impactedCustomerCount": 2,
                "riskLevel": "GOOD" if rate >= 95 else "URGENT_REVIEW",
            }
            self._json(200, {"payload": payload})
        elif path == SRR_PREFIX + "report":
            self._send(200, XLSX, srr_workbook(state.srr_report))
        else:
            self._json(404, _walmart_error("CONTENT_NOT_FOUND.GMP_GATEWAY_API", "Not found"))

    def _json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, "application/json", json.dumps(body).encode(), headers)

    def _send(
        self, status: int, content_type: str, data: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("WM_QOS.CORRELATION_ID", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (its timeout) before a slow answer is expected; anything else
        is reported as usual."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class FakeWalmart:
    """``with FakeWalmart() as walmart:`` ... ``walmart.url`` is its base URL."""

    def __init__(self) -> None:
        self.state = WalmartState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def knobs(self) -> Knobs:
        return self.state.knobs

    def start(self) -> FakeWalmart:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeWalmart:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def add_order(self, order: dict[str, Any]) -> None:
        self.state.orders[order["purchaseOrderId"]] = order

    def add_return(self, co: str, document: dict[str, Any]) -> None:
        self.state.returns.setdefault(co, []).append(document)

    def expire_tokens(self) -> None:
        """Every token issued so far is refused from now on (as after their 15 minutes)."""
        with self.state.lock:
            self.state.tokens.clear()

    @property
    def seen(self) -> list[Seen]:
        with self.state.lock:
            return list(self.state.seen)

    def token_requests(self) -> int:
        return sum(1 for s in self.seen if s.path == "/v3/token")

    def calls(self) -> list[tuple[str, str]]:
        return [(s.method, s.path) for s in self.seen]

    def assert_read_only(self) -> None:
        """Only the token POST and GETs of orders, returns and the response rate: nothing that
        ships, cancels, acknowledges or refunds."""
        for s in self.seen:
            allowed = (s.method == "POST" and s.path == "/v3/token") or (
                s.method == "GET"
                and (
                    s.path == "/v3/orders"
                    or s.path.startswith("/v3/orders/")
                    or s.path == "/v3/returns"
                    or s.path.startswith(SRR_PREFIX)
                )
                and not s.path.endswith(("/acknowledge", "/cancel", "/refund", "/shipping"))
            )
            assert allowed, f"slawatch called {s.method} {s.path}"


def walmart_mailbox(walmart: FakeWalmart, **overrides: Any) -> Any:
    """A mailbox (no IMAP server behind it) whose seller account is ``walmart``'s."""
    from app.config import MailboxSettings

    values: dict[str, Any] = {
        "name": "walmart-store",
        "host": "127.0.0.1",
        "security": "plain",
        "username": "support@store.example",
        "password_env": "SLAWATCH_TEST_UNUSED_PASSWORD",
        "walmart_client_id": CLIENT_ID,
        "walmart_client_secret_env": SECRET_ENV,
        "walmart_api_url": walmart.url,
        "walmart_timeout_seconds": 10,
    }
    return MailboxSettings(**{**values, **overrides})
