"""Who a reply goes to, through a real Dovecot and a real SMTP server (aiosmtpd).

A buyer asks about an order; Walmart Partner Support sends a Customer Care escalation about the
same order, and a stranger writes about it with a Reply-To of their own. All three join one
thread. The reply a person approves goes to the buyer's relay address, and only there; another
participant gets it only when a person picks them, which is recorded.
"""

from __future__ import annotations

import email
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from email import policy

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings
from app.db import session_scope
from app.enums import Role
from app.main import create_app
from app.models import AuditEntry, Draft, Thread
from app.users.service import create_user, set_password
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer, message, relay_address
from tests.support.polling import poll
from tests.support.smtp import SmtpServer
from tests.support.web import auth

ORDER = "108812345678901"
BUYER = relay_address("Omar Diaz")
PARTNER_SUPPORT = "partnerhelp@wal-mart.com"
STRANGER, THIEF = "someone@evil.test", "thief@evil.test"
REPLY = (
    "Hello Omar,\n\nThank you for your patience. Your parcel left our warehouse today and "
    "should reach you within three days.\n\nCustomer Care Team\n"
)
PASSWORD = "correct horse battery"


@dataclass
class Scene:
    api: TestClient
    agent: str
    second_agent: str
    thread_id: int
    smtp: SmtpServer
    session_factory: sessionmaker[Session]


@pytest.fixture
def scene(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
    make_token: Callable[..., str],
) -> Iterator[Scene]:
    imap_account.append(
        "INBOX",
        [
            customer("Omar Diaz", order=ORDER, subject=f"Where is my order {ORDER}?"),
            message(
                sender=f"Walmart Partner Support <{PARTNER_SUPPORT}>",
                subject=f"Customer Care escalation for order {ORDER}",
                body=f"Case number 4711: the customer of order {ORDER} has not had an answer.",
            ),
            message(
                sender=f"Omar D <{STRANGER}>",
                subject=f"About order {ORDER}",
                body=f"Please send the tracking of order {ORDER} to my other address.",
                headers={"Reply-To": THIEF},
            ),
        ],
    )
    assert poll(session_factory, imap_account.settings()).ok
    with session_factory() as db:
        (thread_id,) = db.scalars(select(Thread.id)).all()  # all three joined one thread
    settings = Settings(
        database_url=database_url, mailboxes=[imap_account.settings()], smtp=smtp_server.settings()
    )
    with TestClient(create_app(settings)) as api:
        yield Scene(
            api,
            make_token(Role.AGENT),
            make_token(Role.AGENT),
            thread_id,
            smtp_server,
            session_factory,
        )


def draft(s: Scene, **extra: object) -> dict:
    made = s.api.post(
        f"/api/v1/threads/{s.thread_id}/drafts",
        json={"body": REPLY, **extra},
        headers=auth(s.agent),
    )
    assert made.status_code == 201, made.text
    return made.json()


def approve(s: Scene, made: dict, token: str | None = None, **extra: object) -> dict:
    response = s.api.post(
        f"/api/v1/drafts/{made['id']}/approve",
        json={"body_sha256": made["body_sha256"], **extra},
        headers=auth(token or s.agent),
    )
    assert response.status_code == 200, response.text
    return response.json()


def send(s: Scene, made: dict) -> dict:
    response = s.api.post(f"/api/v1/drafts/{made['id']}/send", headers=auth(s.agent))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_reply_reaches_only_the_buyers_relay_address(scene: Scene) -> None:
    made = draft(scene)
    assert made["to_address"] == BUYER and made["to"] == f"Omar Diaz <{BUYER}>"
    assert made["recipient_is_default"] is True
    assert made["subject"] == f"Re: Where is my order {ORDER}?"
    approve(scene, made)
    assert send(scene, made)["state"] == "sent"

    ((recipients, raw),) = scene.smtp.recorder.messages
    assert recipients == [BUYER]
    delivered = email.message_from_bytes(raw, policy=policy.default)
    assert [a.addr_spec for a in delivered["To"].addresses] == [BUYER]
    assert THIEF not in raw.decode() and PARTNER_SUPPORT not in raw.decode()


def test_participants_list_the_buyer_first_and_the_rest_by_role(scene: Scene) -> None:
    listed = scene.api.get(
        f"/api/v1/threads/{scene.thread_id}/participants", headers=auth(scene.agent)
    ).json()
    roles = {p["address"].lower(): (p["role"], p["default"]) for p in listed}
    assert listed[0]["address"] == BUYER and listed[0]["name"] == "Omar Diaz"
    assert roles == {
        BUYER.lower(): ("buyer", True),
        STRANGER: ("customer", False),
        PARTNER_SUPPORT: ("escalation", False),
        THIEF: ("reply_to", False),
    }


