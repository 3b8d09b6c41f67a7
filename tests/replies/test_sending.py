"""Drafts, approval and sending against a real SMTP server (aiosmtpd) and a real Dovecot."""

from __future__ import annotations

import email
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.enums import Role
from app.main import create_app
from app.models import AuditEntry
from tests.support.imap import ImapAccount, closing_client
from tests.support.mailfactory import SELLER_ADDRESS, customer, message_id_of, relay_address
from tests.support.polling import poll
from tests.support.smtp import SmtpServer
from tests.support.web import auth

CLEAN_REPLY = (
    "Hello Alice,\n\nThank you for your message about your order. I am sorry it has not arrived "
    "yet. I have asked the carrier for an update and will write to you again within one day.\n\n"
    "Customer Care Team\n"
)


@dataclass
class Setup:
    api: TestClient
    agent: str
    viewer: str
    admin: str
    thread_id: int
    question: bytes
    settings: Settings


@pytest.fixture
def setup(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
    make_token: Callable[..., str],
) -> Iterator[Setup]:
    question = customer("Alice", order="108829272810783", subject="Where is my order?")
    imap_account.append("INBOX", [question])
    assert poll(session_factory, imap_account.settings()).ok
    settings = Settings(
        database_url=database_url, mailboxes=[imap_account.settings()], smtp=smtp_server.settings()
    )
    with TestClient(create_app(settings)) as api:
        viewer = make_token(Role.VIEWER)
        thread_id = api.get("/api/v1/threads", headers=auth(viewer)).json()["items"][0]["id"]
        yield Setup(
            api,
            make_token(Role.AGENT),
            viewer,
            make_token(Role.ADMIN),
            thread_id,
            question,
            settings,
        )


def draft(s: Setup, body: str = CLEAN_REPLY) -> dict:
    response = s.api.post(
        f"/api/v1/threads/{s.thread_id}/drafts", json={"body": body}, headers=auth(s.agent)
    )
    assert response.status_code == 201, response.text
    return response.json()


def approve(s: Setup, created: dict, **extra: Any) -> Any:
    """Approve the draft as the agent saw it (the hash of the text shown)."""
    return s.api.post(
        f"/api/v1/drafts/{created['id']}/approve",
        json={"body_sha256": created["body_sha256"], **extra},
        headers=auth(s.agent),
    )


def test_send_without_approval_is_409_and_mails_nothing(
    setup: Setup, smtp_server: SmtpServer
) -> None:
    created = draft(setup)
    response = setup.api.post(f"/api/v1/drafts/{created['id']}/send", headers=auth(setup.agent))
    assert response.status_code == 409
    assert "not approved" in response.json()["detail"]
    assert smtp_server.recorder.messages == []


def test_approve_then_send_delivers_one_proper_reply(
    setup: Setup,
    smtp_server: SmtpServer,
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
) -> None:
    created = draft(setup)
    approved = approve(setup, created)
    assert approved.status_code == 200, approved.text
    assert approved.json()["state"] == "approved"

    sent = setup.api.post(f"/api/v1/drafts/{created['id']}/send", headers=auth(setup.agent))
    assert sent.status_code == 200, sent.text
    assert sent.json()["state"] == "sent" and sent.json()["sent_copy_error"] is None

    ((recipients, raw),) = smtp_server.recorder.messages
    assert recipients == [relay_address("Alice")]
    delivered = email.message_from_bytes(raw, policy=policy.default)
    assert delivered["To"] == f"Alice <{relay_address('Alice')}>"
    assert delivered["From"] == SELLER_ADDRESS
    assert delivered["Subject"] == "Re: Where is my order?"
    assert delivered["In-Reply-To"] == message_id_of(setup.question)
    assert message_id_of(setup.question) in delivered["References"]
    assert delivered["Message-ID"] == sent.json()["message_id"]
    assert delivered.get_content().replace("\r\n", "\n") == CLEAN_REPLY

    # The thread is answered at once, and the reply is in the mailbox's Sent folder.
    thread = setup.api.get(f"/api/v1/threads/{setup.thread_id}", headers=auth(setup.viewer))
    assert thread.json()["state"] == "answered"
    with closing_client(imap_account.client()) as client:
        client.select_folder("Sent", readonly=True)
        found = client.search(["HEADER", "Message-ID", sent.json()["message_id"]])
        assert len(found) == 1

    # A repeated send mails nothing more; polling Sent recognises the copy.
    again = setup.api.post(f"/api/v1/drafts/{created['id']}/send", headers=auth(setup.agent))
    assert again.status_code == 200 and again.json()["state"] == "sent"
    assert len(smtp_server.recorder.messages) == 1
    report = poll(session_factory, imap_account.settings())
    sent_folder = next(f for f in report.folders if f.role == "sent")
    assert (sent_folder.new, sent_folder.duplicates) == (0, 1)


