"""The order beside a thread on the API, end to end: mail polled from Dovecot, the order read from
a real HTTP server playing Walmart, on both database backends. The copy is used while recent,
read again (a bounded wait) once older, and kept when Walmart is slow or down; without
credentials, for an order Walmart does not have, or with Walmart down, ``order_error`` says why.
The client secret never reaches an answer, the database or the log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings
from app.db import Base
from app.enums import Role
from app.main import create_app
from app.models import OrderCopy
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer
from tests.support.polling import poll, wait_for
from tests.support.walmart_api import (
    CLIENT_ID,
    CLIENT_SECRET,
    SECRET_ENV,
    FakeWalmart,
    order_line,
    purchase_order,
    return_order,
)
from tests.support.web import auth

PO, CO = "108829272810783", "200011419023224"
UNKNOWN = "1815367951431"
ORDER_FIELDS = {
    "purchase_order_id",
    "customer_order_id",
    "status",
    "order_date",
    "estimated_delivery",
    "lines",
    "returns",
    "fetched_at",
}
LINE_FIELDS = {
    "line_number",
    "product_name",
    "status",
    "carrier",
    "tracking_number",
    "tracking_url",
    "shipped_at",
    "placeholder_tracking",
}


@dataclass
class Shop:
    api: TestClient
    viewer: dict[str, str]
    walmart: FakeWalmart
    threads: dict[str, int]  # order number -> thread id
    mailbox: MailboxSettings


def with_walmart(account: ImapAccount, walmart: FakeWalmart) -> MailboxSettings:
    return account.settings(
        walmart_client_id=CLIENT_ID,
        walmart_client_secret_env=SECRET_ENV,
        walmart_api_url=walmart.url,
        walmart_timeout_seconds=10,
    )


def start(
    account: ImapAccount,
    mailbox: MailboxSettings,
    walmart: FakeWalmart,
    session_factory: sessionmaker[Session],
    database_url: str,
    make_token: Callable[..., str],
    orders: list[str],
) -> Iterator[Shop]:
    account.append("INBOX", [customer(f"Buyer {n}", order=n) for n in orders])
    assert poll(session_factory, mailbox).ok
    with TestClient(create_app(Settings(database_url=database_url, mailboxes=[mailbox]))) as api:
        viewer = auth(make_token(Role.VIEWER))
        listed = api.get("/api/v1/threads", headers=viewer).json()["items"]
        threads = {t["order_number"]: t["id"] for t in listed}
        assert set(threads) == set(orders)
        yield Shop(api, viewer, walmart, threads, mailbox)


@pytest.fixture
def shop(
    imap_account: ImapAccount,
    walmart: FakeWalmart,
    session_factory: sessionmaker[Session],
    database_url: str,
    make_token: Callable[..., str],
) -> Iterator[Shop]:
    walmart.add_order(
        purchase_order(
            PO,
            CO,
            [
                order_line("1", "Kitchen towels <b>set</b>"),
                order_line("2", "Mugs", carrier="USPS", tracking="12345", url=None),
            ],
        )
    )
    walmart.add_return(CO, return_order("RMA-1", CO, PO, status="INITIATED", refund="PENDING"))
    mailbox = with_walmart(imap_account, walmart)
    yield from start(
        imap_account, mailbox, walmart, session_factory, database_url, make_token, [PO, UNKNOWN]
    )


def detail(shop: Shop, order_number: str) -> dict[str, Any]:
    answer = shop.api.get(f"/api/v1/threads/{shop.threads[order_number]}", headers=shop.viewer)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_the_thread_shows_the_order_walmart_has(shop: Shop) -> None:
    thread = detail(shop, PO)
    order = thread["order"]
    assert thread["order_error"] is None
    assert set(order) == ORDER_FIELDS
    assert order["purchase_order_id"] == PO and order["customer_order_id"] == CO
    assert order["status"] == "Shipped"
    assert order["order_date"].startswith("2026-11-25T10:00:00")
    assert order["estimated_delivery"].startswith("2026-12-03T20:00:00")
    assert order["fetched_at"] is not None
    towels, mugs = order["lines"]
    assert set(towels) == set(mugs) == LINE_FIELDS
    assert towels["product_name"] == "Kitchen towels <b>set</b>"  # data, escaped by the pages
    assert (towels["carrier"], towels["tracking_number"]) == ("UPS", "1Z999AA10123456784")
    assert towels["tracking_url"].startswith("https://www.ups.com/")
    assert towels["placeholder_tracking"] is False
    assert (mugs["carrier"], mugs["tracking_number"], mugs["placeholder_tracking"]) == (
        "USPS",
        "12345",
        True,
    )
    assert order["returns"] == [
        {"return_order_id": "RMA-1", "status": "INITIATED", "refund_status": "PENDING"}
    ]

    # Opened again within minutes: the copy, without a call to Walmart.
    calls = len(shop.walmart.seen)
    assert detail(shop, PO)["order"]["fetched_at"] == order["fetched_at"]
    assert len(shop.walmart.seen) == calls
    shop.walmart.assert_read_only()


def test_an_order_walmart_does_not_have(shop: Shop) -> None:
    thread = detail(shop, UNKNOWN)
    assert thread["order"] is None
    assert thread["order_error"].startswith("not found:")
    assert UNKNOWN in thread["order_error"]


def health(shop: Shop) -> dict[str, Any]:
    (mailbox,) = shop.api.get("/api/v1/summary", headers=shop.viewer).json()["mailboxes"]
    return dict(mailbox)


def test_walmart_down_says_so_and_shows_on_the_mailboxs_health(
    shop: Shop, session_factory: sessionmaker[Session]
) -> None:
    shop.walmart.knobs.failing = 503
    thread = detail(shop, PO)
    assert thread["order"] is None
    assert thread["order_error"].startswith("Walmart unreachable:")
    # Kept after the answer is shown (the person never waits for the write).
    wait_for(lambda: "503" in (health(shop)["walmart_last_error"] or ""), what="the health")
    assert health(shop)["last_error"] is None  # the poll's health is the poll's

    # Walmart back: tried again a minute after the failure; the error is gone from the health.
    shop.walmart.knobs.failing = None
    assert detail(shop, PO)["order_error"].startswith("Walmart unreachable:")  # not yet
    with session_factory.begin() as db:
        db.execute(update(OrderCopy).values(attempted_at=now() - timedelta(minutes=2)))
    assert detail(shop, PO)["order"] is not None
    wait_for(lambda: health(shop)["walmart_last_error"] is None, what="the health recovers")
    assert health(shop)["walmart_last_success_at"]


def kept(session_factory: sessionmaker[Session]) -> bool:
    with session_factory() as db:
        copy = db.scalar(select(OrderCopy).where(OrderCopy.order_number == PO))
        return copy is not None and copy.fetched_at is not None


def test_an_old_copy_is_read_again_and_shown_with_its_age_while_walmart_is_slow(
    shop: Shop, session_factory: sessionmaker[Session]
) -> None:
    first = detail(shop, PO)["order"]
    wait_for(lambda: kept(session_factory), what="the first read kept")
    old = now() - timedelta(minutes=10)
    with session_factory.begin() as db:
        db.execute(update(OrderCopy).values(fetched_at=old, attempted_at=old))
    shop.walmart.knobs.delay = 6  # longer than the wait when a thread is opened
    slow = detail(shop, PO)
    assert slow["order_error"] is None
    assert slow["order"]["purchase_order_id"] == PO
    assert slow["order"]["fetched_at"] != first["fetched_at"]  # the old copy, with its age
    assert slow["order"]["fetched_at"].startswith(old.isoformat()[:19])

    def read_again() -> bool:
        with session_factory() as db:
            copy = db.scalar(select(OrderCopy).where(OrderCopy.order_number == PO))
            return copy is not None and copy.fetched_at is not None and copy.fetched_at > old

    wait_for(read_again, what="the read the opening started finishes on its own")


def test_a_mailbox_without_credentials_says_so(
    imap_account: ImapAccount,
    walmart: FakeWalmart,
    session_factory: sessionmaker[Session],
    database_url: str,
    make_token: Callable[..., str],
) -> None:
    for shop in start(
        imap_account,
        imap_account.settings(),
        walmart,
        session_factory,
        database_url,
        make_token,
        [PO],
    ):
        thread = detail(shop, PO)
        assert thread["order"] is None
        assert thread["order_error"].startswith("no credentials:")
    assert walmart.seen == []


def test_order_data_needs_a_signed_in_user(shop: Shop) -> None:
    thread_id = shop.threads[PO]
    assert shop.api.get(f"/api/v1/threads/{thread_id}").status_code == 401
    bad = {"Authorization": "Bearer not-a-token"}
    assert shop.api.get(f"/api/v1/threads/{thread_id}", headers=bad).status_code == 401
    assert shop.api.get(f"/threads/{thread_id}", follow_redirects=False).status_code in (302, 303)
    assert shop.walmart.seen == []  # nothing was read for them


def test_the_secret_is_in_no_answer_row_or_log_line(
    shop: Shop,
    engine: Engine,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    answers = [
        shop.api.get(f"/api/v1/threads/{t}", headers=shop.viewer).text
        for t in shop.threads.values()
    ]
    wait_for(lambda: kept(session_factory), what="the reads kept")
    shop.walmart.knobs.failing = 500
    shop.walmart.expire_tokens()
    with Session(engine) as db:
        db.execute(update(OrderCopy).values(attempted_at=now() - timedelta(hours=1)))
        db.commit()
    answers += [
        shop.api.get(f"/api/v1/threads/{t}", headers=shop.viewer).text
        for t in shop.threads.values()
    ]
    answers.append(shop.api.get("/api/v1/summary", headers=shop.viewer).text)
    assert any(PO in a for a in answers)
    for answer in answers:
        assert CLIENT_SECRET not in answer
    assert CLIENT_SECRET not in caplog.text
    with engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            for row in connection.execute(text(f"SELECT * FROM {table.name}")):  # noqa: S608
                assert CLIENT_SECRET not in str(row), table.name
