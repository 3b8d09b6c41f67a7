"""Input no database can store (NUL, lone surrogates, non-finite numbers) is refused with a 400
naming where it is, on every endpoint and before anything is written; ids past 32 bits are 422."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ids import MAX_ROW_ID
from app.ingest.store import store_message
from app.input_guard import problem_in
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.models import AuditEntry, Draft, ReplyTemplate
from app.sla import policy_lookup
from tests.support.mailfactory import SELLER_ADDRESS, customer
from tests.support.web import auth

MAILBOX = '{"name": "api-box", "host": "imap.example.com", "username": "u", '
MAILBOX += '"password_env": "X", "seller_addresses": ["a@b.example"]'


@pytest.fixture
def api(
    database_url: str, session_factory: sessionmaker[Session], make_token: Callable[..., str]
) -> Iterator[tuple[TestClient, dict[str, str], int]]:
    """The app, an admin's headers and a thread's id."""
    with session_scope(session_factory) as db:
        message = store_message(
            db,
            mailbox_id=mailbox_repository.get_or_create_mailbox(db, "store-a").id,
            role=FolderRole.INBOX,
            raw=customer("Alice"),
            arrived_at=now(),
            seller_addresses=frozenset({SELLER_ADDRESS}),
            policy_for=policy_lookup(Settings().sla, "walmart"),
        )
        assert message is not None and message.thread_id is not None
        thread_id = message.thread_id
    with TestClient(create_app(Settings(database_url=database_url))) as client:
        yield client, auth(make_token(Role.ADMIN)), thread_id


@pytest.mark.parametrize(
    ("path", "body", "reason"),
    [
        (
            "/api/v1/templates",
            '{"name": "a\\u0000b", "category": "c", "body": "x"}',
            "a NUL character in body.name",
        ),
        (
            "/api/v1/templates",
            '{"name": "n", "category": "c", "body": "x\\ud800"}',
            "a lone surrogate (not Unicode text) in body.body",
        ),
        (
            "/api/v1/templates",
            '{"name": "n", "category": "\\udfff", "body": "x"}',
            "a lone surrogate (not Unicode text) in body.category",
        ),
        ("/api/v1/templates", '{"name": 1e400, "category": "c", "body": "x"}', "inf"),
        ("/api/v1/templates", '{"name": NaN, "category": "c", "body": "x"}', "nan"),
        ("/api/v1/templates", '{"name": -Infinity, "category": "c", "body": "x"}', "-inf"),
        ("/api/v1/threads/{thread}/close", '{"reason": "spam\\u0000"}', "body.reason"),
        ("/api/v1/threads/{thread}/close", '{"reason": "\\udc00"}', "body.reason"),
        ("/api/v1/threads/{thread}/drafts", '{"body": "Hello\\u0000"}', "body.body"),
        ("/api/v1/threads/{thread}/drafts", '{"body": "Hello\\ud83d"}', "body.body"),
        ("/api/v1/threads/{thread}/drafts", '{"template_id": 1e999}', "body.template_id"),
        ("/api/v1/mailboxes", MAILBOX + ', "client": "c\\u0000"}', "body.client"),
        ("/api/v1/mailboxes", MAILBOX + ', "timeout_seconds": Infinity}', "body.timeout_seconds"),
        (
            "/api/v1/mailboxes",
            MAILBOX + ', "seller_addresses": ["\\ud800@b"]}',
            "seller_addresses[0]",
        ),
        ("/api/v1/mailboxes", MAILBOX + ', "x\\u0000": 1}', "in a key of body"),
    ],
)
def test_unstorable_json_is_a_400_and_nothing_is_written(
    api: tuple[TestClient, dict[str, str], int],
    session_factory: sessionmaker[Session],
    path: str,
    body: str,
    reason: str,
) -> None:
    def rows() -> list[int | None]:
        with session_factory() as db:
            return [
                db.scalar(select(func.count()).select_from(table))
                for table in (AuditEntry, ReplyTemplate, Draft)
            ]

    client, headers, thread_id = api
    before = rows()
    response = client.post(
        path.format(thread=thread_id),
        content=body.encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert reason in response.json()["detail"] and "remove it" in response.json()["detail"]
    assert rows() == before


def test_a_nul_in_a_path_parameter_is_a_400(api: tuple[TestClient, dict[str, str], int]) -> None:
    client, headers, _ = api
    response = client.patch("/api/v1/mailboxes/a%00b", json={"client": "x"}, headers=headers)
    assert response.status_code == 400
    assert "path parameter 'name' contains a NUL character" in response.json()["detail"]


def test_a_nul_in_a_form_field_is_a_400(api: tuple[TestClient, dict[str, str], int]) -> None:
    client, _, _ = api
    response = client.post(
        "/login", data={"username": "agnes\x00", "password": "x", "csrf_token": "t"}
    )
    assert response.status_code == 400
    assert "form field 'username' contains a NUL character" in response.json()["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/threads/{thread}/reopen", "[" * 100_000 + "]" * 100_000),  # takes no body
        ("/api/v1/threads/{thread}/close", "[" * 100_000 + "]" * 100_000),
        ("/api/v1/threads/{thread}/reopen", '"\\u0000' + "x" * 10),  # not JSON at all
        ("/api/v1/threads/{thread}/close", b"\xff\xfe{}"),
    ],
)
def test_bodies_json_cannot_read_are_never_a_500(
    api: tuple[TestClient, dict[str, str], int], path: str, body: str | bytes
) -> None:
    client, headers, thread_id = api
    content = body if isinstance(body, bytes) else body.encode()
    response = client.post(
        path.format(thread=thread_id),
        content=content,
        headers={**headers, "Content-Type": "application/json"},
    )
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("get", f"/api/v1/threads/{MAX_ROW_ID + 1}", None),
        ("post", f"/api/v1/threads/{MAX_ROW_ID + 1}/close", {"reason": "x"}),
        ("post", f"/api/v1/threads/{2**64}/drafts", {"body": "Hello"}),
        ("post", "/api/v1/threads/{thread}/drafts", {"template_id": 2**63}),
        ("get", f"/api/v1/drafts/{2**63}", None),
        ("post", f"/api/v1/drafts/{10**30}/send", None),
        ("patch", f"/api/v1/templates/{MAX_ROW_ID + 1}", {"name": "x"}),
        ("delete", f"/api/v1/templates/{2**80}", None),
        ("get", f"/api/v1/audit?before_id={2**63}", None),
        ("get", f"/api/v1/alerts?before_id={2**31}", None),
    ],
)
def test_ids_past_32_bits_are_a_422(
    api: tuple[TestClient, dict[str, str], int], method: str, path: str, body: dict | None
) -> None:
    client, headers, thread_id = api
    response = client.request(method, path.format(thread=thread_id), json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert str(MAX_ROW_ID) in response.text


def test_the_largest_id_is_simply_not_found(api: tuple[TestClient, dict[str, str], int]) -> None:
    client, headers, _ = api
    assert client.get(f"/api/v1/threads/{MAX_ROW_ID}", headers=headers).status_code == 404


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("plain", None),
        ("é 漢字 \u202e \ufeff", None),
        ("a\x00", "a NUL character"),
        ("\ud800", "a lone surrogate (not Unicode text)"),
        (float("inf"), "the number inf (JSON numbers must be finite)"),
        (1.5, None),
        (10**100, None),
        (None, None),
    ],
)
def test_problem_in(value: object, problem: str | None) -> None:
    assert problem_in(value) == problem
