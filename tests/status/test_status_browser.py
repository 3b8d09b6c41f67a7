"""The status page in headless Chromium, over the demo data and a hostile subject: every panel
drawn, its numbers those of the API, nothing run from a subject, nothing fetched from elsewhere."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import demo
from app.clock import now
from app.config import Settings
from app.db import session_scope
from app.enums import Classification, FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.models import Message
from app.sla import policy_lookup
from app.threads import activity, stats
from app.threads import jobs as thread_jobs
from app.users.service import create_user, set_password
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, watch
from tests.support.web import auth, serving

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "status page password"
HOSTILE_SUBJECT = "<img src=x onerror=alert(1)> order 108811112222333"


def _hostile_message(when: datetime) -> bytes:
    return (
        f"From: Mallory <0A1B2C3D4E5F60718293A4B5C6D7E8F9@relay.walmart.com>\r\n"
        f"To: {demo.SELLER}\r\n"
        f"Subject: {HOSTILE_SUBJECT}\r\n"
        f"Date: {when.strftime('%a, %d %b %Y %H:%M:%S +0000')}\r\n"
        f"Message-ID: <hostile-1@relay.walmart.com>\r\n\r\n"
        f"<script>alert(2)</script> where is it?\r\n"
    ).encode()


@pytest.fixture
def server(session_factory: sessionmaker[Session], database_url: str) -> Iterator[str]:
    require_chromium()
    settings = Settings(database_url=database_url)
    at = now()
    assert demo.load(session_factory, settings, now=at) > 500
    with session_scope(session_factory) as db:
        mailbox = mailbox_repository.get_or_create_mailbox(db, demo.DEMO_MAILBOX)
        # The longest overdue of all, so it is the first row of the urgent table.
        assert store_message(
            db,
            mailbox_id=mailbox.id,
            role=FolderRole.INBOX,
            raw=_hostile_message(at - timedelta(hours=70)),
            arrived_at=at - timedelta(hours=70),
            seller_addresses=frozenset({demo.SELLER}),
            policy_for=policy_lookup(settings.sla, "walmart"),
        )
        create_user(db, name="owner", role=Role.VIEWER, actor="test")
        set_password(db, name="owner", password=PASSWORD, actor="test")
    thread_jobs.refresh_all(read_factory=session_factory, write_factory=session_factory, now=now())
    thread_jobs.sample_waiting(
        read_factory=session_factory, write_factory=session_factory, now=now()
    )
    with serving(create_app(settings)) as base_url:
        yield base_url


def _tile_values(page: Page) -> dict[str | None, str | None]:
    return {
        tile.get_attribute("data-tile"): tile.get_attribute("data-value")
        for tile in page.locator("[data-tile]").all()
    }


def test_status_page_shows_every_panel_with_the_numbers_of_the_api(
    server: str,
    session_factory: sessionmaker[Session],
    make_token: Callable[[Role], str],
    tmp_path: Path,
) -> None:
    from playwright.sync_api import sync_playwright

    token = make_token(Role.VIEWER)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        seen = watch(page, server)
        page.goto(f"{server}/status")
        assert page.url.endswith("/login")  # not public: signed-in users only
        page.fill("input[name=username]", "owner")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.goto(f"{server}/status?range=7d")
        summary = httpx.get(f"{server}/api/v1/summary", headers=auth(token)).json()
        waiting = httpx.get(f"{server}/api/v1/threads?limit=10", headers=auth(token)).json()[
            "items"
        ]

        tiles = _tile_values(page)
        for panel in ("traffic", "waiting", "distribution", "health", "urgent"):
            assert page.locator(f"[data-panel={panel}]").is_visible(), panel
        # A picked range is kept by the mailbox filter and shown as chosen.
        assert page.locator("nav a.on").inner_text() == "7d"
        rows = page.locator("[data-panel=urgent] tbody tr")
        first_row = rows.first.inner_text()
        thread_ids = [r.get_attribute("data-thread") for r in rows.all()]
        bars = {
            b.get_attribute("data-bucket"): int(b.get_attribute("data-value") or -1)
            for b in page.locator("[data-panel=distribution] rect[data-bucket]").all()
        }
        traffic = {
            line.get_attribute("data-series"): float(line.get_attribute("data-total") or -1)
            for line in page.locator("[data-panel=traffic] path").all()
        }
        health = [r.get_attribute("data-mailbox") for r in page.locator("[data-mailbox]").all()]
        hostile_images = page.locator("[data-panel=urgent] img").count()
        screenshot = tmp_path / "status.png"
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()

    by_state = summary["by_state"]
    assert int(tiles["waiting"]) == by_state["waiting"]
    assert int(tiles["at_risk"]) == by_state["at_risk"]
    assert int(tiles["overdue"]) == by_state["overdue"] > 0
    assert int(tiles["escalations"]) == summary["waiting_by_kind"]["escalation"] == 1
    assert float(tiles["response_rate"]) == pytest.approx(summary["response_rates"][0]["rate"])
    assert float(tiles["median_first_response"]) == pytest.approx(
        summary["median_first_response_seconds"]
    )
    (mailbox,) = summary["mailboxes"]
    assert float(tiles["oldest_waiting"]) == pytest.approx(
        mailbox["oldest_waiting_seconds"], abs=60
    )
    assert health == [mailbox["name"]]
    # The urgent table is the top of the API's waiting list, in the same order.
    assert thread_ids == [str(t["id"]) for t in waiting]

    # The hostile subject is text: shown literally, no element made of it, no dialog opened.
    assert "<img src=x onerror=alert(1)>" in first_row
    assert hostile_images == 0

    # The charts count what is stored: customer messages of the last 7 days, by arrival.
    since = activity.hour_of(now() - timedelta(days=7))
    with session_factory() as db:
        customer_in = db.scalar(
            select(func.count())
            .select_from(Message)
            .where(
                Message.classification.in_([Classification.CUSTOMER, Classification.ESCALATION]),
                Message.received_at >= since,
            )
        )
        figures = stats.latest(db)[stats.ALL_SCOPE][7]
    assert traffic["customer messages in"] == customer_in > 0
    assert list(bars.values()) == figures.distribution and sum(bars.values()) > 0

    assert seen.console_errors == []
    assert seen.outside == []
    assert screenshot.stat().st_size > 20_000
