"""OAuth2 sign-in end to end: a real authorization server (tests.support.oauth_provider), a
Dovecot that checks its tokens by introspection, and an SMTP server taking AUTH XOAUTH2. Slawatch
refreshes the tokens itself, retries a refused one once, and reports a dead grant as
"re-authorise needed"."""

from __future__ import annotations

import logging
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.alerts.service import mailbox_alerts
from app.clock import now
from app.config import AlertSettings, ApiMailboxSettings, Settings, StatusSettings
from app.db import session_scope
from app.enums import Role
from app.ingest.poll import PollReport, poll_mailbox
from app.mail import smtp
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.models import Alert, Mailbox, OAuthGrant
from app.oauth import grants
from app.oauth.cipher import TokenCipher
from app.oauth.endpoints import TokenGrant
from tests.support.imap import closing_client
from tests.support.mailfactory import customer
from tests.support.oauth import OAUTH_CLIENT_SECRET, OAuthAccount, OAuthSmtpServer
from tests.support.oauth_provider import OAuthProvider
from tests.support.web import auth

TEAM = "team@store.example"


@pytest.fixture
def settings(database_url: str, oauth_account: OAuthAccount, oauth_secrets: str) -> Settings:
    return Settings(
        database_url=database_url,
        mailboxes=[oauth_account.settings()],
        alerts=AlertSettings(recipients=[TEAM]),
    )


def authorise(
    session_factory: sessionmaker[Session], settings: Settings, account: OAuthAccount
) -> str:
    """What `slawatch mailboxes authorize` stores after consent; returns the refresh token."""
    refresh_token = account.refresh_token()
    grant = TokenGrant(
        access_token=SecretStr(account.access_token()),
        expires_at=now(),  # used up: the first sign-in refreshes
        refresh_token=SecretStr(refresh_token),
    )
    with session_scope(session_factory) as db:
        mailbox = mailbox_repository.get_or_create_mailbox(db, settings.mailboxes[0].name)
        grants.store(db, mailbox, grant, TokenCipher(settings.token_key()))
    return refresh_token


def poll(session_factory: sessionmaker[Session], settings: Settings) -> PollReport:
    logins = grants.Logins(session_factory, settings)
    return poll_mailbox(session_factory, settings.mailboxes[0], sla=settings.sla, logins=logins)


def refresh_requests(provider: OAuthProvider) -> int:
    """Refresh requests made, granted or refused."""
    return sum(1 for grant_type, _ in provider.token_requests if grant_type == "refresh_token")


def expire_stored_token(session_factory: sessionmaker[Session], *, in_seconds: float) -> None:
    """As if time had passed: the stored access token expires in ``in_seconds``."""
    with session_scope(session_factory) as db:
        row = db.scalars(select(OAuthGrant)).one()
        row.refreshed_at = now() - timedelta(seconds=120 - in_seconds)
        row.access_expires_at = now() + timedelta(seconds=in_seconds)


def grant_row(session_factory: sessionmaker[Session]) -> OAuthGrant:
    with session_factory() as db:
        return db.scalars(select(OAuthGrant)).one()


def test_signs_in_with_a_fresh_token_and_reuses_it_until_near_expiry(
    session_factory: sessionmaker[Session], settings: Settings, oauth_account: OAuthAccount
) -> None:
    provider = oauth_account.provider
    oauth_account.append("INBOX", [customer("Ann"), customer("Bob")])
    authorise(session_factory, settings, oauth_account)

    first = poll(session_factory, settings)
    assert first.ok, first.error
    assert sum(f.new for f in first.folders) == 2
    assert provider.refresh_count == 1  # the stored token had expired: refreshed before use
    assert poll(session_factory, settings).ok
    assert provider.refresh_count == 1  # still valid for an hour: reused, also across sessions

    # A token is refreshed before it is used once less than five minutes, or half its
    # lifetime for a short-lived one, are left.
    provider.access_token_lifetime = 120
    expire_stored_token(session_factory, in_seconds=0)
    assert poll(session_factory, settings).ok
    assert provider.refresh_count == 2
    assert poll(session_factory, settings).ok
    assert provider.refresh_count == 2  # 120 s left: fresh enough
    expire_stored_token(session_factory, in_seconds=50)  # still valid, but past half its life
    assert poll(session_factory, settings).ok
    assert provider.refresh_count == 3
    assert grant_row(session_factory).refreshed_at is not None


