"""An honest walk: every API route and every web form, called with valid bodies by each role
(no one, viewer, agent, admin; forms with a signed-in session and its CSRF token), every scheduled
job run; the status codes are asserted, and in the end the SMTP server holds exactly the replies
a person approved and sent, each once, each to the buyer, and nothing else but the team's alerts.

A route added to the app and missing here fails the walk: it must say who may call it.
"""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.config import AlertSettings, Settings
from app.db import session_scope
from app.enums import Role
from app.main import create_app
from app.models import Draft, Thread
from app.users.service import create_user, set_password
from app.worker import Worker
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer, relay_address
from tests.support.polling import poll
from tests.support.smtp import SmtpServer
from tests.support.web import auth

PASSWORD = "correct horse battery"
TEAM = "team@store.example"
REPLY = (
    "Hello,\n\nThank you for your message about your order. It left our warehouse today and "
    "should reach you within three days.\n\nCustomer Care Team\n"
)
ROLES = ("anonymous", "viewer", "agent", "admin")
BUYERS = ("Walk Main", "Walk Close Api", "Walk Close Agent", "Walk Close Admin", "Walk Flag")


@dataclass
class Walk:
    api: TestClient
    tokens: dict[str, str]
    pages: dict[str, TestClient]
    threads: dict[str, int]
    mailbox: str
    imap_account: ImapAccount
    drafts: dict[str, int] = field(default_factory=dict)  # role -> its own draft
    sent: set[int] = field(default_factory=set)
    routes: set[tuple[str, str]] = field(default_factory=set)

    def headers(self, role: str) -> dict[str, str]:
        return auth(self.tokens[role]) if role in self.tokens else {}

    def call(self, role: str, method: str, route: str, expected: int, **kwargs: Any) -> Any:
        """Call ``route`` (a path template filled from ``kwargs['ids']``) as ``role``."""
        self.routes.add((method, route))
        path = route.format(**kwargs.pop("ids", {}))
        response = self.api.request(method, path, headers=self.headers(role), **kwargs)
        assert response.status_code == expected, (role, method, path, response.text[:300])
        return response

    def form(self, role: str, route: str, expected: int, data: dict[str, str], **ids: Any) -> Any:
        """Post a web form as ``role``'s signed-in browser, with the CSRF token of its page."""
        self.routes.add(("POST", route))
        browser = self.pages.get(role) or TestClient(self.api.app)
        page = browser.get(f"/threads/{self.threads['main']}")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        csrf = {"csrf_token": token.group(1)} if token else {}
        response = browser.post(route.format(**ids), data={**csrf, **data}, follow_redirects=False)
        assert response.status_code == expected, (role, route, response.text[:300])
        return response


