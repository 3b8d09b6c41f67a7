"""The agent's whole job in a real browser (headless Chromium): sign in, open the most urgent
thread, draft from a template, approve, send, and see the customer answered."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import session_scope
from app.enums import Role
from app.main import create_app
from app.replies.templates import seed_on_first_run
from app.users.service import create_user, set_password
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, watch
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer, relay_address
from tests.support.polling import poll
from tests.support.smtp import SmtpServer
from tests.support.web import serving

if TYPE_CHECKING:
    from playwright.sync_api import Page

PASSWORD = "correct horse battery"


@pytest.fixture
def server(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> Iterator[str]:
    require_chromium()
    arrived = datetime.now(UTC)
    imap_account.append(
        "INBOX",
        [customer("Dora", order="108829272810783", subject="Where is my order?")],
        when=arrived - timedelta(hours=40),
    )
    imap_account.append(
        "INBOX",
        [customer("Eve", order="200011419023224", subject="Question about sizes")],
        when=arrived - timedelta(hours=2),
    )
    assert poll(session_factory, imap_account.settings()).ok
    with session_scope(session_factory) as db:
        seed_on_first_run(db)
        create_user(db, name="agnes", role=Role.AGENT, actor="test")
        set_password(db, name="agnes", password=PASSWORD, actor="test")
    settings = Settings(
        database_url=database_url, mailboxes=[imap_account.settings()], smtp=smtp_server.settings()
    )
    with serving(create_app(settings)) as base_url:
        yield base_url


def _sign_in(page: Page, server: str) -> None:
    page.goto(f"{server}/")
    page.fill("input[name=username]", "agnes")
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_selector("text=Waiting customers")


def test_an_agent_answers_the_most_urgent_customer(
    server: str, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        seen = watch(page, server)

        _sign_in(page, server)

        # The first row is the most urgent: Dora, 40 hours into her 48.
        first = page.locator("tbody tr").first
        assert "at risk" in first.inner_text()
        first.locator("a").click()
        page.wait_for_selector("text=Where is my order?")

        page.select_option("select[name=template_id]", label="shipping · Where is my order")
        with page.expect_navigation():
            page.click("text=Start a reply from this template")
        draft = page.locator("[data-draft-state=draft]").first
        text = draft.locator("textarea").input_value()
        assert "Dora" in text
        # A person personalises the template before approving it.
        draft.locator("textarea").fill(
            text.replace("Hello Dora,", "Hello Dora,\n\nI checked your order myself this morning.")
        )
        # Each button posts a form; wait for the page it leads to before the next step.
        with page.expect_navigation():
            draft.locator("text=Save changes").click()
        # The page says who the reply goes to before it is approved and sent.
        envelope = page.locator("[data-draft-state=draft] .envelope .recipient")
        assert envelope.inner_text() == f"Dora <{relay_address('Dora')}>"
        with page.expect_navigation():
            page.locator("[data-draft-state=draft] button", has_text="Approve").click()
        with page.expect_navigation():
            page.locator("button", has_text=f"Send to Dora <{relay_address('Dora')}>").click()
        page.wait_for_selector("[data-draft-state=sent]")
        assert page.locator("[data-state]").first.get_attribute("data-state") == "answered"
        page.screenshot(path=str(tmp_path / "answered.png"), full_page=True)
        browser.close()

    ((recipients, raw),) = smtp_server.recorder.messages
    assert recipients == [relay_address("Dora")]
    assert b"I checked your order myself this morning." in raw
    assert seen.console_errors == []
    assert seen.outside == []


def test_an_agent_records_an_answer_given_by_phone(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        seen = watch(page, server)
        _sign_in(page, server)
        with page.expect_navigation():
            page.click("text=Question about sizes")
        assert page.locator("[data-state]").first.get_attribute("data-state") == "waiting"
        # Before closing, the page says what closing does to a Walmart seller's rate.
        rule = page.locator(".close-rule").inner_text()
        assert "Walmart still counts this message in your response rate if it is not answered" in (
            rule
        )

        # A time in the future is refused with the reason, on the page.
        form = page.locator("form#answered-elsewhere")
        form.locator("select[name=channel]").select_option(label="Phone")
        form.locator("input[name=answered_at]").fill("2099-01-01T10:00")
        with page.expect_navigation():
            form.locator("button", has_text="Answered elsewhere").click()
        assert "in the future" in page.locator("[role=alert]").inner_text()
        assert page.locator("[data-state]").first.get_attribute("data-state") == "waiting"

        form = page.locator("form#answered-elsewhere")
        form.locator("select[name=channel]").select_option(label="Phone")
        note = "Called back: <script>alert(1)</script> size M fits"
        form.locator("input[name=note]").fill(note)
        with page.expect_navigation():
            form.locator("button", has_text="Answered elsewhere").click()
        page.wait_for_selector("[data-state=answered]")
        answer = page.locator(".outside-answer[data-channel=phone]")
        assert "answered outside the mailbox: Phone · recorded by agnes" in answer.inner_text()
        assert answer.locator(".text").inner_text() == note  # shown as text, never run
        assert page.locator("form#answered-elsewhere").count() == 0  # nothing waits any more
        page.screenshot(path=str(tmp_path / "answered-elsewhere.png"), full_page=True)

        page.goto(f"{server}/")
        page.wait_for_selector("text=Waiting customers")
        assert "Question about sizes" not in page.locator("main").inner_text()
        browser.close()

    # The refused time was answered 422, which Chromium logs; nothing else went wrong.
    assert [e for e in seen.console_errors if "status of 422" not in e] == []
    assert seen.outside == []


def test_pages_are_styled_under_the_policy_without_a_violation(server: str, tmp_path: Path) -> None:
    """Every page takes its style from /static and breaks no rule of its Content-Security-Policy
    (Chromium logs "Refused to apply inline style ..." as a console error otherwise)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        seen = watch(page, server)
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text))

        page.goto(f"{server}/login")
        card = page.locator(".card.login")
        assert card.evaluate("e => getComputedStyle(e).maxWidth") == "380px"
        page.screenshot(path=str(tmp_path / "login.png"))
        page.fill("input[name=username]", "agnes")
        page.fill("input[name=password]", PASSWORD)
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.wait_for_selector("text=Waiting customers")
        header = page.locator("header")
        assert header.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(17, 24, 39)"
        assert page.locator("h1.page-title").evaluate("e => getComputedStyle(e).fontSize") == (
            "20px"
        )
        page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)

        page.locator("tbody tr a").first.click()
        page.wait_for_selector("h1.thread-title")
        assert page.locator("h2#drafts").evaluate("e => getComputedStyle(e).fontSize") == "18px"
        page.screenshot(path=str(tmp_path / "thread.png"), full_page=True)

        page.goto(f"{server}/status")
        page.wait_for_selector("text=slawatch · status")
        body = page.locator("body")
        assert body.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(17, 18, 23)"
        page.screenshot(path=str(tmp_path / "status.png"), full_page=True)
        browser.close()

    assert not [m for m in messages if "Content Security Policy" in m or "Refused" in m]
    assert seen.console_errors == []
    assert seen.outside == []
