"""Cancellation requests first, end to end on both database backends: slawatch on a real HTTP
server receives Walmart's ORDER_UPDATES notifications from the Walmart double (with a right and a
wrong secret, malformed, for an unknown mailbox, twice), alerts the team once over real SMTP
however many sweeps run, and lists the order's thread first in the queue; the poll of recent
orders finds the same request, and a line cancelled afterwards ends it."""

from __future__ import annotations

import email
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from email import policy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from app.alerts.jobs import sweep
from app.clock import now
from app.config import AlertSettings, Settings
from app.db import session_scope
from app.enums import Role, ThreadKind, ThreadSource
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.models import Alert, OrderEvent, Thread
from app.users.service import create_user, set_password
from app.walmart.events_jobs import poll_events
from app.walmart.webhook_router import SECRET_HEADER
from tests.support.smtp import SmtpServer
from tests.support.walmart_api import (
    FakeWalmart,
    cancel_request_line,
    notify,
    order_line,
    order_updates,
    purchase_order,
    walmart_mailbox,
)
from tests.support.web import PASSWORD, auth, serving, sign_in

PO, CO = "108829272810783", "200011419023224"
OTHER_PO = "1815367951431"
WEBHOOK_SECRET = "wh-" + "5" * 30
SECRET_ENV = "SLAWATCH_TEST_WALMART_WEBHOOK_SECRET"
TEAM, BOSS = "team@store.example", "boss@store.example"


@dataclass
class Seller:
    url: str  # slawatch, on a real HTTP server
    api: TestClient
    viewer: dict[str, str]
    walmart: FakeWalmart
    settings: Settings
    session_factory: sessionmaker[Session]
    smtp: SmtpServer

    @property
    def hook(self) -> str:
        return f"{self.url}/webhooks/walmart/walmart-store"

    def post(self, document: Any, secret: str | None = WEBHOOK_SECRET) -> Any:
        return notify(self.hook, document, {SECRET_HEADER: secret} if secret else {})

    def queue(self) -> list[dict[str, Any]]:
        answer = self.api.get("/api/v1/threads", headers=self.viewer)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def events(self) -> list[tuple[str, str, str, str]]:
        with self.session_factory() as db:
            rows = db.execute(
                select(
                    OrderEvent.kind,
                    OrderEvent.purchase_order_id,
                    OrderEvent.line_number,
                    OrderEvent.source,
                ).order_by(OrderEvent.id)
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]

    def cancel_alerts(self) -> list[Alert]:
        with self.session_factory() as db:
            return list(db.scalars(select(Alert).where(Alert.kind == "cancel_request")))

    def emails(self) -> list[email.message.EmailMessage]:
        return [
            email.message_from_bytes(raw, policy=policy.default)  # type: ignore[misc]
            for _, raw in self.smtp.recorder.messages
        ]


@pytest.fixture
def seller(
    walmart: FakeWalmart,
    smtp_server: SmtpServer,
    database_url: str,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Seller]:
    monkeypatch.setenv(SECRET_ENV, WEBHOOK_SECRET)
    settings = Settings(
        database_url=database_url,
        base_url="https://slawatch.store.example",
        mailboxes=[walmart_mailbox(walmart, walmart_webhook_secret_env=SECRET_ENV)],
        smtp=smtp_server.settings(),
        alerts=AlertSettings(
            recipients=[TEAM], manager_recipients=[BOSS], from_address="slawatch@store.example"
        ),
    )
    with session_scope(session_factory) as db:
        viewer = create_user(db, name="viewer", role=Role.VIEWER, actor="test").token
        create_user(db, name="agnes", role=Role.AGENT, actor="test")
        set_password(db, name="agnes", password=PASSWORD, actor="test")
    app = create_app(settings)
    # https: the base_url is, so the sign-in cookie is Secure.
    with serving(app) as url, TestClient(app, base_url="https://testserver") as api:
        yield Seller(url, api, auth(viewer), walmart, settings, session_factory, smtp_server)


def overdue_thread(seller: Seller, order_number: str, subject: str) -> int:
    """A customer thread about an order, its 48 hours long past: first in any queue by deadline."""
    started = now() - timedelta(hours=60)
    with session_scope(seller.session_factory) as db:
        mailbox = mailbox_repository.get_or_create_mailbox(db, "walmart-store")
        return db.execute(
            insert(Thread)
            .values(
                mailbox_id=mailbox.id,
                kind=ThreadKind.CUSTOMER,
                source=ThreadSource.INBOX,
                subject=subject,
                counterpart="91DDE88D93C64028BE36D7771638A274@relay.walmart.com",
                order_number=order_number,
                has_customer_messages=True,
                clock_started_at=started,
                due_at=started + timedelta(hours=48),
                at_risk_at=started + timedelta(hours=36),
                message_count=1,
                last_message_at=started,
            )
            .returning(Thread.id)
        ).scalar_one()


