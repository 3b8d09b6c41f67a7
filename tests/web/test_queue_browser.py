"""The queue in headless Chromium: on a phone's width without scrolling sideways, filters and
search as links, and the keyboard shortcuts (next thread, approve) doing their work through the
real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.enums import DraftState
from app.main import create_app
from app.models import Draft
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, sign_in, watch
from tests.support.queue_threads import queue_settings, seed_queue
from tests.support.web import PASSWORD, serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

PHONE = {"width": 390, "height": 844}


@pytest.fixture
def server(
    session_factory: sessionmaker[Session], database_url: str
) -> Iterator[tuple[str, dict[str, int]]]:
    require_chromium()
    threads = seed_queue(session_factory)
    with serving(create_app(queue_settings(database_url))) as base_url:
        yield base_url, threads


@pytest.fixture
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _fits(page: Page) -> bool:
    """Nothing wider than the screen: no scrolling sideways."""
    width: bool = page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    return width


def test_the_queue_and_a_thread_on_a_phone(
    server: tuple[str, dict[str, int]], browser: Browser, tmp_path: Path
) -> None:
    base_url, _ = server
    page = browser.new_page(viewport=PHONE)
    seen = watch(page, base_url)
    sign_in(page, base_url, "agnes", PASSWORD)
    assert _fits(page)
    page.screenshot(path=str(tmp_path / "queue-phone.png"), full_page=True)

    # Search and filter as a person does, and get a link that gives the same queue again.
    page.fill("input[name=q]", "refund")
    page.select_option("select[name=client]", "zeta")
    with page.expect_navigation():
        page.click("button:has-text('Filter')")
    assert page.url == f"{base_url}/?q=refund&mailbox=&client=zeta&state=&kind="
    assert page.locator("td.customer").all_inner_texts() == ["Gus"]
    assert _fits(page)
    page.goto(page.url)
    assert page.locator("td.customer").all_inner_texts() == ["Gus"]
    assert page.input_value("input[name=q]") == "refund"

    with page.expect_navigation():
        page.locator("td.subject a").first.click()
    page.wait_for_selector("text=Refund for 50 off coupon")
    assert _fits(page)
    page.screenshot(path=str(tmp_path / "thread-phone.png"), full_page=True)
    assert seen.console_errors == [] and seen.outside == []


def test_keys_open_the_next_thread_and_approve_the_reply(
    server: tuple[str, dict[str, int]],
    browser: Browser,
    session_factory: sessionmaker[Session],
) -> None:
    base_url, threads = server
    page = browser.new_page()
    seen = watch(page, base_url)
    sign_in(page, base_url, "agnes", PASSWORD)

    # "/" goes to the search box; typing "n" there is text, not a shortcut.
    page.keyboard.press("/")
    page.keyboard.type("n")
    assert page.input_value("input[name=q]") == "n"
    assert page.url == f"{base_url}/"
    page.locator("input[name=q]").blur()

    # "n" on the queue opens the most urgent thread; on a thread, the next one.
    with page.expect_navigation():
        page.keyboard.press("n")
    assert page.url == f"{base_url}/threads/{threads['Dora']}"
    with page.expect_navigation():
        page.keyboard.press("n")
    assert page.url == f"{base_url}/threads/{threads['Frank']}"

    # The suggested template is already picked; the agent starts the reply from it.
    assert page.locator("select[name=template_id] option:checked").inner_text() == (
        "damaged item · Item arrived damaged"
    )
    with page.expect_navigation():
        page.click("text=Start a reply from this template")
    # "a" in the reply's text is text...
    page.locator("[data-draft-state=draft] textarea").press("a")
    assert page.locator("[data-draft-state=draft]").count() == 1
    page.locator("[data-draft-state=draft] textarea").blur()
    # ... outside it, "a" approves, as the approve button does: the server refuses the template
    # as it is, and approves once the agent has written to this customer.
    with page.expect_navigation():
        page.keyboard.press("a")
    assert "the draft has lint errors" in page.locator("[role=alert]").inner_text()
    draft = page.locator("[data-draft-state=draft]")
    text = draft.locator("textarea").input_value()
    draft.locator("textarea").fill(text.replace("Hello Frank,", "Hello Frank,\n\nSorry!"))
    with page.expect_navigation():
        draft.locator("text=Save changes").click()
    with page.expect_navigation():
        page.keyboard.press("a")
    page.wait_for_selector("[data-draft-state=approved]")
    with session_factory() as db:
        states = db.scalars(select(Draft.state).where(Draft.thread_id == threads["Frank"])).all()
    assert states == [DraftState.APPROVED]
    # Chromium logs the refused approval's answer (a 409 page); nothing else went wrong.
    assert seen.console_errors == [
        "Failed to load resource: the server responded with a status of 409 (Conflict)"
    ]
    assert seen.outside == []
