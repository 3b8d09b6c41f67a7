"""Mailboxes managed through the API beside config-file ones: create, change, disable, test, and
the client label filtering threads, the summary and the status page."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.models import AuditEntry
from app.sla import policy_lookup
from tests.mailboxes.helpers import API_MAILBOXES, config_mailbox
from tests.support.imap import ImapAccount
from tests.support.mailfactory import SELLER_ADDRESS, customer
from tests.support.tls_certs import TestCA
from tests.support.web import auth


def _body(account: ImapAccount, name: str, **extra: Any) -> dict[str, Any]:
    return {**account.settings(name=name).model_dump(mode="json", exclude_unset=True), **extra}


@pytest.fixture
def api(
    imap_account: ImapAccount, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        mailboxes=[config_mailbox(imap_account, monkeypatch)],
        api_mailboxes=API_MAILBOXES,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_an_admin_creates_changes_disables_and_enables_a_mailbox(
    api: TestClient,
    imap_account: ImapAccount,
    make_token: Callable[[Role], str],
    session_factory: sessionmaker[Session],
) -> None:
    admin = auth(make_token(Role.ADMIN))
    created = api.post(
        "/api/v1/mailboxes", json=_body(imap_account, "acme-1", client="acme"), headers=admin
    )
    assert created.status_code == 201, created.text
    assert created.json()["source"] == "api" and created.json()["client"] == "acme"
    assert created.json()["settings"]["password_env"] == imap_account.password_env
    assert imap_account.password not in created.text

    changed = api.patch(
        "/api/v1/mailboxes/acme-1", json={"poll_seconds": 120, "client": "acme-eu"}, headers=admin
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["settings"]["poll_seconds"] == 120
    assert changed.json()["client"] == "acme-eu"

    assert api.post("/api/v1/mailboxes/acme-1/disable", headers=admin).json()["enabled"] is False
    assert api.post("/api/v1/mailboxes/acme-1/enable", headers=admin).json()["enabled"] is True
    with session_factory() as db:
        actions = db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert [a for a in actions if a.startswith("mailbox.")] == [
        "mailbox.create",
        "mailbox.update",
        "mailbox.disable",
        "mailbox.enable",
    ]


@pytest.mark.parametrize(
    ("change", "status", "reason"),
    [
        ({"poll_seconds": 1}, 422, "poll_seconds"),
        ({"security": "plain", "host": "imap.example.com"}, 422, "loopback"),
        ({"password_file": "/run/secrets/pw"}, 422, "not both"),
        ({"alert_recipients": ["0A1B2C3D@relay.walmart.com"]}, 422, "relay"),
        ({"name": "renamed"}, 422, "renamed"),
        ({"host": "a..b"}, 422, "not a valid host name"),
        ({"host": "x" * 300}, 422, "not a valid host name"),
        ({"surprise": True}, 422, "surprise"),
    ],
)
def test_bad_changes_get_a_422_with_the_reason(
    api: TestClient,
    imap_account: ImapAccount,
    make_token: Callable[[Role], str],
    change: dict[str, Any],
    status: int,
    reason: str,
) -> None:
    admin = auth(make_token(Role.ADMIN))
    api.post("/api/v1/mailboxes", json=_body(imap_account, "acme-2"), headers=admin)
    response = api.patch("/api/v1/mailboxes/acme-2", json=change, headers=admin)
    assert response.status_code == status, response.text
    assert reason in response.text


def test_config_and_api_mailboxes_do_not_collide(
    api: TestClient, imap_account: ImapAccount, make_token: Callable[[Role], str]
) -> None:
    admin = auth(make_token(Role.ADMIN))
    same_name = api.post("/api/v1/mailboxes", json=_body(imap_account, "cfg"), headers=admin)
    assert same_name.status_code == 409 and "config file" in same_name.text
    assert (
        api.patch("/api/v1/mailboxes/cfg", json={"poll_seconds": 90}, headers=admin).status_code
        == 409
    )
    assert api.post("/api/v1/mailboxes/cfg/disable", headers=admin).status_code == 409
    api.post("/api/v1/mailboxes", json=_body(imap_account, "acme-3"), headers=admin)
    again = api.post("/api/v1/mailboxes", json=_body(imap_account, "acme-3"), headers=admin)
    assert again.status_code == 409
    missing = api.post(
        "/api/v1/mailboxes",
        json={"name": "acme-4", "host": "127.0.0.1", "username": "u", "seller_addresses": []},
        headers=admin,
    )
    assert missing.status_code == 422
    assert api.patch("/api/v1/mailboxes/nope", json={}, headers=admin).status_code == 404


def test_only_admins_manage_mailboxes(
    api: TestClient, imap_account: ImapAccount, make_token: Callable[[Role], str]
) -> None:
    body = _body(imap_account, "acme-5")
    assert api.post("/api/v1/mailboxes", json=body).status_code == 401
    for role in (Role.VIEWER, Role.AGENT):
        headers = auth(make_token(role))
        assert api.post("/api/v1/mailboxes", json=body, headers=headers).status_code == 403
        assert api.post("/api/v1/mailboxes/cfg/test", headers=headers).status_code == 403


def _store(db: Session, mailbox: str, client: str | None, buyer: str, hours: float) -> None:
    row = mailbox_repository.get_or_create_mailbox(db, mailbox)
    row.client = client
    assert store_message(
        db,
        mailbox_id=row.id,
        role=FolderRole.INBOX,
        raw=customer(buyer),
        arrived_at=now() - timedelta(hours=hours),
        seller_addresses=frozenset({SELLER_ADDRESS}),
        policy_for=policy_lookup(Settings().sla, "walmart"),
    )


def test_client_filters_threads_and_summary(
    client: TestClient,
    make_token: Callable[[Role], str],
    session_factory: sessionmaker[Session],
) -> None:
    with session_scope(session_factory) as db:
        _store(db, "acme-a", "acme", "Ann", 50)
        _store(db, "acme-b", "acme", "Bob", 2)
        _store(db, "zeta-a", "zeta", "Cid", 49)
    viewer = auth(make_token(Role.VIEWER))
    listed = client.get("/api/v1/threads?client=acme", headers=viewer).json()["items"]
    assert sorted(t["mailbox"] for t in listed) == ["acme-a", "acme-b"]
    one = client.get("/api/v1/threads?client=acme&mailbox=acme-b", headers=viewer).json()
    assert [t["mailbox"] for t in one["items"]] == ["acme-b"]
    summary = client.get("/api/v1/summary?client=zeta", headers=viewer).json()
    assert [m["name"] for m in summary["mailboxes"]] == ["zeta-a"]
    assert summary["by_state"]["overdue"] == 1 and summary["by_state"]["waiting"] == 0
    assert summary["mailboxes"][0]["client"] == "zeta"
    wrong = client.get("/api/v1/threads?client=acme&mailbox=zeta-a", headers=viewer)
    assert wrong.status_code == 422 and "not one of client 'acme'" in wrong.text
    assert client.get("/api/v1/summary?client=nobody", headers=viewer).status_code == 422


def test_a_stored_mailbox_whose_ca_file_is_gone_fails_alone(
    imap_account: ImapAccount,
    database_url: str,
    make_token: Callable[[Role], str],
    session_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """A CA file removed after the mailbox was saved fails that mailbox's connections with a
    config error naming the file; reading the mailbox list, and the other mailboxes, go on."""
    ca = TestCA(tmp_path, "private")
    settings = Settings(
        database_url=database_url,
        mailboxes=[config_mailbox(imap_account, monkeypatch)],
        api_mailboxes=API_MAILBOXES.model_copy(update={"secrets_dir": tmp_path}),
    )
    admin = auth(make_token(Role.ADMIN))
    body = _body(imap_account, "private-ca", tls_ca_file=str(ca.ca_file), security="ssl")
    with TestClient(create_app(settings)) as api:
        created = api.post("/api/v1/mailboxes", json=body, headers=admin)
        assert created.status_code == 201, created.text
        ca.ca_file.unlink()
        with session_factory() as db:
            assert {m.name for m in registry.active(db, settings)} == {"cfg", "private-ca"}
        tested = api.post("/api/v1/mailboxes/private-ca/test", headers=admin).json()
        other = api.post("/api/v1/mailboxes/cfg/test", headers=admin).json()
    failed = [step for step in tested["steps"] if not step["ok"]]
    assert failed and failed[0]["error_kind"] == "config" and str(ca.ca_file) in failed[0]["detail"]
    # The other mailbox still signs in (no SMTP server is set here, so only IMAP is asked).
    assert any(s["step"].startswith("log in to IMAP") and s["ok"] for s in other["steps"]), other
