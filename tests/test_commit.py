"""A change is committed before its response is sent: a client that acts on a response at once
sees its own change (found when a browser, redirected after signing in, was sent back to it)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import session_scope
from app.enums import Role
from app.main import create_app
from app.users.service import create_user, set_password
from tests.support.web import serving

PASSWORD = "correct horse battery"


@pytest.fixture
def server(session_factory: sessionmaker[Session], database_url: str) -> Iterator[str]:
    with session_scope(session_factory) as db:
        create_user(db, name="agnes", role=Role.AGENT, actor="test")
        set_password(db, name="agnes", password=PASSWORD, actor="test")
    with serving(create_app(Settings(database_url=database_url))) as base_url:
        yield base_url


def test_the_page_after_signing_in_always_finds_the_new_session(server: str) -> None:
    for attempt in range(20):
        with httpx.Client(base_url=server, follow_redirects=True) as browser:
            form = browser.get("/login").text
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert csrf
            signed_in = browser.post(
                "/login",
                data={"username": "agnes", "password": PASSWORD, "csrf_token": csrf.group(1)},
            )
            # httpx follows the redirect at once, as a browser does.
            assert signed_in.url.path == "/", f"sent back to sign in on attempt {attempt}"
            assert "Waiting customers" in signed_in.text
