"""Demo data: a living month of mail through the real pipeline, never mixed with real data."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app import demo
from app.clock import now
from app.config import Settings
from app.enums import Role
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.threads import queries
from tests.support.web import auth

ROOT = Path(__file__).parents[1]


def test_demo_data_shows_every_state_and_a_realistic_response_rate(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    stored = demo.load(session_factory, Settings(database_url=database_url), now=now())
    assert stored > 500
    with session_factory() as db:
        (summary,) = queries.summary(db, now=now()).mailboxes
    assert summary.name == demo.DEMO_MAILBOX
    for state in ("overdue", "at_risk", "waiting", "answered", "informational"):
        assert summary.by_state[state] > 0, state  # type: ignore[index]
    assert summary.waiting_by_kind["escalation"] == 1  # type: ignore[index]
    assert sum(summary.by_state.values()) > 250
    # Loading again adds nothing.
    assert demo.load(session_factory, Settings(database_url=database_url), now=now()) == 0


def test_a_demo_agent_drafts_replies_to_the_buyer_and_nothing_polls_the_demo(
    session_factory: sessionmaker[Session], database_url: str, make_token: Callable[..., str]
) -> None:
    settings = Settings(database_url=database_url)
    demo.load(session_factory, settings, now=now())
    with session_factory() as db:
        assert registry.active(db, settings) == []  # the made-up server is never polled
    agent = auth(make_token(Role.AGENT))
    with TestClient(create_app(settings)) as api:
        (waiting, *_) = api.get("/api/v1/threads?state=waiting", headers=agent).json()["items"]
        drafted = api.post(
            f"/api/v1/threads/{waiting['id']}/drafts", json={"body": "Hello"}, headers=agent
        )
    assert drafted.status_code == 201, drafted.text
    assert drafted.json()["to_address"].endswith("@relay.walmart.com")
    assert drafted.json()["from_address"] == demo.SELLER


def test_demo_data_never_goes_into_a_database_with_real_mailboxes(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    with session_factory.begin() as db:
        mailbox_repository.get_or_create_mailbox(db, "store-1")
    with pytest.raises(ValueError, match="real mailboxes"):
        demo.load(session_factory, Settings(database_url=database_url), now=now())


def test_serve_demo_refuses_when_mailboxes_are_configured(tmp_path: Path) -> None:
    (tmp_path / "slawatch.toml").write_text(
        '[[mailboxes]]\nname = "store-1"\nhost = "imap.example.com"\nusername = "u"\n'
        'password_env = "P"\nseller_addresses = ["support@store.example"]\n'
    )
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--demo"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "never mixed with real mail" in result.stderr
    assert not (tmp_path / "slawatch-demo.db").exists()
