"""Walmart's own rate beside slawatch's, over HTTP: GET /api/v1/summary and the status page show
the figure the job read from the Walmart double; GET /api/v1/reconciliation lists the orders
Walmart counted that slawatch has no thread for or judges differently, and the threads Walmart
did not count, with their reasons, for a case built by hand."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now, set_clock
from app.config import Settings, StatusSettings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.mailboxes import service as mailbox_service
from app.main import create_app
from app.sla import policy_lookup
from app.users.service import create_user, set_password
from app.walmart import response_rate
from tests.support.mailfactory import (
    SELLER_ADDRESS,
    customer,
    message_id_of,
    seller_reply,
)
from tests.support.walmart_api import SECRET_ENV, FakeWalmart, srr_row, walmart_mailbox
from tests.support.web import PASSWORD, sign_in

NAME = "walmart-store"


def _iso(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def _store(
    db: Session, mailbox_id: int, buyer: str, order: str, *, at: datetime, reply_after: float | None
) -> None:
    """A buyer's message about ``order`` at ``at``, and the seller's reply ``reply_after`` hours
    later (none when None)."""
    policy_for = policy_lookup(Settings().sla, "walmart")
    raw = customer(buyer, order=order, date=at)
    for role, mail, when in (
        (FolderRole.INBOX, raw, at),
        *(
            []
            if reply_after is None
            else [
                (
                    FolderRole.SENT,
                    seller_reply(
                        buyer,
                        in_reply_to=message_id_of(raw),
                        subject=f"Customer message regarding order {order}",
                        date=at + timedelta(hours=reply_after),
                    ),
                    at + timedelta(hours=reply_after),
                )
            ]
        ),
    ):
        assert store_message(
            db,
            mailbox_id=mailbox_id,
            role=role,
            raw=mail,
            arrived_at=when,
            seller_addresses=frozenset({SELLER_ADDRESS}),
            policy_for=policy_for,
        )


def _read_walmart(
    walmart: FakeWalmart, session_factory: sessionmaker[Session], database_url: str
) -> None:
    """The job's two rounds a minute apart: both summaries and the report."""
    settings = Settings(database_url=database_url, mailboxes=[walmart_mailbox(walmart)])
    with session_scope(session_factory) as db:
        mailbox_service.sync_configured(db, settings)
    at = now()
    assert response_rate.refresh_rates(session_factory, settings, at=at) == 2
    with _clock_at(at + timedelta(seconds=61)):  # the double's one-a-minute limit goes by it
        assert response_rate.refresh_rates(session_factory, settings, at=now()) == 1


@contextmanager
def _clock_at(moment: datetime) -> Iterator[None]:
    set_clock(lambda: moment)
    try:
        yield
    finally:
        set_clock(None)


