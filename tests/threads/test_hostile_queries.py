"""/api/v1/threads with hostile query strings: oversized values, NUL, text that is not UTF-8,
unicode tricks, forged cursors and ids past 32 bits get a 4xx that says why, never a 5xx."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.sla import policy_lookup
from tests.support.mailfactory import SELLER_ADDRESS, customer
from tests.support.web import auth

ORDER = "108829272810783"


@pytest.fixture
def api(
    database_url: str, session_factory: sessionmaker[Session], make_token: Callable[..., str]
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A waiting thread about ORDER, and a viewer's headers."""
    with session_scope(session_factory) as db:
        store_message(
            db,
            mailbox_id=mailbox_repository.get_or_create_mailbox(db, "store-a").id,
            role=FolderRole.INBOX,
            raw=customer("Alice", order=ORDER, subject=f"Where is order {ORDER}?"),
            arrived_at=now(),
            seller_addresses=frozenset({SELLER_ADDRESS}),
            policy_for=policy_lookup(Settings().sla, "walmart"),
        )
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        yield client, auth(make_token(Role.VIEWER))


def cursor(json_text: str) -> str:
    return base64.urlsafe_b64encode(json_text.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("q=" + "x" * 10_000, 422, "at most 200 characters"),
        ("mailbox=" + "x" * 10_000, 422, "at most 100 characters"),
        ("cursor=" + "x" * 10_000, 422, "at most 500 characters"),
        ("limit=" + "9" * 10_000, 422, "limit"),
        ("q=%00", 400, "query parameter 'q' contains a NUL character"),
        ("q=order%00%00", 400, "query parameter 'q' contains a NUL character"),
        ("client=%00", 400, "query parameter 'client' contains a NUL character"),
        ("state=%00", 400, "query parameter 'state' contains a NUL character"),
        ("q%00=x", 400, "contains a NUL character"),
        ("q=%ED%A0%80", 400, "not UTF-8"),  # a lone surrogate, UTF-8 encoded (CESU-8)
        ("q=%ED%B2%A9%ED%A0%80", 400, "not UTF-8"),
        ("q=%C0%80", 400, "not UTF-8"),  # an overlong NUL
        ("q=%FF%FE", 400, "not UTF-8"),
        ("cursor=" + cursor('{"d": null, "i": 1e400}'), 422, "invalid cursor"),
        ("cursor=" + cursor('{"d": null, "i": ' + "9" * 30 + "}"), 422, "invalid cursor"),
        ("cursor=" + cursor('{"d": "0001-01-01T00:00:00+23:59", "i": 1}'), 422, "invalid cursor"),
        ("cursor=" + cursor('{"d": "9999-12-31T23:59:59-23:59", "i": 1}'), 422, "invalid cursor"),
        ("cursor=" + cursor('{"d": [], "i": {}}'), 422, "invalid cursor"),
        (
            "cursor=" + cursor("[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]"),
            422,
            "invalid cursor",
        ),
    ],
)
def test_hostile_query_values_get_a_4xx_with_the_reason(
    api: tuple[TestClient, dict[str, str]], query: str, status: int, reason: str
) -> None:
    client, headers = api
    response = client.get(f"/api/v1/threads?{query}", headers=headers)
    assert response.status_code == status, response.text
    assert reason in response.text


@pytest.mark.parametrize(
    "q",
    [
        "\u202eredro",  # right-to-left override
        "or\u200dder",  # zero-width joiner
        "\ufeff",
        "%_\\",  # LIKE wildcards and escape, as text
        "' OR 1=1 --",
        "\U0001f4e6 📦",
        "\ufffd",
    ],
)
def test_unicode_tricks_are_searched_for_as_text(
    api: tuple[TestClient, dict[str, str]], q: str
) -> None:
    client, headers = api
    response = client.get("/api/v1/threads", params={"q": q}, headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []


def test_the_search_still_finds_the_thread(api: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = api
    response = client.get("/api/v1/threads", params={"q": ORDER}, headers=headers)
    assert [item["order_number"] for item in response.json()["items"]] == [ORDER]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/threads/2147483648",
        "/api/v1/threads/99999999999999999999999",
        "/api/v1/threads/-1",
        "/api/v1/threads/0",
    ],
)
def test_thread_ids_outside_the_id_range_get_a_422(
    api: tuple[TestClient, dict[str, str]], path: str
) -> None:
    client, headers = api
    response = client.get(path, headers=headers)
    assert response.status_code == 422, response.text