def test_a_token_the_server_refuses_is_renewed_once(
    session_factory: sessionmaker[Session], settings: Settings, oauth_account: OAuthAccount
) -> None:
    provider = oauth_account.provider
    authorise(session_factory, settings, oauth_account)
    assert poll(session_factory, settings).ok
    refreshes = provider.refresh_count

    provider.expire_access_tokens()  # revoked early: our stored expiry says it is still good
    oauth_account.append("INBOX", [customer("Cid")])
    report = poll(session_factory, settings)
    assert report.ok, report.error
    assert sum(f.new for f in report.folders) == 1
    assert provider.refresh_count == refreshes + 1


def test_a_refused_fresh_token_is_retried_once_then_reported(
    session_factory: sessionmaker[Session],
    database_url: str,
    oauth_account: OAuthAccount,
    oauth_secrets: str,
) -> None:
    # The grant belongs to another account than the one configured: every token is refused.
    other = f"other-{oauth_account.username}"
    settings = Settings(
        database_url=database_url, mailboxes=[oauth_account.settings(username=other)]
    )
    authorise(session_factory, settings, oauth_account)
    provider = oauth_account.provider
    report = poll(session_factory, settings)
    assert report.error_kind == "reauthorize"
    assert "even with a fresh token" in (report.error or "")
    # One refresh before the first try (the stored token was used up), one after the refusal.
    assert provider.refresh_count == 2


def test_a_revoked_grant_asks_for_reauthorisation_and_alerts_at_once(
    session_factory: sessionmaker[Session],
    settings: Settings,
    oauth_account: OAuthAccount,
    make_token: Any,
) -> None:
    provider = oauth_account.provider
    authorise(session_factory, settings, oauth_account)
    assert poll(session_factory, settings).ok

    provider.revoke_all(oauth_account.username)  # the person removed the app's access
    asked = refresh_requests(provider)
    report = poll(session_factory, settings)
    assert report.error_kind == "reauthorize"
    assert "invalid_grant" in (report.error or "")
    assert "slawatch mailboxes authorize oauth-shop" in (report.error or "")
    assert refresh_requests(provider) == asked + 1  # refused once: no point asking again

    # Until someone authorises again, nothing more is asked of the provider.
    again = poll(session_factory, settings)
    assert again.error_kind == "reauthorize"
    assert refresh_requests(provider) == asked + 1
    assert grant_row(session_factory).refused_at is not None

    with session_scope(session_factory) as db:
        (alert,) = mailbox_alerts(db, settings=settings, now=now())
        assert alert.kind == "mailbox_down" and alert.recipients == [TEAM]
        assert "authorize oauth-shop" in alert.detail["reason"]
    with TestClient(create_app(settings)) as client:
        viewer = auth(make_token(Role.VIEWER))
        (entry,) = client.get("/api/v1/summary", headers=viewer).json()["mailboxes"]
        assert entry["needs_reauthorization"] is True
        metrics = client.get("/metrics").text
        assert 'slawatch_mailbox_needs_reauthorization{client="",mailbox="oauth-shop"} 1.0' in (
            metrics
        )
    wall_screen = settings.model_copy(update={"status": StatusSettings(public=True)})
    with TestClient(create_app(wall_screen)) as client:
        assert "re-authorise needed" in client.get("/status").text

    # A new consent mends it, and the team hears that polling works again.
    authorise(session_factory, settings, oauth_account)
    assert poll(session_factory, settings).ok
    with session_scope(session_factory) as db:
        (recovered,) = mailbox_alerts(db, settings=settings, now=now())
        assert recovered.kind == "mailbox_recovered"
        kinds = [a.kind for a in db.scalars(select(Alert).order_by(Alert.id))]
        assert kinds == ["mailbox_down", "mailbox_recovered"]
        assert db.scalars(select(Mailbox)).one().consecutive_failures == 0


def test_smtp_signs_in_with_xoauth2_and_renews_a_refused_token(
    session_factory: sessionmaker[Session],
    settings: Settings,
    oauth_account: OAuthAccount,
    oauth_smtp_server: OAuthSmtpServer,
) -> None:
    mailbox = oauth_account.settings(oauth_smtp_server)
    authorise(session_factory, settings, oauth_account)
    login = grants.Logins(session_factory, settings).for_mailbox(mailbox)
    server = mailbox.smtp()
    assert server is not None

    smtp.check_login(server, login)
    assert oauth_smtp_server.handler.logins == [(oauth_account.username, "XOAUTH2")]

    oauth_account.provider.expire_access_tokens()
    smtp.check_login(server, login)  # refused once, renewed, accepted
    assert oauth_smtp_server.handler.refused == [(oauth_account.username, "XOAUTH2")]
    assert oauth_smtp_server.handler.logins[-1] == (oauth_account.username, "XOAUTH2")

    oauth_account.provider.revoke_all(oauth_account.username)
    oauth_account.provider.expire_access_tokens()
    with pytest.raises(smtp.SmtpError) as refused:
        smtp.check_login(server, login)
    assert refused.value.kind == "reauthorize"


