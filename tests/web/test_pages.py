"""The agent's pages over HTTP: sign-in, CSRF, roles, and message text shown as text."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import session_scope
from app.enums import Role
from app.main import create_app
from app.models import Thread
from app.users.service import create_user, set_password
from tests.conftest import ImapAccount
from tests.ingest.helpers import poll
from tests.mailfactory import customer

PASSWORD = "correct horse battery"


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


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD) -> None:
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"username": name, "password": password, "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


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


def test_a_viewer_reads_but_cannot_draft(site: Site) -> None:
    sign_in(site.client, "victor")
    page = site.client.get(f"/threads/{site.thread_id}").text
    assert "Start a reply" not in page
    response = site.client.post(
        f"/threads/{site.thread_id}/drafts", data={"body": "Hello", "csrf_token": csrf_of(page)}
    )
    assert response.status_code == 403 and "agent role" in response.text