def test_the_webhook_refuses_what_walmart_did_not_send(seller: Seller) -> None:
    request = order_updates("INTENT_TO_CANCEL", PO, CO, [("1", "Kitchen towels")])
    for secret in (None, "wrong-secret", WEBHOOK_SECRET + "x"):
        answer = seller.post(request, secret)
        assert answer.status_code == 401, answer.text
        assert answer.json() == {
            "detail": f"send the subscription's secret in the {SECRET_HEADER} header",
            "code": "unauthenticated",
        }
    unknown = notify(
        f"{seller.url}/webhooks/walmart/nosuch", request, {SECRET_HEADER: WEBHOOK_SECRET}
    )
    assert unknown.status_code == 404
    assert unknown.json() == {
        "detail": "no mailbox 'nosuch' receives Walmart webhooks",
        "code": "not_found",
    }
    malformed = seller.post(b'{"source": {"eventType": "ORDER_UPDATES"')
    assert malformed.status_code == 400
    assert malformed.json() == {
        "detail": "not an order event: the body is not valid JSON",
        "code": "bad_request",
    }
    shapeless = seller.post({"source": {"eventType": "ORDER_UPDATES"}, "payload": {}})
    assert shapeless.status_code == 400
    assert shapeless.json()["detail"].startswith("not an order event: ")
    assert seller.events() == []
    assert seller.cancel_alerts() == []
    seller.walmart.assert_read_only()


def test_a_cancellation_request_is_first_in_the_queue_and_alerted_once(seller: Seller) -> None:
    overdue_thread(seller, OTHER_PO, "Where is my lamp?")
    thread_id = overdue_thread(seller, PO, "Please cancel my towels")
    assert seller.queue()[0]["order_number"] == OTHER_PO  # overdue longer: first by deadline

    request = order_updates("INTENT_TO_CANCEL", PO, CO, [("1", "Kitchen towels")], event_id="e1")
    first = seller.post(request)
    assert first.status_code == 200, first.text
    assert first.json() == {"events": 1, "new": 1}
    again = seller.post(request)  # Walmart delivers it again: kept once
    assert again.json() == {"events": 1, "new": 0}
    assert seller.events() == [("INTENT_TO_CANCEL", PO, "1", "webhook")]

    queue = seller.queue()
    assert [t["id"] for t in queue] == [thread_id, queue[1]["id"]]
    assert queue[1]["order_number"] == OTHER_PO
    requested = queue[0]["cancel_requested_at"]
    assert requested is not None and queue[0]["cancel_due_at"] is not None
    assert (
        seller.api.get(
            "/api/v1/threads", params={"state": "answered"}, headers=seller.viewer
        ).json()["items"]
        == []
    )  # only a queue (a waiting state asked for) lists requests first

    for _ in range(3):
        sweep(seller.session_factory, seller.settings, now=now())
    (alert,) = seller.cancel_alerts()
    assert (alert.state, alert.thread_id, alert.urgent) == ("sent", thread_id, True)
    (mail,) = [m for m in seller.emails() if "CANCELLATION REQUEST" in m["Subject"]]
    assert mail["Subject"] == (
        f"[slawatch] CANCELLATION REQUEST: Please cancel my towels (order {PO})"
    )
    text = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    assert "Items:     Kitchen towels" in text
    assert f"https://slawatch.store.example/threads/{thread_id}" in text
    assert {TEAM, BOSS} == {a.strip() for a in mail["To"].split(",")}

    detail = seller.api.get(f"/api/v1/threads/{thread_id}", headers=seller.viewer).json()
    assert [(e["kind"], e["line_number"], e["source"]) for e in detail["order_events"]] == [
        ("INTENT_TO_CANCEL", "1", "webhook")
    ]
    assert detail["order_events"][0]["occurred_at"] == "2026-12-02T09:30:00Z"
    seller.walmart.assert_read_only()


def test_a_request_about_an_order_no_mail_named_gets_a_thread_of_its_own(seller: Seller) -> None:
    overdue_thread(seller, OTHER_PO, "Where is my lamp?")
    seller.post(order_updates("INTENT_TO_CANCEL", PO, CO, [("1", "Kitchen towels")]))
    first = seller.queue()[0]
    assert (first["subject"], first["order_number"]) == (f"Cancellation request: order {PO}", PO)
    assert first["state"] == "informational"  # no customer message: no 48-hour clock

    # Walmart cancels the line itself (the seller did not act): the request is over, recorded.
    auto = seller.post(order_updates("PO_LINE_AUTOCANCELLED", PO, CO, [("1", "Kitchen towels")]))
    assert auto.json() == {"events": 1, "new": 1}
    assert [t["order_number"] for t in seller.queue()] == [OTHER_PO]
    detail = seller.api.get(f"/api/v1/threads/{first['id']}", headers=seller.viewer).json()
    assert detail["cancel_requested_at"] is None
    assert [e["kind"] for e in detail["order_events"]] == [
        "INTENT_TO_CANCEL",
        "PO_LINE_AUTOCANCELLED",
    ]
    fraud = seller.post(order_updates("FRAUD_CANCEL", PO, CO, [("2", "Lamp")]))
    assert fraud.json() == {"events": 1, "new": 1}
    detail = seller.api.get(f"/api/v1/threads/{first['id']}", headers=seller.viewer).json()
    assert [e["kind"] for e in detail["order_events"]][-1] == "FRAUD_CANCEL"


