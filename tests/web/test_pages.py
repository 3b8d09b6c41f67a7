"""The agent's pages over HTTP: sign-in, CSRF, roles, and message text shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import session_scope
from app.enums import Role
from app.main import create_app
from app.models import Thread
from app.security_headers import DOCS_POLICY, NO_SCRIPT_POLICY, PAGE_POLICY
from app.users.service import create_user, set_password
from app.web.sessions import LOGIN_CSRF_COOKIE
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer
from tests.support.polling import poll
from tests.support.web import PASSWORD, csrf_of, sign_in


@dataclass
class Site:
    client: TestClient
    thread_id: int


@pytest.fixture
def site(
    imap_account: ImapAccount, session_factory: sessionmaker[Session], database_url: str
) -> Iterator[Site]:
    hostile = customer(
        "Mallory",
        subject="<img src=x onerror=alert(1)> help",
        body="My order 108829272810783 <script>alert('x')</script> never came.",
    )
    imap_account.append("INBOX", [hostile])
    assert poll(session_factory, imap_account.settings()).ok
    with session_scope(session_factory) as db:
        for name, role in (("agnes", Role.AGENT), ("victor", Role.VIEWER)):
            create_user(db, name=name, role=role, actor="test")
            set_password(db, name=name, password=PASSWORD, actor="test")
    settings = Settings(database_url=database_url, mailboxes=[imap_account.settings()])
    with TestClient(create_app(settings)) as client:
        with session_factory() as db:
            thread_id = db.scalars(select(Thread.id)).one()
        yield Site(client, thread_id)


def test_pages_need_a_signed_in_user(site: Site) -> None:
    response = site.client.get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert site.client.get(f"/threads/{site.thread_id}", follow_redirects=False).status_code == 303


def test_wrong_password_is_refused_and_right_one_sets_an_httponly_cookie(site: Site) -> None:
    form = site.client.get("/login")
    wrong = site.client.post(
        "/login", data={"username": "agnes", "password": "nope", "csrf_token": csrf_of(form.text)}
    )
    assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
    form = site.client.get("/login")
    right = site.client.post(
        "/login",
        data={"username": "agnes", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    cookie = right.headers["set-cookie"]
    assert "slawatch_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    queue = site.client.get("/")
    assert queue.status_code == 200 and "Waiting customers" in queue.text


def test_message_text_and_subjects_are_shown_as_text_never_html(site: Site) -> None:
    sign_in(site.client, "agnes")
    for page in (site.client.get("/").text, site.client.get(f"/threads/{site.thread_id}").text):
        assert "<img src=x" not in page and "<script>alert" not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(" in site.client.get(f"/threads/{site.thread_id}").text


def test_a_form_without_the_right_csrf_token_is_refused(site: Site) -> None:
    sign_in(site.client, "agnes")
    response = site.client.post(
        f"/threads/{site.thread_id}/drafts", data={"body": "Hello", "csrf_token": "forged"}
    )
    assert response.status_code == 403
    assert "Draft 1" not in site.client.get(f"/threads/{site.thread_id}").text


def test_answered_elsewhere_needs_the_csrf_token_and_an_agent(site: Site) -> None:
    url = f"/threads/{site.thread_id}/answered-elsewhere"
    sign_in(site.client, "victor")
    page = site.client.get(f"/threads/{site.thread_id}").text
    assert "Answered elsewhere" not in page
    as_viewer = site.client.post(url, data={"channel": "phone", "csrf_token": csrf_of(page)})
    assert as_viewer.status_code == 403 and "agent role" in as_viewer.text
    sign_in(site.client, "agnes")
    forged = site.client.post(url, data={"channel": "phone", "csrf_token": "forged"})
    assert forged.status_code == 403
    page = site.client.get(f"/threads/{site.thread_id}").text
    assert 'data-state="waiting"' in page and "answered outside the mailbox" not in page
    answered = site.client.post(
        url, data={"channel": "seller_center", "note": "", "csrf_token": csrf_of(page)}
    )
    assert answered.status_code == 200 and 'data-state="answered"' in answered.text
    assert "answered outside the mailbox: Seller Center inbox · recorded by agnes" in answered.text


def test_the_close_form_says_how_the_marketplace_counts_a_closed_message(
    site: Site, imap_account: ImapAccount, session_factory: sessionmaker[Session], database_url: str
) -> None:
    sign_in(site.client, "agnes")
    page = site.client.get(f"/threads/{site.thread_id}").text
    assert "Walmart still counts this message in your response rate if it is not answered" in page
    amazon = Settings(
        database_url=database_url, mailboxes=[imap_account.settings(marketplace="amazon")]
    )
    with TestClient(create_app(amazon)) as client:
        sign_in(client, "agnes")
        page = client.get(f"/threads/{site.thread_id}").text
    assert "Closing removes this message from Amazon's response rate" in page
    assert "still counts" not in page


def test_a_viewer_reads_but_cannot_draft(site: Site) -> None:
    sign_in(site.client, "victor")
    page = site.client.get(f"/threads/{site.thread_id}").text
    assert "Start a reply" not in page
    response = site.client.post(
        f"/threads/{site.thread_id}/drafts", data={"body": "Hello", "csrf_token": csrf_of(page)}
    )
    assert response.status_code == 403 and "agent role" in response.text


def test_every_page_carries_the_security_headers(site: Site) -> None:
    def check(response: Response, policy: str) -> None:
        assert response.status_code == 200, response.request.url
        assert response.headers["content-security-policy"] == policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "same-origin"
        assert "<style" not in response.text and "style=" not in response.text
        # Script only from the server's own files (the keyboard shortcuts), never inline.
        for attributes, body in re.findall(r"<script\b([^>]*)>(.*?)</script>", response.text, re.S):
            assert re.fullmatch(r' src="/static/[a-z]+\.js" defer', attributes) and not body
        assert response.text.count("<script") == len(re.findall("</script>", response.text))

    check(site.client.get("/login"), PAGE_POLICY)
    sign_in(site.client, "agnes")
    check(site.client.get("/"), PAGE_POLICY)
    check(site.client.get(f"/threads/{site.thread_id}"), PAGE_POLICY)
    # The status page runs no script at all: its own, stricter policy.
    check(site.client.get("/status"), NO_SCRIPT_POLICY)
    assert "script-src" not in NO_SCRIPT_POLICY and "default-src 'none'" in NO_SCRIPT_POLICY

    for sheet in ("/static/web.css", "/static/status.css"):
        css = site.client.get(sheet)
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert css.headers["x-content-type-options"] == "nosniff"
    api = site.client.get("/healthz")
    assert api.headers["x-content-type-options"] == "nosniff"
    assert "content-security-policy" not in api.headers  # JSON, not a page
    # Swagger UI comes from a CDN with inline script: framed nowhere, otherwise unchanged.
    assert site.client.get("/docs").headers["content-security-policy"] == DOCS_POLICY


@pytest.mark.parametrize(
    ("base_url", "secure"), [("https://sla.example.com", True), ("http://localhost:8000", False)]
)
def test_the_cookies_are_secure_when_the_site_is_https(
    imap_account: ImapAccount,
    site: Site,
    database_url: str,
    base_url: str,
    secure: bool,
) -> None:
    # Behind a TLS proxy the app itself sees http; base_url says what the browser sees.
    settings = Settings(
        database_url=database_url, base_url=base_url, mailboxes=[imap_account.settings()]
    )
    with TestClient(create_app(settings)) as client:
        form = client.get("/login")
        assert ("Secure" in form.headers["set-cookie"]) is secure
        # The test client talks http: it keeps a Secure cookie to itself, as a browser would.
        client.cookies.set(LOGIN_CSRF_COOKIE, form.cookies[LOGIN_CSRF_COOKIE])
        signed_in = client.post(
            "/login",
            data={"username": "agnes", "password": PASSWORD, "csrf_token": csrf_of(form.text)},
            follow_redirects=False,
        )
        session_cookie = next(
            c for c in signed_in.headers.get_list("set-cookie") if "slawatch_session=" in c
        )
        assert ("Secure" in session_cookie) is secure
