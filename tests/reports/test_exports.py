"""The CSV reports read back as a spreadsheet would: the threads export against GET
/api/v1/threads, the daily response rate against GET /api/v1/summary, their filters, formula
cells neutralised, and who may download them (API token, or a signed-in browser)."""

from __future__ import annotations

import csv
import html
import io
import re
import zlib
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import set_clock
from app.config import Settings, StatusSettings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.reports import service
from app.sla import policy_lookup
from app.threads import jobs as thread_jobs
from app.users.service import create_user, set_password
from tests.support.mailfactory import (
    SELLER_ADDRESS,
    customer,
    message,
    message_id_of,
    seller_reply,
)
from tests.support.web import PASSWORD, auth, sign_in

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
ALL_STATES = ["overdue", "at_risk", "waiting", "answered", "closed", "informational"]
FORMULAS = {
    "Erin": '=HYPERLINK("http://evil.example","click")',
    "Finn": "+1 555 0100 call me",
    "Gina": "-2 items missing",
    "Hugo": "@SUM(A1:A9) where is my order",
}


@pytest.fixture
def frozen() -> Iterator[None]:
    set_clock(lambda: NOW)
    yield
    set_clock(None)


def _store(db: Session, mailbox: str, raw: bytes, hours_ago: float, role: FolderRole) -> None:
    assert store_message(
        db,
        mailbox_id=mailbox_repository.get_or_create_mailbox(db, mailbox).id,
        role=role,
        raw=raw,
        arrived_at=NOW - timedelta(hours=hours_ago),
        seller_addresses=frozenset({SELLER_ADDRESS}),
        policy_for=policy_lookup(Settings().sla, "walmart"),
    )


def _asked(db: Session, mailbox: str, buyer: str, hours_ago: float, **kwargs: Any) -> bytes:
    order = f"1088292728{zlib.crc32(buyer.encode()) % 100_000:05d}"  # one order per buyer
    raw = customer(buyer, order=order, **kwargs)
    _store(db, mailbox, raw, hours_ago, FolderRole.INBOX)
    return raw


def _answered(db: Session, mailbox: str, buyer: str, *, asked: float, answered: float) -> None:
    question = _asked(db, mailbox, buyer, asked, subject=f"Question from {buyer}")
    reply = seller_reply(
        buyer, in_reply_to=message_id_of(question), subject=f"Question from {buyer}"
    )
    _store(db, mailbox, reply, answered, FolderRole.SENT)


@pytest.fixture
def stored(frozen: None, session_factory: sessionmaker[Session]) -> None:
    """store-a (client acme): overdue, answered in time, answered late, waiting; store-b (client
    globex): a notice and customers whose subjects are formulas."""
    with session_scope(session_factory) as db:
        _asked(db, "store-a", "Alice", 50)
        _answered(db, "store-a", "Bob", asked=30, answered=29)
        _answered(db, "store-a", "Carol", asked=60, answered=10)
        _asked(db, "store-a", "Dave", 2)
        for hours, (buyer, subject) in enumerate(FORMULAS.items(), start=38):
            _asked(db, "store-b", buyer, hours, subject=subject)
        notice = message(sender="mp-payments@relay.walmart.com", subject="Payment sent")
        _store(db, "store-b", notice, 1, FolderRole.INBOX)
        mailbox_repository.get_or_create_mailbox(db, "store-a").client = "acme"
        mailbox_repository.get_or_create_mailbox(db, "store-b").client = "globex"
        create_user(db, name="victor", role=Role.VIEWER, actor="test")
        set_password(db, name="victor", password=PASSWORD, actor="test")