@pytest.fixture
def walk(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> Iterator[Walk]:
    imap_account.append(
        "INBOX",
        [
            customer(b, subject=f"Question from {b}", order=f"10882927281078{i}")
            for i, b in enumerate(BUYERS)
        ],
    )
    assert poll(session_factory, imap_account.settings()).ok
    tokens = {}
    with session_scope(session_factory) as db:
        for role in ("viewer", "agent", "admin"):
            tokens[role] = create_user(db, name=f"walk-{role}", role=Role(role), actor="t").token
            set_password(db, name=f"walk-{role}", password=PASSWORD, actor="test")
    with session_factory() as db:
        threads = {
            t.subject.removeprefix("Question from "): t.id for t in db.scalars(select(Thread))
        }
    settings = Settings(
        database_url=database_url,
        mailboxes=[imap_account.settings()],
        smtp=smtp_server.settings(),
        alerts=AlertSettings(recipients=[TEAM]),
    )
    with TestClient(create_app(settings)) as api:
        pages = {role: signed_in(api, f"walk-{role}") for role in ("viewer", "agent", "admin")}
        yield Walk(
            api,
            tokens,
            pages,
            {
                "main": threads["Walk Main"],
                "close_api": threads["Walk Close Api"],
                "close_agent": threads["Walk Close Agent"],
                "close_admin": threads["Walk Close Admin"],
                "flag": threads["Walk Flag"],
            },
            imap_account.settings().name,
            imap_account,
        )


def signed_in(api: TestClient, name: str) -> TestClient:
    browser = TestClient(api.app)
    login = browser.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
    assert login.status_code == 200 and token
    response = browser.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return browser


def by_role(anonymous: int, viewer: int, agent: int, admin: int) -> dict[str, int]:
    return dict(zip(ROLES, (anonymous, viewer, agent, admin), strict=True))


OPEN = by_role(200, 200, 200, 200)
VIEWERS = by_role(401, 200, 200, 200)
AGENTS = by_role(401, 403, 200, 200)
ADMINS = by_role(401, 403, 403, 200)


def walk_reads(w: Walk) -> None:
    ids = {"thread_id": w.threads["main"], "name": w.mailbox}
    for route, expected in [
        ("/healthz", OPEN),
        ("/metrics", OPEN),
        ("/api/v1/me", VIEWERS),
        ("/api/v1/users", ADMINS),
        ("/api/v1/mailboxes", ADMINS),
        ("/api/v1/dead-letters", ADMINS),
        ("/api/v1/threads", VIEWERS),
        ("/api/v1/threads/{thread_id}", VIEWERS),
        ("/api/v1/summary", VIEWERS),
        ("/api/v1/reports/threads.csv", VIEWERS),
        ("/api/v1/reports/response-rate.csv", VIEWERS),
        ("/api/v1/alerts", VIEWERS),
        ("/api/v1/audit", ADMINS),
        ("/api/v1/templates", AGENTS),
        ("/api/v1/threads/{thread_id}/participants", AGENTS),
        ("/api/v1/threads/{thread_id}/drafts", AGENTS),
    ]:
        for role in ROLES:
            w.call(role, "GET", route, expected[role], ids=ids)
    for role in ROLES:  # no report read yet: the mailbox, and that no report was read
        w.call(role, "GET", "/api/v1/reconciliation", VIEWERS[role], params={"mailbox": w.mailbox})
    for role in ROLES:  # a role never stands in for a webhook's secret: this mailbox takes none
        w.call(role, "POST", "/webhooks/walmart/{name}", 404, ids=ids, json={"source": {}})


def walk_mailboxes(w: Walk, monkeypatch: pytest.MonkeyPatch) -> None:
    # An API mailbox names a variable of its own (never the config mailbox's secret).
    monkeypatch.setenv("SLAWATCH_MAILBOX_WALK_PW", w.imap_account.password)
    settings = w.imap_account.settings(name="walk-api", password_env="SLAWATCH_MAILBOX_WALK_PW")
    body = {**settings.model_dump(mode="json", exclude_unset=True), "client": "walk"}
    for role in ROLES:
        w.call(role, "POST", "/api/v1/mailboxes", by_role(401, 403, 403, 201)[role], json=body)
        ids = {"name": "walk-api"}
        for action in ("disable", "enable"):
            w.call(role, "POST", f"/api/v1/mailboxes/{{name}}/{action}", ADMINS[role], ids=ids)
        w.call(
            role,
            "PATCH",
            "/api/v1/mailboxes/{name}",
            ADMINS[role],
            ids=ids,
            json={"poll_seconds": 120},
        )
        tested = w.call(
            role, "POST", "/api/v1/mailboxes/{name}/test", ADMINS[role], ids={"name": w.mailbox}
        )
        if role == "admin":
            assert tested.json()["ok"] is True, tested.text


def walk_accounts(w: Walk, session_factory: sessionmaker[Session]) -> None:
    """Admins disable and enable a user, list and revoke its tokens; no one else may."""
    with session_scope(session_factory) as db:
        create_user(db, name="walk-spare", role=Role.AGENT, actor="test")
    ids = {"name": "walk-spare"}
    for role in ROLES:
        for action in ("disable", "enable"):
            w.call(role, "POST", f"/api/v1/users/{{name}}/{action}", ADMINS[role], ids=ids)
        listed = w.call(role, "GET", "/api/v1/users/{name}/tokens", ADMINS[role], ids=ids)
        token_id = listed.json()[0]["id"] if role == "admin" else 1
        w.call(
            role,
            "POST",
            "/api/v1/tokens/{token_id}/revoke",
            ADMINS[role],
            ids={"token_id": token_id},
        )


def walk_threads(w: Walk) -> None:
    t = w.threads
    for role in ROLES:
        # Each role that may closes and reopens the thread; the complaint is marked once.
        close_status = reopen_status = AGENTS[role]
        ids = {"thread_id": t["close_api"]}
        w.call(
            role,
            "POST",
            "/api/v1/threads/{thread_id}/close",
            close_status,
            ids=ids,
            json={"reason": "answered by phone"},
        )
        w.call(role, "POST", "/api/v1/threads/{thread_id}/reopen", reopen_status, ids=ids)
        w.call(
            role,
            "POST",
            "/api/v1/threads/{thread_id}/complaint",
            by_role(401, 403, 200, 409)[role],
            ids={"thread_id": t["flag"]},
        )
        # Answered by phone once; the thread then waits for nothing (409).
        w.call(
            role,
            "POST",
            "/api/v1/threads/{thread_id}/answered-elsewhere",
            by_role(401, 403, 200, 409)[role],
            ids={"thread_id": t["flag"]},
            json={"channel": "phone", "note": "called the buyer back"},
        )


def walk_templates(w: Walk) -> None:
    body = {"name": "Walk", "category": "shipping", "body": "Hello {{ customer_name }}."}
    shared = w.api.post("/api/v1/templates", json=body, headers=auth(w.tokens["admin"]))
    for role in ROLES:
        made = w.call(
            role,
            "POST",
            "/api/v1/templates",
            by_role(401, 403, 403, 201)[role],
            json={**body, "name": f"Walk {role}"},
        )
        template_id = (made if made.status_code == 201 else shared).json()["id"]
        ids = {"template_id": template_id}
        w.call(role, "GET", "/api/v1/templates/{template_id}", AGENTS[role], ids=ids)
        w.call(
            role,
            "PATCH",
            "/api/v1/templates/{template_id}",
            ADMINS[role],
            ids=ids,
            json={"body": "Hello {{ customer_name }}, thanks."},
        )
        w.call(
            role,
            "DELETE",
            "/api/v1/templates/{template_id}",
            by_role(401, 403, 403, 204)[role],
            ids=ids,
        )


def walk_api_drafts(w: Walk) -> None:
    """Each role that may, drafts, edits, picks the buyer, approves and sends its own reply;
    the others are refused at every step, on the admin's draft."""
    main = w.threads["main"]
    buyer = relay_address("Walk Main")
    for role in ROLES:
        created = w.call(
            role,
            "POST",
            "/api/v1/threads/{thread_id}/drafts",
            by_role(401, 403, 201, 201)[role],
            ids={"thread_id": main},
            json={"body": REPLY},
        )
        if created.status_code == 201:
            w.drafts[role] = created.json()["id"]
        ids = {"draft_id": w.drafts.get(role, _seed_draft(w))}
        w.call(role, "GET", "/api/v1/drafts/{draft_id}", AGENTS[role], ids=ids)
        edited = w.call(
            role, "PATCH", "/api/v1/drafts/{draft_id}", AGENTS[role], ids=ids, json={"body": REPLY}
        )
        w.call(
            role,
            "POST",
            "/api/v1/drafts/{draft_id}/recipient",
            AGENTS[role],
            ids=ids,
            json={"to_address": buyer},
        )
        seen = edited.json()["body_sha256"] if edited.status_code == 200 else "0" * 64
        w.call(
            role,
            "POST",
            "/api/v1/drafts/{draft_id}/approve",
            AGENTS[role],
            ids=ids,
            json={"body_sha256": seen},
        )
        w.call(role, "POST", "/api/v1/drafts/{draft_id}/send", AGENTS[role], ids=ids)
        if role in ("agent", "admin"):
            w.sent.add(ids["draft_id"])


def _seed_draft(w: Walk) -> int:
    """A draft the roles without the right can try to touch (made by an admin)."""
    if "seed" not in w.drafts:
        made = w.api.post(
            f"/api/v1/threads/{w.threads['main']}/drafts",
            json={"body": REPLY},
            headers=auth(w.tokens["admin"]),
        )
        w.drafts["seed"] = made.json()["id"]
    return w.drafts["seed"]


def walk_pages(w: Walk) -> None:
    main = w.threads["main"]
    for role in ROLES:
        for route in (
            "/",
            "/threads/{thread_id}",
            "/status",
            "/reports/threads.csv",
            "/reports/response-rate.csv",
        ):
            w.routes.add(("GET", route))
            browser = w.pages.get(role) or TestClient(w.api.app)
            page = browser.get(route.format(thread_id=main), follow_redirects=False)
            assert page.status_code == (303 if role == "anonymous" else 200), (role, route)
        w.routes.update({("GET", "/login"), ("POST", "/login")})  # signed_in() walked them

        may = role in ("agent", "admin")
        done = 303 if may else (403 if role == "viewer" else 303)  # no session: to /login
        before = _draft_ids(w)
        w.form(role, "/threads/{thread_id}/drafts", done, {"body": REPLY}, thread_id=main)
        new = _draft_ids(w) - before
        assert len(new) == (1 if may else 0), role
        draft_id = new.pop() if new else _seed_draft(w)
        w.form(role, "/drafts/{draft_id}/edit", done, {"body": REPLY}, draft_id=draft_id)
        w.form(
            role,
            "/drafts/{draft_id}/recipient",
            done,
            {"to_address": relay_address("Walk Main")},
            draft_id=draft_id,
        )
        html = (w.pages.get(role) or w.api).get(f"/threads/{main}").text
        zeros = {"body_sha256": "0" * 64, "envelope_sha256": "0" * 64}
        hashes = _hashes_of(html, draft_id) if may else zeros
        w.form(role, "/drafts/{draft_id}/approve", done, hashes, draft_id=draft_id)
        w.form(role, "/drafts/{draft_id}/send", done, {}, draft_id=draft_id)
        if may:
            w.sent.add(draft_id)
        w.form(
            role,
            "/threads/{thread_id}/answered-elsewhere",
            done,
            {"channel": "seller_center", "note": "answered in Seller Center"},
            thread_id=w.threads[f"close_{role}"] if may else main,
        )
        w.form(
            role,
            "/threads/{thread_id}/close",
            done,
            {"reason": "no answer needed"},
            thread_id=w.threads[f"close_{role}"] if may else main,
        )
    for role in ("viewer", "agent", "admin"):
        w.form(role, "/logout", 303, {})


def _draft_ids(w: Walk) -> set[int]:
    return {
        d["id"]
        for d in w.api.get(
            f"/api/v1/threads/{w.threads['main']}/drafts", headers=auth(w.tokens["admin"])
        ).json()
    }


def _hashes_of(html: str, draft_id: int) -> dict[str, str]:
    section = html.split(f'id="draft-{draft_id}"', 1)[1]
    found = {
        name: re.search(rf'name="{name}" value="([0-9a-f]{{64}})"', section)
        for name in ("body_sha256", "envelope_sha256")
    }
    assert all(found.values()), "the approve form carries both hashes"
    return {name: match.group(1) for name, match in found.items() if match}


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):
            yield from api_routes(route.original_router.routes)


