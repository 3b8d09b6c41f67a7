"""Fixtures for the accounts tests: a frozen clock, the app with its settings, users (what they
use is in tests/users/helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.clock import set_clock
from app.config import AuthSettings, Settings
from app.db import session_scope
from app.enums import Role
from app.main import create_app
from app.users.service import create_user, set_password
from tests.users.helpers import PASSWORD, Clock, Site


@pytest.fixture
def clock() -> Iterator[Clock]:
    frozen = Clock()
    set_clock(lambda: frozen.at)
    yield frozen
    set_clock(None)


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