@pytest.fixture
def api(stored: None, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        yield client


@pytest.fixture
def viewer(make_token: Callable[..., str]) -> dict[str, str]:
    return auth(make_token(Role.VIEWER))


def _csv(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def _listed(api: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every thread GET /api/v1/threads lists with ``params``, page after page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = api.get(
            "/api/v1/threads", params={**params, "limit": 2, "cursor": cursor}, headers=headers
        )
        assert page.status_code == 200, page.text
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items


def _utc(value: str | None) -> str:
    """The API's time as the export writes it: UTC, to the second."""
    if value is None:
        return ""
    return datetime.fromisoformat(value).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_threads_export_is_the_thread_list(
    api: TestClient, viewer: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "THREAD_BATCH", 3)  # several batches, as at scale
    response = api.get("/api/v1/reports/threads.csv", params={"state": ALL_STATES}, headers=viewer)
    rows = _csv(response)
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="slawatch-threads-20261202T1000Z.csv"'
    listed = _listed(api, viewer, state=ALL_STATES)
    assert [int(r["thread_id"]) for r in rows] == [t["id"] for t in listed]
    assert len(rows) == 9
    clients = {"store-a": "acme", "store-b": "globex"}
    for row, thread in zip(rows, listed, strict=True):
        assert row["mailbox"] == thread["mailbox"]
        assert row["client"] == clients[thread["mailbox"]]
        assert row["state"] == thread["state"]
        assert row["kind"] == thread["kind"]
        assert row["customer"] == (thread["counterpart"] or "")
        assert row["order_number"] == (thread["order_number"] or "")
        assert row["subject"].removeprefix("'") == thread["subject"]
        assert row["due_at"] == _utc(thread["due_at"])
        waits = api.get(f"/api/v1/threads/{thread['id']}", headers=viewer).json()["waits"]
        first = waits[0] if waits else {"started_at": None, "answered_at": None}
        assert row["received_at"] == _utc(first["started_at"])
        assert row["first_answered_at"] == _utc(first["answered_at"])
    by_subject = {r["subject"]: r for r in rows}
    bob, carol = by_subject["Question from Bob"], by_subject["Question from Carol"]
    assert (bob["state"], bob["first_response_seconds"]) == ("answered", str(3600))
    assert (carol["received_at"], carol["first_answered_at"]) == (
        "2026-11-29T22:00:00Z",
        "2026-12-02T00:00:00Z",
    )
    assert carol["first_response_seconds"] == str(50 * 3600)
    assert by_subject["Payment sent"]["state"] == "informational"
    assert by_subject["Payment sent"]["received_at"] == ""


def test_formula_cells_are_shown_not_evaluated(api: TestClient, viewer: dict[str, str]) -> None:
    response = api.get("/api/v1/reports/threads.csv", params={"mailbox": "store-b"}, headers=viewer)
    rows = _csv(response)
    assert {r["subject"] for r in rows} == {"'" + s for s in FORMULAS.values()}
    cells = [cell for row in rows for cell in row.values()]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@"))]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"state": "answered"},
        {"state": ["overdue", "at_risk"], "mailbox": "store-b"},
        {"client": "acme", "state": ALL_STATES},
        {"q": "carol", "state": ALL_STATES},
        {"kind": "customer", "state": ["informational", "waiting"]},
    ],
)
def test_filters_choose_what_the_list_chooses(
    api: TestClient, viewer: dict[str, str], params: dict[str, Any]
) -> None:
    rows = _csv(api.get("/api/v1/reports/threads.csv", params=params, headers=viewer))
    assert [int(r["thread_id"]) for r in rows] == [t["id"] for t in _listed(api, viewer, **params)]


@pytest.mark.parametrize(
    "params",
    [
        {"mailbox": "nosuch"},
        {"client": "nosuch"},
        {"state": "late"},
        {"kind": "x"},
        {"q": "x" * 201},
    ],
)
def test_bad_filters_are_refused_as_the_list_refuses_them(
    api: TestClient, viewer: dict[str, str], params: dict[str, Any]
) -> None:
    export = api.get("/api/v1/reports/threads.csv", params=params, headers=viewer)
    listed = api.get("/api/v1/threads", params=params, headers=viewer)
    assert export.status_code == listed.status_code == 422
    assert export.json() == listed.json()
    assert export.json()["code"] == "invalid"


def _day(hours_ago: float) -> str:
    return (NOW - timedelta(hours=hours_ago)).date().isoformat()


def test_the_daily_rate_adds_up_to_the_summary(
    api: TestClient,
    viewer: dict[str, str],
    read_session_factory: sessionmaker[Session],
    session_factory: sessionmaker[Session],
) -> None:
    thread_jobs.refresh_all(
        read_factory=read_session_factory, write_factory=session_factory, now=NOW
    )
    response = api.get("/api/v1/reports/response-rate.csv", params={"days": 30}, headers=viewer)
    rows = _csv(response)
    assert "slawatch-response-rate-20261202T1000Z.csv" in response.headers["content-disposition"]
    assert len(rows) == 2 * 30  # every day of each mailbox, days without inquiries too
    assert rows[0]["date"] == "2026-11-03" and rows[29]["date"] == "2026-12-02"
    summary = api.get("/api/v1/summary", headers=viewer).json()
    for mailbox in summary["mailboxes"]:
        month = next(r for r in mailbox["response_rates"] if r["days"] == 30)
        mine = [r for r in rows if r["mailbox"] == mailbox["name"]]
        missed = sum(int(r["missed"]) for r in mine)
        assert sum(int(r["answered_in_time"]) for r in mine) == month["answered_in_time"]
        assert sum(int(r["answered_in_time"]) for r in mine) + missed == month["decided"]
    store_a = {r["date"]: r for r in rows if r["mailbox"] == "store-a"}
    # Alice (50 h ago, missed) and Bob (30 h ago, in time) wrote the day before yesterday and
    # yesterday, Carol (60 h, late) before; Dave (2 h ago) waits.
    by_day: dict[str, list[str]] = {}
    for hours, outcome in ((50, "missed"), (30, "in_time"), (60, "missed"), (2, "open")):
        by_day.setdefault(_day(hours), []).append(outcome)
    for day, outcomes in by_day.items():
        row = store_a[day]
        assert int(row["inquiries"]) == len(outcomes)
        assert int(row["answered_in_time"]) == outcomes.count("in_time")
        assert int(row["missed"]) == outcomes.count("missed")
        assert int(row["open"]) == outcomes.count("open")
        decided = len(outcomes) - outcomes.count("open")
        expected = round(outcomes.count("in_time") / decided, 4) if decided else None
        assert row["rate"] == ("" if expected is None else str(expected))
    assert store_a["2026-11-20"] == {
        "date": "2026-11-20",
        "mailbox": "store-a",
        "client": "acme",
        "inquiries": "0",
        "answered_in_time": "0",
        "missed": "0",
        "open": "0",
        "rate": "",
    }


def test_the_daily_rate_of_one_client(api: TestClient, viewer: dict[str, str]) -> None:
    rows = _csv(
        api.get("/api/v1/reports/response-rate.csv", params={"client": "globex"}, headers=viewer)
    )
    assert len(rows) == 90  # the default
    assert {r["mailbox"] for r in rows} == {"store-b"}
    assert sum(int(r["inquiries"]) for r in rows) == len(FORMULAS)


@pytest.mark.parametrize("days", ["0", "367", "-1", "ninety", "1.5"])
def test_days_out_of_bounds_are_refused(api: TestClient, viewer: dict[str, str], days: str) -> None:
    response = api.get("/api/v1/reports/response-rate.csv", params={"days": days}, headers=viewer)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "invalid"
    assert body["errors"][0]["loc"] == ["query", "days"]


@pytest.mark.parametrize("path", ["threads.csv", "response-rate.csv"])
def test_a_token_is_needed(api: TestClient, path: str) -> None:
    response = api.get(f"/api/v1/reports/{path}")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    unknown = api.get(f"/api/v1/reports/{path}", params={"mailbox": "nosuch"})
    assert unknown.status_code == 401  # no token learns which mailboxes exist


@pytest.mark.parametrize("path", ["threads.csv", "response-rate.csv"])
def test_a_browser_downloads_them_signed_in(api: TestClient, path: str) -> None:
    anonymous = api.get(f"/reports/{path}", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login"
    sign_in(api, "victor")
    assert _csv(api.get(f"/reports/{path}", params={"mailbox": "store-a"}))


def test_the_status_page_links_the_downloads(stored: None, database_url: str) -> None:
    settings = Settings(database_url=database_url, status=StatusSettings(public=True))
    with TestClient(create_app(settings)) as browser:
        public = browser.get("/status", params={"client": "acme"})
        assert "/reports/" not in public.text  # customer data: never for the public view
        sign_in(browser, "victor")
        page = browser.get("/status", params={"client": "acme"}).text
        links = dict(re.findall(r'<a href="(/reports/[^"]+)" download>([^<]+)</a>', page))
        assert sorted(links.values()) == ["Response rate by day (CSV)", "Threads (CSV)"]
        for link in links:
            rows = _csv(browser.get(html.unescape(link)))
            assert {r["mailbox"] for r in rows} == {"store-a"}  # the client shown
            if "threads" in link:
                assert len(rows) == 4  # every state
