"""Fixtures for the accounts tests: a frozen clock, the app with its settings, users."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import set_clock
from app.config import AuthSettings, Settings
from app.db import session_scope
from app.enums import Role
from app.main import create_app
from app.users.service import create_user, set_password

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


class Clock:
    """The time the app sees; tests move it forward instead of sleeping."""

    def __init__(self) -> None:
        self.at = START

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


@pytest.fixture
def clock() -> Iterator[Clock]:
    frozen = Clock()
    set_clock(lambda: frozen.at)
    yield frozen
    set_clock(None)


@dataclass
class Site:
    """The running app; ``browser(address)`` is a browser of its own (cookies) at that address."""

    app: FastAPI
    api: TestClient

    def browser(self, address: str = "192.0.2.1") -> TestClient:
        # Without `with`: the lifespan already runs in ``api``; this only adds a client address.
        return TestClient(self.app, client=(address, 50000))


@pytest.fixture
def auth_settings() -> AuthSettings:
    """Overridden by tests that need other [auth] settings."""
    return AuthSettings()


@pytest.fixture
def site(clock: Clock, database_url: str, auth_settings: AuthSettings) -> Iterator[Site]:
    app = create_app(Settings(database_url=database_url, auth=auth_settings))
    with TestClient(app) as api:
        yield Site(app, api)


@pytest.fixture
def add_user(session_factory: sessionmaker[Session], clock: Clock) -> Callable[..., str]:
    """Create a user with the agent-page password PASSWORD; returns its API token."""

    def add(name: str, role: Role = Role.AGENT) -> str:
        with session_scope(session_factory) as db:
            issued = create_user(db, name=name, role=role, actor="test")
            set_password(db, name=name, password=PASSWORD, actor="test")
        return issued.token

    return add


def sign_in(browser: TestClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """Fill in and send the sign-in form as a browser does."""
    form = browser.get("/login")
    match = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert match, "no CSRF token on the sign-in page"
    return browser.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": match.group(1)},
        follow_redirects=False,
    )


def signed_in(browser: TestClient) -> bool:
    """Whether the browser still gets the queue (a signed-out one is sent to /login)."""
    response = browser.get("/", follow_redirects=False)
    assert response.status_code in (200, 303), response.text
    return response.status_code == 200