def test_the_walk_mails_exactly_the_replies_people_approved_and_sent(
    walk: Walk,
    smtp_server: SmtpServer,
    engine: Engine,
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    walk_reads(walk)
    walk_mailboxes(walk, monkeypatch)
    walk_accounts(walk, session_factory)
    walk_threads(walk)
    walk_templates(walk)
    walk_api_drafts(walk)
    walk_pages(walk)
    worker = Worker(walk.api.app.state.settings, engine)
    worker.coordinate()  # takes the leases: schedules the polls, the sweep and the figures job
    jobs = worker.scheduler.get_jobs()
    assert jobs
    for job in jobs:
        job.func(*job.args, **job.kwargs)

    every_route = {
        (method, route.path)
        for route in api_routes(walk.api.app.routes)
        for method in route.methods
    }
    assert every_route - walk.routes == set(), "routes the walk does not cover"

    # Two replies by API (agent, admin), two by the pages: each mailed once, to the buyer.
    assert len(walk.sent) == 4
    with session_factory() as db:
        sent = {d.outgoing_message_id: d for d in db.scalars(select(Draft)) if d.sent_at}
    assert {d.id for d in sent.values()} == walk.sent
    to_customers = [
        (recipients, email.message_from_bytes(raw)["Message-ID"])
        for recipients, raw in smtp_server.recorder.messages
        if recipients != [TEAM]
    ]
    assert sorted(mid for _, mid in to_customers) == sorted(sent)
    assert all(recipients == [relay_address("Walk Main")] for recipients, _ in to_customers)