@pytest.fixture
def viewer(make_token: Callable[[Role], str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {make_token(Role.VIEWER)}"}


def test_the_summary_shows_walmarts_rate_beside_slawatchs(
    walmart: FakeWalmart,
    session_factory: sessionmaker[Session],
    database_url: str,
    client: TestClient,
    viewer: dict[str, str],
) -> None:
    with session_scope(session_factory) as db:
        mailbox_repository.get_or_create_mailbox(db, "other-store")  # no API credentials
    before = client.get("/api/v1/summary", headers=viewer).json()
    assert before["walmart_rate"] is None and before["walmart_rate_error"].startswith("not read")

    walmart.state.srr_rates = {30: 93.5, 60: 96.0}
    _read_walmart(walmart, session_factory, database_url)
    summary = client.get("/api/v1/summary", headers=viewer).json()
    mine = {m["name"]: m for m in summary["mailboxes"]}
    figure = mine[NAME]["walmart_rate"]
    assert figure["rate_30d"] == pytest.approx(0.935) and figure["rate_60d"] == pytest.approx(0.96)
    assert figure["trend_30d"] == "RED_DOWN" and figure["risk_level"] == "URGENT_REVIEW"
    assert figure["impacted_customers_30d"] == 2 and figure["fetched_at"]
    assert mine[NAME]["walmart_rate_error"] is None
    assert "response_rates" in mine[NAME]  # slawatch's own figures, beside Walmart's
    assert mine["other-store"]["walmart_rate"] is None
    assert mine["other-store"]["walmart_rate_error"].startswith("not read yet")
    # In total: the account furthest from the standard (the only one with a figure here).
    assert summary["walmart_rate"]["mailbox"] == NAME
    assert summary["walmart_rate"]["rate_30d"] == pytest.approx(0.935)


@pytest.fixture
def web(database_url: str, session_factory: sessionmaker[Session]) -> Iterator[TestClient]:
    with session_scope(session_factory) as db:
        create_user(db, name="victor", role=Role.VIEWER, actor="test")
        set_password(db, name="victor", password=PASSWORD, actor="test")
    settings = Settings(database_url=database_url, status=StatusSettings(public=True))
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _tile(html: str, key: str) -> tuple[str, str]:
    found = re.search(
        rf'data-tile="{key}" data-value="([^"]*)">.*?<div class="muted">([^<]*)</div>', html, re.S
    )
    assert found, key
    return found.group(1), found.group(2)


def test_the_status_page_shows_walmarts_figure_and_never_its_error_publicly(
    walmart: FakeWalmart,
    session_factory: sessionmaker[Session],
    database_url: str,
    web: TestClient,
) -> None:
    settings = Settings(database_url=database_url, mailboxes=[walmart_mailbox(walmart)])
    with session_scope(session_factory) as db:
        mailbox_service.sync_configured(db, settings)
    # A key Walmart refuses: the reason shows to a signed-in user only.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(SECRET_ENV, "wrong")
        response_rate.refresh_rates(session_factory, settings, at=now())
    value, note = _tile(web.get("/status").text, "walmart_rate")
    assert value == "" and note == "not available"
    sign_in(web, "victor")
    value, note = _tile(web.get("/status").text, "walmart_rate")
    assert value == "" and "refused the API key" in note
    web.cookies.clear()

    with _clock_at(now() + response_rate.RETRY_AFTER + timedelta(minutes=1)):
        response_rate.refresh_rates(session_factory, settings, at=now())
    public = web.get("/status").text
    value, note = _tile(public, "walmart_rate")
    assert float(value) == pytest.approx(0.965) and "as Walmart reports it" in note
    assert "96.5%" in public
    slawatch_value, _ = _tile(public, "response_rate")  # slawatch's own, beside it
    assert public.index('data-tile="response_rate"') < public.index('data-tile="walmart_rate"')
    assert slawatch_value == ""  # no waits yet: slawatch has no figure of its own


PO = {k: f"1088292728{i:05d}" for i, k in enumerate("ABCDEFGH", start=10)}
CO_G = "200011419023226"


def test_the_reconciliation_names_each_difference_and_its_likely_reason(
    walmart: FakeWalmart,
    session_factory: sessionmaker[Session],
    database_url: str,
    client: TestClient,
    viewer: dict[str, str],
) -> None:
    at = now()
    days = lambda n: at - timedelta(days=n)  # noqa: E731
    with session_scope(session_factory) as db:
        mailbox = mailbox_repository.get_or_create_mailbox(db, NAME)
        mailbox.created_at = days(30)  # connected a month ago
        mid = mailbox.id
        _store(db, mid, "Ann", PO["A"], at=days(10), reply_after=2)  # in time, both agree
        _store(db, mid, "Dan", PO["D"], at=days(9), reply_after=3)  # in time by mail
        _store(db, mid, "Eve", PO["E"], at=days(8), reply_after=None)  # no reply seen
        _store(db, mid, "Fay", PO["F"], at=days(7), reply_after=50)  # answered late
        _store(db, mid, "Gus", CO_G, at=days(6), reply_after=1)  # a customer order number
        _store(db, mid, "Hal", PO["H"], at=days(3), reply_after=4)  # Walmart does not list it

    def row(key: str, *, received: datetime, in_time: bool, co: str | None = None) -> dict:
        return srr_row(
            PO[key],
            co or f"20001141902{int(PO[key][-4:]):04d}",
            received=_iso(received),
            responded=_iso(received + timedelta(hours=3)) if in_time else None,
            in_time=in_time,
        )

    walmart.state.srr_report = [
        row("A", received=days(10), in_time=True),
        row("B", received=days(12), in_time=False),  # no thread, after the connection
        row("C", received=days(40), in_time=False),  # no thread, before the connection
        row("D", received=days(9), in_time=False),
        row("E", received=days(8), in_time=True),
        row("F", received=days(7), in_time=True),
        row("G", received=days(6), in_time=True, co=CO_G),
    ]
    missing = client.get("/api/v1/reconciliation", params={"mailbox": NAME}, headers=viewer)
    assert missing.status_code == 200
    assert missing.json()["report_error"].startswith("no report read yet")
    assert missing.json()["differences"] == []

    _read_walmart(walmart, session_factory, database_url)
    answer = client.get("/api/v1/reconciliation", params={"mailbox": NAME}, headers=viewer)
    assert answer.status_code == 200
    body = answer.json()
    assert body["report_error"] is None and body["report_orders"] == 7
    assert body["report_days"] == 60
    found = {
        (d["purchase_order_id"] if d["finding"] != "not_in_report" else "thread"): d
        for d in body["differences"]
    }
    assert set(found) == {PO["B"], PO["C"], PO["D"], PO["E"], PO["F"], "thread"}
    assert found[PO["B"]]["finding"] == "no_thread"
    assert "folder slawatch does not watch" in found[PO["B"]]["reason"]
    assert found[PO["C"]]["finding"] == "no_thread"
    assert "before the mailbox was connected" in found[PO["C"]]["reason"]
    assert (found[PO["D"]]["finding"], found[PO["D"]]["slawatch"]) == ("walmart_late", "in_time")
    assert "Walmart did not count the reply" in found[PO["D"]]["reason"]
    assert (found[PO["E"]]["finding"], found[PO["E"]]["slawatch"]) == ("walmart_in_time", "missed")
    assert found[PO["E"]]["reason"] == "answered in Seller Center (slawatch saw no reply in Sent)"
    assert (found[PO["F"]]["finding"], found[PO["F"]]["slawatch"]) == ("walmart_in_time", "late")
    assert found[PO["F"]]["reason"].startswith("answered after 48 h by slawatch's clock")
    assert found["thread"]["finding"] == "not_in_report" and found["thread"]["thread_ids"]
    assert found[PO["D"]]["thread_ids"] and found[PO["D"]]["walmart_in_time"] is False
    walmart.assert_read_only()


@pytest.mark.parametrize(
    ("params", "reason"),
    [({}, "give the mailbox"), ({"mailbox": "nope"}, "unknown mailbox 'nope'")],
)
def test_the_reconciliation_needs_a_known_mailbox(
    client: TestClient, viewer: dict[str, str], params: dict[str, str], reason: str
) -> None:
    answer = client.get("/api/v1/reconciliation", params=params, headers=viewer)
    assert answer.status_code == 400 and reason in answer.json()["detail"]


def test_the_reconciliation_needs_a_signed_in_reader(client: TestClient) -> None:
    assert client.get("/api/v1/reconciliation", params={"mailbox": NAME}).status_code == 401
