"""Headless Chromium for page tests: Debian's chromium driven by Playwright, with what a page does
that it should not (console errors, requests leaving the test server, dialogs) recorded."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.ci import unavailable

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
# Without these, Chromium tries to reach Google's services at start; this machine has no network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    if shutil.which("chromium") is None and not Path(CHROMIUM).exists():
        unavailable(f"Chromium is not installed ({CHROMIUM}; apt-get install chromium)")


@dataclass
class PageWatch:
    console_errors: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)  # requests to anywhere but the server


def watch(page: Page, server: str) -> PageWatch:
    """Record console errors and requests leaving ``server``; fail on any dialog (an alert()
    means injected script ran)."""
    seen = PageWatch()
    page.on("console", lambda m: seen.console_errors.append(m.text) if m.type == "error" else None)
    page.on("dialog", lambda d: pytest.fail(f"a dialog opened: {d.message}"))
    page.on(
        "request",
        lambda r: (
            seen.outside.append(r.url)
            if r.url.startswith(("http:", "https:", "ws:", "wss:")) and not r.url.startswith(server)
            else None
        ),
    )
    return seen


def sign_in(page: Page, server: str, name: str, password: str) -> None:
    """Sign in on the login page and wait for the queue."""
    page.goto(f"{server}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("text=Waiting customers")