def test_connection_test_of_an_oauth2_mailbox(
    session_factory: sessionmaker[Session],
    database_url: str,
    oauth_account: OAuthAccount,
    oauth_smtp_server: OAuthSmtpServer,
    oauth_secrets: str,
    make_token: Any,
) -> None:
    settings = Settings(
        database_url=database_url, mailboxes=[oauth_account.settings(oauth_smtp_server)]
    )
    admin = auth(make_token(Role.ADMIN))
    with TestClient(create_app(settings)) as client:
        unauthorised = client.post("/api/v1/mailboxes/oauth-shop/test", headers=admin).json()
        (step,) = unauthorised["steps"]
        assert (step["step"], step["ok"], step["error_kind"]) == (
            "get an OAuth2 access token",
            False,
            "reauthorize",
        )
        assert "not authorised yet: run `slawatch mailboxes authorize oauth-shop`" in step["detail"]

        authorise(session_factory, settings, oauth_account)
        report = client.post("/api/v1/mailboxes/oauth-shop/test", headers=admin).json()
        assert report["ok"] is True, report
        assert [s["step"] for s in report["steps"]] == [
            "get an OAuth2 access token",
            "log in to IMAP",
            "find the inbox folder",
            "find the sent folder",
            "find the spam folder",
            "log in to SMTP",
        ]
        assert oauth_smtp_server.handler.logins == [(oauth_account.username, "XOAUTH2")]

        oauth_account.provider.revoke_all(oauth_account.username)
        oauth_account.provider.expire_access_tokens()
        revoked = client.post("/api/v1/mailboxes/oauth-shop/test", headers=admin).json()
        # The stored token looks valid until a server refuses it; renewing it then fails.
        failed = [
            (s["step"], s["error_kind"], s["detail"]) for s in revoked["steps"] if not s["ok"]
        ]
        assert [(step, kind) for step, kind, _ in failed] == [
            ("log in to IMAP", "reauthorize"),
            ("log in to SMTP", "reauthorize"),
        ]
        assert all("refused the stored sign-in (invalid_grant" in d for _, _, d in failed)