def test_a_template_greets_the_buyer_not_whoever_wrote_last(scene: Scene, make_token) -> None:
    admin = make_token(Role.ADMIN)
    template = scene.api.post(
        "/api/v1/templates",
        json={
            "name": "Greeting",
            "category": "shipping",
            "body": "Hello {{ customer_name }},\n\nAbout order {{ order_number }}: it ships today.",
        },
        headers=auth(admin),
    ).json()
    made = scene.api.post(
        f"/api/v1/threads/{scene.thread_id}/drafts",
        json={"template_id": template["id"]},
        headers=auth(scene.agent),
    ).json()
    assert made["body"].startswith("Hello Omar Diaz,")


def test_picking_another_participant_works_and_is_recorded(scene: Scene) -> None:
    made = draft(scene)
    approve(scene, made)
    moved = scene.api.post(
        f"/api/v1/drafts/{made['id']}/recipient",
        json={"to_address": PARTNER_SUPPORT},
        headers=auth(scene.agent),
    )
    assert moved.status_code == 200, moved.text
    moved_draft = moved.json()
    # A new recipient is a new approval: the old one approved someone else.
    assert moved_draft["state"] == "draft" and moved_draft["approved_sha256"] is None
    assert moved_draft["to_address"] == PARTNER_SUPPORT
    assert moved_draft["recipient_is_default"] is False
    assert moved_draft["subject"] == f"Re: Customer Care escalation for order {ORDER}"
    stranger = scene.api.post(
        f"/api/v1/drafts/{made['id']}/recipient",
        json={"to_address": "nobody@elsewhere.test"},
        headers=auth(scene.agent),
    )
    assert stranger.status_code == 422 and "not a participant" in stranger.json()["detail"]

    approve(scene, moved_draft)
    send(scene, moved_draft)
    ((recipients, _),) = scene.smtp.recorder.messages
    assert recipients == [PARTNER_SUPPORT]
    with scene.session_factory() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "draft.recipient")).one()
        assert entry.detail["from"] == BUYER and entry.detail["to"] == PARTNER_SUPPORT
        assert entry.detail["approval_voided"] is True


def test_an_escalation_alone_has_no_default_recipient(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    database_url: str,
    make_token: Callable[..., str],
) -> None:
    imap_account.append(
        "INBOX",
        [
            message(
                sender=PARTNER_SUPPORT,
                subject="Customer Care escalation for order 108899999999999",
                body="Case number 99: please contact the customer.",
            )
        ],
    )
    assert poll(session_factory, imap_account.settings()).ok
    settings = Settings(database_url=database_url, mailboxes=[imap_account.settings()])
    with session_factory() as db:
        thread_id = db.scalars(select(Thread.id)).one()
    agent = make_token(Role.AGENT)
    with TestClient(create_app(settings)) as api:
        refused = api.post(
            f"/api/v1/threads/{thread_id}/drafts", json={"body": REPLY}, headers=auth(agent)
        )
    assert refused.status_code == 422
    assert "no buyer address" in refused.json()["detail"]
    assert PARTNER_SUPPORT in refused.json()["detail"]  # the choice a person can make


def test_approving_needs_the_text_the_approver_saw(scene: Scene) -> None:
    made = draft(scene)
    edited = scene.api.patch(
        f"/api/v1/drafts/{made['id']}",
        json={"body": REPLY.replace("three days", "three weeks")},
        headers=auth(scene.second_agent),
    )
    assert edited.status_code == 200
    stale = scene.api.post(
        f"/api/v1/drafts/{made['id']}/approve",
        json={"body_sha256": made["body_sha256"]},
        headers=auth(scene.agent),
    )
    assert stale.status_code == 409 and "body_sha256" in stale.json()["detail"]
    missing = scene.api.post(
        f"/api/v1/drafts/{made['id']}/approve", json={}, headers=auth(scene.agent)
    )
    assert missing.status_code == 422 and "body_sha256" in missing.text
    assert approve(scene, edited.json())["state"] == "approved"


def test_approving_needs_the_recipient_the_approver_saw(scene: Scene) -> None:
    made = draft(scene)
    scene.api.post(
        f"/api/v1/drafts/{made['id']}/recipient",
        json={"to_address": STRANGER},
        headers=auth(scene.second_agent),
    )
    stale = scene.api.post(
        f"/api/v1/drafts/{made['id']}/approve",
        json={"body_sha256": made["body_sha256"], "envelope_sha256": made["envelope_sha256"]},
        headers=auth(scene.agent),
    )
    assert stale.status_code == 409
    assert "envelope_sha256" in stale.json()["detail"] and STRANGER in stale.json()["detail"]


def test_a_send_that_differs_from_the_approval_is_refused_naming_what_changed(
    scene: Scene,
) -> None:
    made = draft(scene)
    approve(scene, made)
    with session_scope(scene.session_factory) as db:  # anything but the draft service
        db.execute(update(Draft).where(Draft.id == made["id"]).values(to_address=THIEF))
    refused = scene.api.post(f"/api/v1/drafts/{made['id']}/send", headers=auth(scene.agent))
    assert refused.status_code == 409
    assert "to_address" in refused.json()["detail"] and "body" not in refused.json()["detail"]
    with session_scope(scene.session_factory) as db:
        db.execute(update(Draft).where(Draft.id == made["id"]).values(to_address=BUYER, body="Hi"))
    refused = scene.api.post(f"/api/v1/drafts/{made['id']}/send", headers=auth(scene.agent))
    assert refused.status_code == 409 and "changed: body" in refused.json()["detail"]
    assert scene.smtp.recorder.messages == []


