"""The API fuzzed with schemathesis against its own /openapi.json: no request gives a 5xx, and
every response, errors included, has a status and a body the description documents.

Every operation gets valid and invalid requests (path, query, headers, body) from an admin, on a
real server (uvicorn) over a database seeded with threads, a template, a draft and an API mailbox,
so that some fuzzed ids are real rows. Deterministic: the examples derive from the test's code.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.sla import policy_lookup
from tests.support.dovecot import free_port
from tests.support.mailfactory import SELLER_ADDRESS, customer
from tests.support.smtp import SmtpServer
from tests.support.web import auth, serving

# Per operation and generation mode: 30 operations, some 450 requests per backend.
EXAMPLES = 8
MAILBOX = "store-a"


CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]


@dataclass(frozen=True)
class Seeded:
    """Real values for each path parameter, so fuzzed requests also reach existing rows."""

    path_values: dict[str, list[Any]]


def _store_threads(session_factory: sessionmaker[Session]) -> list[int]:
    policy_for = policy_lookup(Settings().sla, "walmart")
    ids = []
    with session_scope(session_factory) as db:
        mailbox_id = mailbox_repository.get_or_create_mailbox(db, MAILBOX).id
        for i, (buyer, hours) in enumerate([("Alice", 50), ("Bob", 30), ("Carol", 2)]):
            stored = store_message(
                db,
                mailbox_id=mailbox_id,
                role=FolderRole.INBOX,
                raw=customer(buyer, order=f"10882927281{i:04d}"),
                arrived_at=now() - timedelta(hours=hours),
                seller_addresses=frozenset({SELLER_ADDRESS}),
                policy_for=policy_for,
            )
            assert stored is not None and stored.thread_id is not None
            ids.append(stored.thread_id)
    return ids


def _seed_through_the_api(base: str, token: str, thread_ids: list[int]) -> Seeded:
    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = requests.post(f"{base}{path}", json=body, headers=auth(token), timeout=30)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result

    template = post(
        "/api/v1/templates",
        {"name": "Shipping", "category": "shipping", "body": "Hello {{ customer_name }}"},
    )
    draft = post(f"/api/v1/threads/{thread_ids[0]}/drafts", {"body": "Hello, it ships today."})
    api_mailbox = post(
        "/api/v1/mailboxes",
        {
            "name": "api-box",
            "host": "127.0.0.1",
            "port": free_port(),  # nothing listens: a connection test fails at once
            "security": "plain",
            "username": "support@api-box.example",
            "password_env": "SLAWATCH_MAILBOX_FUZZ_PASSWORD",
            "seller_addresses": ["support@api-box.example"],
        },
    )
    me = requests.get(f"{base}/api/v1/me", headers=auth(token), timeout=30).json()["name"]
    tokens = requests.get(f"{base}/api/v1/users/{me}/tokens", headers=auth(token), timeout=30)
    return Seeded(
        {
            "token_id": [t["id"] for t in tokens.json()],
            "thread_id": thread_ids,
            "draft_id": [draft["id"]],
            "template_id": [template["id"]],
            "name": [MAILBOX, api_mailbox["name"], me],  # mailboxes and users
        }
    )


@pytest.fixture
def fuzz_settings(
    database_url: str, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    """A configured mailbox (replies go to the aiosmtpd server) whose IMAP port is closed."""
    monkeypatch.setenv("SLAWATCH_FUZZ_PASSWORD", "fuzz-secret")
    mailbox = MailboxSettings(
        name=MAILBOX,
        host="127.0.0.1",
        port=free_port(),
        security="plain",
        username="support@store.example",
        password_env="SLAWATCH_FUZZ_PASSWORD",
        seller_addresses=[SELLER_ADDRESS],
        append_sent_copy=False,
    )
    return Settings(database_url=database_url, mailboxes=[mailbox], smtp=smtp_server.settings())


@pytest.fixture
def served(
    fuzz_settings: Settings,
    session_factory: sessionmaker[Session],
    make_token: Callable[..., str],
) -> Iterator[tuple[str, str, Seeded]]:
    thread_ids = _store_threads(session_factory)
    token = make_token(Role.ADMIN)
    with serving(create_app(fuzz_settings)) as base:
        yield base, token, _seed_through_the_api(base, token, thread_ids)


def _strategy(operation: Any, seeded: Seeded) -> st.SearchStrategy[Any]:
    strategies = [operation.as_strategy(mode) for mode in GenerationMode]
    names = [p.name for p in operation.path_parameters]
    if names:
        real = st.fixed_dictionaries({n: st.sampled_from(seeded.path_values[n]) for n in names})
        strategies += [
            real.flatmap(
                lambda values, mode=mode: operation.as_strategy(mode, path_parameters=values)
            )
            for mode in GenerationMode
        ]
    return st.one_of(strategies)


def _fuzz(operation: Any, seeded: Seeded, http: requests.Session, token: str) -> None:
    @settings(
        max_examples=EXAMPLES * len(GenerationMode),
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],  # a failure is reported as found, unshrunk
        suppress_health_check=list(HealthCheck),
    )
    @given(case=_strategy(operation, seeded))
    def run(case: Any) -> None:
        case.call_and_validate(session=http, headers=auth(token), checks=CHECKS)

    run()


def test_no_request_gives_a_server_error(served: tuple[str, str, Seeded]) -> None:
    base, token, seeded = served
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures, operations = [], 0
    with requests.Session() as http:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            try:
                _fuzz(operation, seeded, http, token)
            except BaseExceptionGroup as e:  # schemathesis's FailureGroup: its report, curl
                failures.append(f"{operation.label}: {e.message}")
            except Exception:
                failures.append(f"{operation.label}:\n{traceback.format_exc()}")
    assert operations >= 25
    assert not failures, "\n\n".join(failures)