def test_an_smtp_failure_leaves_the_draft_failed_and_a_retry_works(
    setup: Setup, smtp_server: SmtpServer
) -> None:
    created = draft(setup)
    approve(setup, created)
    smtp_server.recorder.refuse_with = "554 5.7.1 Message rejected by policy"

    failed = setup.api.post(f"/api/v1/drafts/{created['id']}/send", headers=auth(setup.agent))
    assert failed.status_code == 502
    assert "554" in failed.json()["detail"] and "rejected by policy" in failed.json()["detail"]
    state = setup.api.get(f"/api/v1/drafts/{created['id']}", headers=auth(setup.agent)).json()
    assert state["state"] == "failed" and "rejected by policy" in state["failure_reason"]
    assert smtp_server.recorder.messages == []

    smtp_server.recorder.refuse_with = None
    retried = setup.api.post(f"/api/v1/drafts/{created['id']}/send", headers=auth(setup.agent))
    assert retried.status_code == 200 and retried.json()["state"] == "sent"
    assert len(smtp_server.recorder.messages) == 1


def test_editing_an_approved_draft_voids_the_approval(
    setup: Setup, smtp_server: SmtpServer
) -> None:
    created = draft(setup)
    approve(setup, created)
    edited = setup.api.patch(
        f"/api/v1/drafts/{created['id']}",
        json={"body": CLEAN_REPLY.replace("one day", "two days")},
        headers=auth(setup.agent),
    )
    assert edited.json()["state"] == "draft"
    response = setup.api.post(f"/api/v1/drafts/{created['id']}/send", headers=auth(setup.agent))
    assert response.status_code == 409
    assert smtp_server.recorder.messages == []


def test_lint_errors_block_approval_unless_overridden_and_recorded(
    setup: Setup, session_factory: sessionmaker[Session]
) -> None:
    created = draft(
        setup,
        CLEAN_REPLY.replace(
            "will write to you again within one day", "guarantee it arrives immediately"
        ),
    )
    assert {f["code"] for f in created["lint"] if f["severity"] == "error"} == {"overpromise"}
    refused = approve(setup, created)
    assert refused.status_code == 409 and "guarantee" in refused.json()["detail"]
    forced = approve(setup, created, override_lint=True)
    assert forced.status_code == 200 and forced.json()["lint_overridden"] is True
    with session_factory() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "draft.approve")).one()
        assert entry.detail["overridden_lint"] == ["overpromise"]
        assert len(entry.detail["body_sha256"]) == 64


def test_a_viewer_cannot_draft_approve_or_send(setup: Setup) -> None:
    created = draft(setup)
    for method, url, body in [
        ("post", f"/api/v1/threads/{setup.thread_id}/drafts", {"body": "Hi"}),
        ("post", f"/api/v1/drafts/{created['id']}/approve", {}),
        ("post", f"/api/v1/drafts/{created['id']}/send", None),
        ("patch", f"/api/v1/drafts/{created['id']}", {"body": "x"}),
    ]:
        response = setup.api.request(method, url, json=body, headers=auth(setup.viewer))
        assert response.status_code == 403, url


def test_templates_render_with_the_thread_and_keep_their_versions(setup: Setup) -> None:
    body = (
        "Hello{% if customer_name %} {{ customer_name }}{% endif %},\n\nThank you for writing "
        "about order {{ order_number }}. We are looking into it now.\n\n{{ signature }}\n"
    )
    made = setup.api.post(
        "/api/v1/templates",
        json={"name": "Order check", "category": "shipping", "body": body},
        headers=auth(setup.admin),
    )
    assert made.status_code == 201, made.text
    template_id = made.json()["id"]
    first = setup.api.post(
        f"/api/v1/threads/{setup.thread_id}/drafts",
        json={"template_id": template_id},
        headers=auth(setup.agent),
    ).json()
    assert "Hello Alice," in first["body"] and "order 108829272810783" in first["body"]
    assert "not_personalised" in {f["code"] for f in first["lint"]}

    changed = setup.api.patch(
        f"/api/v1/templates/{template_id}",
        json={"body": body.replace("now", "today")},
        headers=auth(setup.admin),
    )
    assert changed.json()["version"] == 2
    second = setup.api.post(
        f"/api/v1/threads/{setup.thread_id}/drafts",
        json={"template_id": template_id},
        headers=auth(setup.agent),
    ).json()
    assert second["template_version_id"] != first["template_version_id"]
    kept = setup.api.get(f"/api/v1/drafts/{first['id']}", headers=auth(setup.agent)).json()
    assert kept["template_version_id"] == first["template_version_id"]

    bad = setup.api.post(
        "/api/v1/templates",
        json={"name": "Bad", "category": "x", "body": "{{ unknown_thing }} {% if %}"},
        headers=auth(setup.admin),
    )
    assert bad.status_code == 422
    assert (
        setup.api.post(
            "/api/v1/templates",
            json={"name": "N", "category": "x", "body": "Hi"},
            headers=auth(setup.agent),
        ).status_code
        == 403
    )


def test_the_audit_log_lists_every_step(setup: Setup) -> None:
    created = draft(setup)
    approve(setup, created)
    setup.api.post(f"/api/v1/drafts/{created['id']}/send", headers=auth(setup.agent))
    assert setup.api.get("/api/v1/audit", headers=auth(setup.agent)).status_code == 403
    actions = [
        e["action"] for e in setup.api.get("/api/v1/audit", headers=auth(setup.admin)).json()
    ]
    for expected in ("draft.create", "draft.approve", "draft.send_started", "draft.send"):
        assert expected in actions
