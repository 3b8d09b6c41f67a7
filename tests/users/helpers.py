"""What the accounts tests share: a frozen clock, the running app, signing in as a browser does."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from fastapi.testclient import TestClient

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery"


class Clock:
    """The time the app sees; tests move it forward instead of sleeping."""

    def __init__(self) -> None:
        self.at = START

    def advance(self, **delta: float) -> datetime:
        self.at += timedelta(**delta)
        return self.at


@dataclass
class Site:
    """The running app; ``browser(address)`` is a browser of its own (cookies) at that address."""

    app: FastAPI
    api: TestClient

    def browser(self, address: str = "192.0.2.1") -> TestClient:
        # Without `with`: the lifespan already runs in ``api``; this only adds a client address.
        return TestClient(self.app, client=(address, 50000))


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