def test_a_broken_connection_after_data_is_unknown_and_a_resend_needs_confirmation(
    scene: Scene,
) -> None:
    made = draft(scene)
    approve(scene, made)
    scene.smtp.recorder.drop_after_data = True
    broken = scene.api.post(f"/api/v1/drafts/{made['id']}/send", headers=auth(scene.agent))
    assert broken.status_code == 502 and "unknown" in broken.json()["detail"]
    state = scene.api.get(f"/api/v1/drafts/{made['id']}", headers=auth(scene.agent)).json()
    assert state["state"] == "unknown"
    assert len(scene.smtp.recorder.messages) == 1  # the server did get it

    scene.smtp.recorder.drop_after_data = False
    unconfirmed = scene.api.post(f"/api/v1/drafts/{made['id']}/send", headers=auth(scene.agent))
    assert unconfirmed.status_code == 409 and "confirm_resend" in unconfirmed.json()["detail"]
    assert len(scene.smtp.recorder.messages) == 1

    again = scene.api.post(
        f"/api/v1/drafts/{made['id']}/send",
        json={"confirm_resend": True},
        headers=auth(scene.agent),
    )
    assert again.status_code == 200 and again.json()["state"] == "sent"
    first, second = scene.smtp.recorder.messages
    # The same Message-ID both times: a mail client shows the copies as one message.
    ids = [email.message_from_bytes(raw)["Message-ID"] for _, raw in (first, second)]
    assert ids[0] == ids[1] == again.json()["message_id"]
    with scene.session_factory() as db:
        actions = list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert "draft.send_unknown" in actions and "draft.send_again_confirmed" in actions


def test_the_page_shows_the_recipient_and_approves_what_it_showed(
    scene: Scene, session_factory: sessionmaker[Session]
) -> None:
    with session_scope(session_factory) as db:
        for name, role in (("agnes", Role.AGENT), ("victor", Role.VIEWER)):
            create_user(db, name=name, role=role, actor="test")
            set_password(db, name=name, password=PASSWORD, actor="test")
    made = draft(scene)
    page = signed_in(scene.api, "agnes")
    html = page.get(f"/threads/{scene.thread_id}").text
    assert f"Omar Diaz &lt;{BUYER}&gt;" in html
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html)
    body_hash = re.search(r'name="body_sha256" value="([0-9a-f]{64})"', html)
    envelope_hash = re.search(r'name="envelope_sha256" value="([0-9a-f]{64})"', html)
    assert csrf and body_hash and envelope_hash
    # Someone else edits after the page was loaded: the click approves nothing.
    scene.api.patch(
        f"/api/v1/drafts/{made['id']}", json={"body": REPLY + "P.S."}, headers=auth(scene.agent)
    )
    form = {
        "csrf_token": csrf.group(1),
        "body_sha256": body_hash.group(1),
        "envelope_sha256": envelope_hash.group(1),
    }
    stale = page.post(f"/drafts/{made['id']}/approve", data=form, follow_redirects=False)
    assert stale.status_code == 409 and "not the text you saw" in stale.text
    fresh = page.get(f"/threads/{scene.thread_id}").text
    new_hash = re.search(r'name="body_sha256" value="([0-9a-f]{64})"', fresh)
    assert new_hash
    approved = page.post(
        f"/drafts/{made['id']}/approve",
        data={**form, "body_sha256": new_hash.group(1)},
        follow_redirects=False,
    )
    assert approved.status_code == 303

    viewer_page = signed_in(scene.api, "victor").get(f"/threads/{scene.thread_id}").text
    assert "P.S." not in viewer_page and 'id="draft-' not in viewer_page


def signed_in(api: TestClient, name: str) -> TestClient:
    client = TestClient(api.app)
    login = client.get("/login").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', login)
    assert token
    response = client.post(
        "/login",
        data={"username": name, "password": PASSWORD, "csrf_token": token.group(1)},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def test_a_send_interrupted_by_a_crash_is_resent_only_on_confirmation_once_stale(
    scene: Scene,
) -> None:
    made = draft(scene)
    approve(scene, made)
    url = f"/api/v1/drafts/{made['id']}/send"
    for started_ago, confirmed, status in [
        (timedelta(minutes=1), False, 409),
        (timedelta(minutes=1), True, 409),  # it may still be on its way
        (timedelta(minutes=20), False, 409),
        (timedelta(minutes=20), True, 200),
    ]:
        with session_scope(scene.session_factory) as db:  # as a process killed mid-send left it
            db.execute(
                update(Draft)
                .where(Draft.id == made["id"])
                .values(state="sending", sending_started_at=now() - started_ago)
            )
        response = scene.api.post(
            url, json={"confirm_resend": confirmed}, headers=auth(scene.agent)
        )
        assert response.status_code == status, (started_ago, confirmed, response.text)
    assert len(scene.smtp.recorder.messages) == 1