def test_tokens_never_reach_logs_api_output_or_the_database_in_clear(
    session_factory: sessionmaker[Session],
    settings: Settings,
    oauth_account: OAuthAccount,
    oauth_smtp_server: OAuthSmtpServer,
    database_url: str,
    make_token: Any,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    refresh_token = authorise(session_factory, settings, oauth_account)
    oauth_account.append("INBOX", [customer("Dee")])
    assert poll(session_factory, settings).ok
    admin = auth(make_token(Role.ADMIN))
    seen: list[str] = []
    with TestClient(create_app(settings)) as client:
        for path in ("/api/v1/summary", "/status", "/metrics"):
            seen.append(client.get(path, headers=admin).text)
        seen.append(client.post("/api/v1/mailboxes/oauth-shop/test", headers=admin).text)
        oauth_account.provider.revoke_all(oauth_account.username)
        oauth_account.provider.expire_access_tokens()
        seen.append(client.post("/api/v1/mailboxes/oauth-shop/test", headers=admin).text)
    assert poll(session_factory, settings).error_kind == "reauthorize"

    cipher = TokenCipher(settings.token_key())
    row = grant_row(session_factory)
    secrets = [OAUTH_CLIENT_SECRET, *oauth_account.provider.issued_tokens()]
    assert refresh_token in secrets and len(secrets) >= 4  # refresh, first and renewed access
    assert cipher.decrypt(row.refresh_token).get_secret_value() == refresh_token
    text = caplog.text + "".join(seen)
    for secret in secrets:
        assert secret not in text
    if database_url.startswith("sqlite"):
        # Searched by another process: opening and closing the database's files here would drop
        # this process's SQLite locks on them (POSIX locks are per process).
        path = Path(database_url.removeprefix("sqlite:///"))
        files = [str(f) for f in path.parent.glob(path.name + "*")]
        for secret in secrets:
            found = subprocess.run(["grep", "-Fla", "-e", secret, *files], capture_output=True)
            assert found.returncode == 1, found  # 1: in no file


def test_an_approved_reply_goes_out_through_the_mailboxs_own_smtp_signed_in_with_oauth2(
    session_factory: sessionmaker[Session],
    settings: Settings,
    oauth_account: OAuthAccount,
    oauth_smtp_server: OAuthSmtpServer,
    make_token: Any,
) -> None:
    # No [smtp] server is configured (the default, localhost, has none): only the mailbox's own.
    mailbox = oauth_account.settings(oauth_smtp_server)
    settings = settings.model_copy(update={"mailboxes": [mailbox]})
    authorise(session_factory, settings, oauth_account)
    oauth_account.append("INBOX", [customer("Eve")])
    assert poll(session_factory, settings).ok
    agent = auth(make_token(Role.AGENT))
    with TestClient(create_app(settings)) as client:
        (thread,) = client.get("/api/v1/threads", headers=agent).json()["items"]
        body = "Hello Eve,\n\nYour order ships today.\n\nCustomer Care Team\n"
        draft = client.post(
            f"/api/v1/threads/{thread['id']}/drafts", json={"body": body}, headers=agent
        ).json()
        approved = client.post(
            f"/api/v1/drafts/{draft['id']}/approve",
            json={"body_sha256": draft["body_sha256"]},
            headers=agent,
        )
        assert approved.status_code == 200, approved.text
        sent = client.post(f"/api/v1/drafts/{draft['id']}/send", headers=agent)
    assert sent.status_code == 200, sent.text
    assert sent.json()["state"] == "sent" and sent.json()["sent_copy_error"] is None
    ((_, raw),) = oauth_smtp_server.handler.messages
    assert sent.json()["message_id"].encode() in raw
    assert oauth_smtp_server.handler.logins == [(oauth_account.username, "XOAUTH2")]
    # The copy in Sent was appended over IMAP, signed in the same way.
    with closing_client(oauth_account.client()) as imap:
        imap.select_folder("Sent", readonly=True)
        assert len(imap.search(["HEADER", "Message-ID", sent.json()["message_id"]])) == 1


def test_a_rotated_refresh_token_replaces_the_stored_one(
    session_factory: sessionmaker[Session], settings: Settings, oauth_account: OAuthAccount
) -> None:
    # Microsoft answers a refresh with a new refresh token: the newest must be kept.
    provider = oauth_account.provider
    provider.rotate_refresh_tokens = True
    first = authorise(session_factory, settings, oauth_account)
    assert poll(session_factory, settings).ok
    cipher = TokenCipher(settings.token_key())
    stored = cipher.decrypt(grant_row(session_factory).refresh_token).get_secret_value()
    rotated = [t for t in provider.issued_tokens() if t.startswith("rt-")]
    assert stored != first and stored == rotated[-1]
    provider.revoke_refresh_token(first)
    provider.expire_access_tokens()
    assert poll(session_factory, settings).ok  # renewed with the rotated token


def test_changing_where_an_api_mailbox_signs_in_forgets_its_grant(
    session_factory: sessionmaker[Session],
    database_url: str,
    oauth_account: OAuthAccount,
    oauth_secrets: str,
    make_token: Any,
) -> None:
    # An admin can change an API mailbox; the seller's consent must not follow it elsewhere.
    # The test's client secret is in a SLAWATCH_TEST_* variable, which the API must allow.
    settings = Settings(
        database_url=database_url, api_mailboxes=ApiMailboxSettings(env_prefix="SLAWATCH_TEST_")
    )
    admin = auth(make_token(Role.ADMIN))
    body = oauth_account.settings(name="api-shop").model_dump(mode="json", exclude_unset=True)

    def store_grant() -> None:
        with session_scope(session_factory) as db:
            mailbox = mailbox_repository.get_or_create_mailbox(db, "api-shop")
            grant = TokenGrant(
                access_token=SecretStr(oauth_account.access_token()),
                expires_at=now(),
                refresh_token=SecretStr(oauth_account.refresh_token()),
            )
            grants.store(db, mailbox, grant, TokenCipher(settings.token_key()))

    with TestClient(create_app(settings)) as client:
        assert client.post("/api/v1/mailboxes", json=body, headers=admin).status_code == 201
        store_grant()
        other = OAuthProvider(client_id=oauth_account.provider.client_id).start()
        try:
            changed = client.patch(
                "/api/v1/mailboxes/api-shop",
                json={"oauth_token_url": other.token_url},
                headers=admin,
            )
            assert changed.status_code == 200, changed.text
            report = client.post("/api/v1/mailboxes/api-shop/test", headers=admin).json()
            assert other.token_requests == []  # nothing was sent to the new address
        finally:
            other.stop()
        assert "not authorised yet" in report["steps"][0]["detail"]
        with session_factory() as db:
            assert db.scalars(select(OAuthGrant)).all() == []

        # Changing what does not decide where tokens go keeps the grant.
        store_grant()
        polled = client.patch(
            "/api/v1/mailboxes/api-shop", json={"poll_seconds": 120}, headers=admin
        )
        assert polled.status_code == 200
    assert grant_row(session_factory).refused_at is None  # still there
