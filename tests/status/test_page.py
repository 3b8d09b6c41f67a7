"""GET /status over HTTP: who may see it, what a public view hides, filters and bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings, StatusSettings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.sla import policy_lookup
from app.users.service import create_user, set_password
from tests.support.mailfactory import SELLER_ADDRESS, customer, relay_address
from tests.support.web import PASSWORD, sign_in

ORDER = "108829272810783"


def _store(db: Session, mailbox: str, raw: bytes, hours_ago: float) -> None:
    at = now() - timedelta(hours=hours_ago)
    assert store_message(
        db,
        mailbox_id=mailbox_repository.get_or_create_mailbox(db, mailbox).id,
        role=FolderRole.INBOX,
        raw=raw,
        arrived_at=at,
        seller_addresses=frozenset({SELLER_ADDRESS}),
        policy_for=policy_lookup(Settings().sla, "walmart"),
    )


@pytest.fixture
def stored(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as db:
        _store(
            db,
            "store-a",
            customer(
                "Priya Patel",
                order=ORDER,
                subject=f"Priya Patel: where is order {ORDER}?",
                body="The parcel never came. Secret body text.",
            ),
            hours_ago=50,
        )
        _store(db, "store-b", customer("Omar", order="200011419023224"), hours_ago=2)
        _store(db, "store-b", customer("Zoe", order="200011419023225"), hours_ago=40)
        failing = mailbox_repository.get_or_create_mailbox(db, "store-b")
        failing.last_poll_at = failing.last_error_at = now()
        failing.consecutive_failures = 3
        failing.last_error = "authentication failed for support@store-b.example"
        walmart = mailbox_repository.get_or_create_mailbox(db, "store-a")
        walmart.walmart_error_at = now()
        walmart.walmart_error = "marketplace.walmartapis.com refused the API key (HTTP 401)"
        create_user(db, name="victor", role=Role.VIEWER, actor="test")
        set_password(db, name="victor", password=PASSWORD, actor="test")


def _client(database_url: str, *, public: bool = False) -> Iterator[TestClient]:
    settings = Settings(database_url=database_url, status=StatusSettings(public=public))
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def client(database_url: str, stored: None) -> Iterator[TestClient]:
    yield from _client(database_url)


@pytest.fixture
def public_client(database_url: str, stored: None) -> Iterator[TestClient]:
    yield from _client(database_url, public=True)


def _tiles(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-tile="([a-z_]+)" data-value="([^"]*)"', html))


def test_status_needs_a_signed_in_user_unless_public(client: TestClient) -> None:
    response = client.get("/status", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"
    sign_in(client, "victor")
    page = client.get("/status")
    assert page.status_code == 200
    assert relay_address("Priya Patel").lower() in page.text  # a signed-in viewer sees who waits
    assert ORDER in page.text and "/threads/" in page.text
    assert "authentication failed for support@store-b.example" in page.text
    assert "Walmart API: marketplace.walmartapis.com refused the API key" in page.text


def test_public_view_shows_counts_and_masked_subjects_only(public_client: TestClient) -> None:
    page = public_client.get("/status")
    assert page.status_code == 200
    html = page.text
    assert "Public view" in html
    assert _tiles(html)["overdue"] == "1" and _tiles(html)["at_risk"] == "1"
    for secret in (
        relay_address("Priya Patel").lower(),
        "Priya",
        "Patel",
        ORDER,
        "Secret body text",
        "authentication failed",
        "support@store-b.example",
        "refused the API key",
        "/threads/",
    ):
        assert secret not in html, secret
    assert "where is order •••?" in html


def test_page_loads_nothing_and_runs_no_script(public_client: TestClient) -> None:
    response = public_client.get("/status")
    policy = response.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert "<script" not in response.text
    assert not re.search(r'(src|href)="(https?:)?//', response.text)


def test_mailbox_filter_and_range(client: TestClient) -> None:
    sign_in(client, "victor")
    everything = _tiles(client.get("/status").text)
    only_b = client.get("/status?range=30d&mailbox=store-b")
    assert only_b.status_code == 200
    tiles = _tiles(only_b.text)
    assert (everything["overdue"], everything["at_risk"], everything["waiting"]) == ("1", "1", "1")
    assert (tiles["overdue"], tiles["at_risk"], tiles["waiting"]) == ("0", "1", "1")
    assert relay_address("Priya Patel").lower() not in only_b.text
    assert 'class="on" aria-current="true">30d<' in only_b.text
    assert '<option value="store-b" selected>' in only_b.text


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("range=1y", "range"),
        ("mailbox=nope", "no mailbox named 'nope'"),
        ("mailbox=" + "x" * 101, "mailbox"),
    ],
)
def test_bad_filters_get_a_422_with_the_reason(client: TestClient, query: str, reason: str) -> None:
    sign_in(client, "victor")
    response = client.get(f"/status?{query}")
    assert response.status_code == 422
    assert reason in response.text


def test_an_empty_database_renders(database_url: str) -> None:
    for client in _client(database_url, public=True):
        page = client.get("/status?range=7d")
        assert page.status_code == 200
        assert _tiles(page.text)["overdue"] == "0"
        assert "Nobody is waiting for an answer." in page.text
        assert "No mailbox yet." in page.text


def test_the_forecast_is_on_the_page_in_words(client: TestClient) -> None:
    """Before the figures job has run nothing is decided yet: Zoe (40 h, at risk) decides the
    rate if she is missed and Omar is answered, 1 of 2."""
    sign_in(client, "victor")
    page = client.get("/status").text
    forecast = re.search(r'data-panel="forecast">\s*<h2>[^<]*</h2>\s*<p>([^<]*)</p>', page)
    assert forecast, "no forecast panel"
    assert re.fullmatch(
        r"Answer this one within 7 h \d\d min or the 30-day rate falls to 50\.0%, below the "
        r"95% line\.",
        forecast.group(1),
    ), forecast.group(1)