def test_the_poll_of_recent_orders_finds_the_same_request(seller: Seller) -> None:
    thread_id = overdue_thread(seller, PO, "Please cancel my towels")
    seller.walmart.add_order(
        purchase_order(PO, CO, [cancel_request_line("1", "Kitchen towels"), order_line("2", "x")])
    )
    for number in range(120):  # more than a page: the poll follows nextCursor
        seller.walmart.add_order(purchase_order(f"9{number:014d}", f"3{number:014d}", []))

    assert poll_events(seller.session_factory, seller.settings, at=now()) == 1
    assert seller.events() == [("INTENT_TO_CANCEL", PO, "1", "poll")]
    assert seller.queue()[0]["id"] == thread_id
    reads = [s for s in seller.walmart.seen if s.path == "/v3/orders"]
    assert len(reads) == 2 and all("lastModifiedStartDate" in s.query for s in reads)

    # The webhook arrives later with the same request: nothing new, no second alert.
    late = seller.post(order_updates("INTENT_TO_CANCEL", PO, CO, [("1", "Kitchen towels")]))
    assert late.json() == {"events": 1, "new": 0}
    assert poll_events(seller.session_factory, seller.settings, at=now()) == 0
    for _ in range(2):
        sweep(seller.session_factory, seller.settings, now=now())
    assert len(seller.cancel_alerts()) == 1
    assert len([m for m in seller.emails() if "CANCELLATION REQUEST" in m["Subject"]]) == 1

    # The seller cancels the line in Seller Center: the next poll sees it, the request ends.
    cancelled = order_line("1", "Kitchen towels", status="Cancelled", tracking=None)
    seller.walmart.add_order(purchase_order(PO, CO, [cancelled]))
    poll_events(seller.session_factory, seller.settings, at=now())
    assert seller.queue()[0]["cancel_requested_at"] is None
    with seller.session_factory() as db:
        assert db.scalar(select(func.count()).select_from(OrderEvent)) == 1
    seller.walmart.assert_read_only()


def test_the_agent_page_shows_the_request_first_and_the_events_beside_the_order(
    seller: Seller,
) -> None:
    overdue_thread(seller, OTHER_PO, "Where is my lamp?")
    thread_id = overdue_thread(seller, PO, "Please cancel my towels")
    just_now = now().isoformat()
    request = order_updates("INTENT_TO_CANCEL", PO, CO, [("1", "Towels")], event_time=just_now)
    seller.post(request)
    # Walmart cancels another line for fraud: the request about line 1 still waits.
    seller.post(order_updates("FRAUD_CANCEL", PO, CO, [("2", "<b>Lamp</b>")]))
    sign_in(seller.api, "agnes")
    queue = seller.api.get("/").text
    assert queue.index("Please cancel my towels") < queue.index("Where is my lamp?")
    assert "cancellation requested" in queue
    assert "<strong>cancel: " in queue and "cancel: late" not in queue  # 4 hours from now
    page = seller.api.get(f"/threads/{thread_id}").text
    assert "data-cancel-request" in page
    assert "The customer asked to cancel: Towels" in page
    assert "Cancelled by Walmart for fraud: &lt;b&gt;Lamp&lt;/b&gt;" in page  # text, not HTML


def test_pages_of_the_queue_list_each_thread_once_requests_first(seller: Seller) -> None:
    plain = [overdue_thread(seller, f"18153679514{n}", f"Question {n}") for n in range(2)]
    asked = [overdue_thread(seller, f"10882927281078{n}", f"Cancel {n}") for n in range(3)]
    for n, hour in ((2, "08"), (0, "09"), (1, "10")):  # the request's deadline orders them
        when = f"2026-12-02T{hour}:00:00.000Z"
        seller.post(
            order_updates("INTENT_TO_CANCEL", f"10882927281078{n}", CO, [], event_time=when)
        )
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = seller.api.get("/api/v1/threads", params=params, headers=seller.viewer).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [asked[2], asked[0], asked[1], *plain]


def test_the_same_notification_delivered_at_once_several_times_is_kept_once(
    seller: Seller,
) -> None:
    request = order_updates("INTENT_TO_CANCEL", PO, CO, [("1", "Kitchen towels")])
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: seller.post(request), range(4)))
    assert [a.status_code for a in answers] == [200] * 4
    assert sorted(a.json()["new"] for a in answers) == [0, 0, 0, 1]
    assert seller.events() == [("INTENT_TO_CANCEL", PO, "1", "webhook")]
    assert len(seller.cancel_alerts()) == 1
    assert [t["order_number"] for t in seller.queue()] == [PO]  # one thread for the request
