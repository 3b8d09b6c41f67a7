"""The template API refuses a template that breaks a render cap, and a draft from a template that
breaks one only with its thread fails with the reason (422)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.replies import caps
from app.sla import policy_lookup
from tests.support.dovecot import free_port
from tests.support.mailfactory import SELLER_ADDRESS, customer
from tests.support.web import auth

GOOD = "Hello{% if customer_name %} {{ customer_name }}{% endif %},\n\nThanks.\n\n{{ signature }}\n"
VALUE_CAP = (
    "line 1: the template builds a value longer than 100,000 characters (the cap on any one value)"
)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{{ ([[subject]*1000]*1000)|string|length }}", VALUE_CAP),
        ("Hi\n{{ subject|center(10**9) }}", VALUE_CAP.replace("line 1", "line 2")),
        ("{{ 2 ** 100000 }}", "line 1: the template builds a number larger than 4096 bits"),
        (
            "{{ [" + "'x' * 99999, " * 20 + "]|length }}",
            "line 1: the template builds more than 1,000,000 characters in all "
            "(the cap on one render)",
        ),
        ("{% for a in subject %}{% endfor %}", "line 1: reply templates do not support loops"),
    ],
)
def test_saving_a_template_that_breaks_a_cap_is_422_with_the_reason(
    client: TestClient, make_token: Callable[..., str], body: str, reason: str
) -> None:
    admin = auth(make_token(Role.ADMIN))
    made = client.post(
        "/api/v1/templates", json={"name": "Bad", "category": "x", "body": body}, headers=admin
    )
    assert made.status_code == 422, made.text
    assert made.json()["detail"].startswith(f"template body: {reason}")

    good = client.post(
        "/api/v1/templates", json={"name": "Good", "category": "x", "body": GOOD}, headers=admin
    )
    assert good.status_code == 201, good.text
    template_id = good.json()["id"]
    changed = client.patch(f"/api/v1/templates/{template_id}", json={"body": body}, headers=admin)
    assert changed.status_code == 422, changed.text
    assert changed.json()["detail"].startswith(f"template body: {reason}")
    kept = client.get(f"/api/v1/templates/{template_id}", headers=admin).json()
    assert (kept["version"], kept["body"]) == (1, GOOD)


def test_saving_a_template_over_the_time_limit_is_422_naming_it(
    client: TestClient, make_token: Callable[..., str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = iter(range(0, 10**6, 1))  # a CPU second every time the render looks
    monkeypatch.setattr(caps, "_cpu_time", lambda: float(next(clock)))
    made = client.post(
        "/api/v1/templates",
        json={"name": "Slow", "category": "x", "body": "{{ subject|upper }}{{ subject|lower }}"},
        headers=auth(make_token(Role.ADMIN)),
    )
    assert made.status_code == 422, made.text
    assert made.json()["detail"] == (
        "template body: line 1: the template took longer than 1 s of CPU time to render "
        "(the time limit)"
    )


def test_a_draft_from_a_template_that_breaks_a_cap_with_its_thread_is_422(
    database_url: str,
    make_token: Callable[..., str],
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Saving renders sample threads only; this thread takes the branch they do not."""
    monkeypatch.setenv("SLAWATCH_TEST_LIMITS_PW", "unused")
    mailbox = MailboxSettings(
        name="store",
        host="127.0.0.1",
        port=free_port(),  # never connected to: nothing is polled or sent
        security="plain",
        username="support@store.example",
        password_env="SLAWATCH_TEST_LIMITS_PW",
        seller_addresses=[SELLER_ADDRESS],
    )
    settings = Settings(database_url=database_url, mailboxes=[mailbox])
    with session_scope(session_factory) as db:
        stored = store_message(
            db,
            mailbox_id=mailbox_repository.get_or_create_mailbox(db, "store").id,
            role=FolderRole.INBOX,
            raw=customer("Rita", subject="Refund"),
            arrived_at=now(),
            seller_addresses=frozenset({SELLER_ADDRESS}),
            policy_for=policy_lookup(settings.sla, "walmart"),
        )
        assert stored is not None
        thread_id = stored.thread_id
    body = "{% if subject == 'Refund' %}{{ subject * 10**9 }}{% endif %}" + GOOD
    with TestClient(create_app(settings)) as client:
        made = client.post(
            "/api/v1/templates",
            json={"name": "Branchy", "category": "x", "body": body},
            headers=auth(make_token(Role.ADMIN)),
        )
        assert made.status_code == 201, made.text
        drafted = client.post(
            f"/api/v1/threads/{thread_id}/drafts",
            json={"template_id": made.json()["id"]},
            headers=auth(make_token(Role.AGENT)),
        )
    assert drafted.status_code == 422, drafted.text
    assert drafted.json()["detail"] == f"template 'Branchy' cannot be rendered: {VALUE_CAP}"
