"""The order beside the messages on the agent's page, in headless Chromium: tracking as a link,
the MCF placeholder said to be one, Walmart's text shown as text, only http(s) links; and a
draft quoting the placeholder flagged before it can be approved."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import session_scope
from app.enums import Role
from app.main import create_app
from app.users.service import create_user, set_password
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, require_chromium, sign_in, watch
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer
from tests.support.polling import poll
from tests.support.walmart_api import (
    CLIENT_ID,
    SECRET_ENV,
    FakeWalmart,
    order_line,
    purchase_order,
)
from tests.support.web import serving

PASSWORD = "correct horse battery"
PO, CO = "108829272810783", "200011419023224"
REAL = "1Z999AA10123456784"
HOSTILE = "<img src=x onerror=alert(1)>Towels"


@pytest.fixture
def server(
    imap_account: ImapAccount,
    walmart: FakeWalmart,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> Iterator[str]:
    require_chromium()
    walmart.add_order(
        purchase_order(
            PO,
            CO,
            [
                order_line("1", HOSTILE, tracking=REAL),
                order_line("2", "Mugs", carrier="USPS", tracking="12345", url=None),
                order_line("3", "Plates", tracking="1ZSCRIPT", url="javascript:alert(2)"),
            ],
        )
    )
    mailbox = imap_account.settings(
        walmart_client_id=CLIENT_ID,
        walmart_client_secret_env=SECRET_ENV,
        walmart_api_url=walmart.url,
    )
    imap_account.append("INBOX", [customer("Dora", order=PO, subject="Where is my order?")])
    assert poll(session_factory, mailbox).ok
    with session_scope(session_factory) as db:
        create_user(db, name="agnes", role=Role.AGENT, actor="test")
        set_password(db, name="agnes", password=PASSWORD, actor="test")
    settings = Settings(database_url=database_url, mailboxes=[mailbox])
    with serving(create_app(settings)) as base_url:
        yield base_url


def test_the_order_panel_beside_the_messages(
    server: str, walmart: FakeWalmart, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        seen = watch(page, server)
        sign_in(page, server, "agnes", PASSWORD)
        page.locator("tbody tr a").first.click()
        panel = page.locator("aside.order-panel")
        panel.wait_for()

        # Beside the messages, not below them.
        messages_box = page.locator(".messages").bounding_box()
        panel_box = panel.bounding_box()
        assert messages_box and panel_box and panel_box["x"] > messages_box["x"] + 300
        assert panel.locator("[data-field=purchase_order_id]").inner_text() == PO
        assert panel.locator("[data-field=status]").inner_text() == "Shipped"

        link = panel.locator(f"a:has-text('{REAL}')")
        assert link.get_attribute("href") == f"https://www.ups.com/track?tracknum={REAL}"
        assert link.get_attribute("rel") == "noopener noreferrer nofollow"
        placeholder = panel.locator(".placeholder-tracking")
        assert "placeholder, not real tracking" in placeholder.inner_text()
        assert placeholder.locator("a").count() == 0
        assert HOSTILE in panel.inner_text()  # Walmart's text, shown as text
        assert panel.locator("img").count() == 0
        assert page.locator("a[href^='javascript:']").count() == 0
        assert "1ZSCRIPT" in panel.inner_text()  # the number, without its link
        page.screenshot(path=str(tmp_path / "order.png"), full_page=True)

        # A reply quoting the placeholder as tracking is flagged before approval.
        page.fill(
            "textarea[name=body]",
            "Hello Dora,\n\nThank you for your patience. Your USPS tracking number is 12345.\n",
        )
        with page.expect_navigation():
            page.click("text=Start a reply with this text")
        finding = page.locator("[data-draft-state=draft] [data-code=tracking_number]")
        assert "not real tracking" in finding.inner_text()
        browser.close()

    assert seen.console_errors == []
    assert seen.outside == []
    walmart.assert_read_only()
