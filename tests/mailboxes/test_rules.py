"""[api_mailboxes]: an admin token cannot make slawatch send the server's own secrets, or reach its
private network. Each rule refused with a 422 naming the key and the rule; the allowed names and
directory work against the real Dovecot; mailboxes stored before the rules fail with a config
error; refused hosts are never connected to."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import ApiMailboxSettings, Settings, SmtpSettings, StatusSettings
from app.db import session_scope
from app.enums import Role
from app.ingest.poll import poll_mailbox
from app.mailboxes import registry
from app.mailboxes.rules import ApiMailbox, address_problem
from app.main import create_app
from app.models import Mailbox
from app.oauth.grants import Logins
from tests.support.imap import ImapAccount
from tests.support.smtp import SmtpServer
from tests.support.web import auth

PREFIX_RULE = (
    "password_env: an API mailbox may only name variables starting with SLAWATCH_MAILBOX_ "
    "(set [api_mailboxes] env_prefix to change it)"
)


@pytest.fixture
def admin(make_token: Callable[[Role], str]) -> dict[str, str]:
    return auth(make_token(Role.ADMIN))


@pytest.fixture
def app_with(database_url: str) -> Iterator[Callable[..., TestClient]]:
    """An app with these settings (started; closed after the test)."""
    clients: list[TestClient] = []

    def start(**settings: Any) -> TestClient:
        client = TestClient(create_app(Settings(database_url=database_url, **settings)))
        clients.append(client.__enter__())
        return client

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def _body(account: ImapAccount, name: str, **extra: Any) -> dict[str, Any]:
    values = account.settings(name=name).model_dump(mode="json", exclude_unset=True)
    values.pop("password_env")
    return {**values, **extra}


def _own_password(
    account: ImapAccount, monkeypatch: pytest.MonkeyPatch, name: str = "SLAWATCH_MAILBOX_SHOP"
) -> str:
    monkeypatch.setenv(name, account.password)
    return name


# --- secrets named by environment variable -----------------------------------------------------


def test_the_default_prefix_refuses_other_variables_and_allows_its_own(
    app_with: Callable[..., TestClient],
    admin: dict[str, str],
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = app_with(smtp=smtp_server.settings())
    for variable in ("SLAWATCH_TEST_PW_X", "HOME", "SLAWATCH_MAILBOX_"):
        refused = api.post(
            "/api/v1/mailboxes",
            json=_body(imap_account, "shop", password_env=variable),
            headers=admin,
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"] == PREFIX_RULE

    allowed = _own_password(imap_account, monkeypatch)
    created = api.post(
        "/api/v1/mailboxes", json=_body(imap_account, "shop", password_env=allowed), headers=admin
    )
    assert created.status_code == 201, created.text
    report = api.post("/api/v1/mailboxes/shop/test", headers=admin).json()
    assert report["ok"] is True, report
    assert report["steps"][0]["detail"] == f"from {allowed}"

    # A change naming a forbidden variable is refused, and the stored settings stay.
    changed = api.patch("/api/v1/mailboxes/shop", json={"password_env": "PATH"}, headers=admin)
    assert changed.status_code == 422 and changed.json()["detail"] == PREFIX_RULE
    again = api.post("/api/v1/mailboxes/shop/test", headers=admin).json()
    assert again["steps"][0]["detail"] == f"from {allowed}"


@pytest.mark.parametrize(
    ("variable", "settings", "holds"),
    [
        ("SLAWATCH_DATABASE_URL", {}, "the database URL"),
        ("slawatch_database_url", {}, "the database URL"),
        ("SLAWATCH_TOKEN_KEY", {}, "the token key"),
        ("SLAWATCH_MAILBOX_KEY", {"token_key_env": "SLAWATCH_MAILBOX_KEY"}, "the token key"),
        (
            "SLAWATCH_MAILBOX_SMTP",
            {"smtp": SmtpSettings(username="u", password_env="SLAWATCH_MAILBOX_SMTP")},
            "the SMTP password",
        ),
        (
            "SLAWATCH_MAILBOX_METRICS",
            {"status": StatusSettings(metrics_token_env="SLAWATCH_MAILBOX_METRICS")},
            "the metrics token",
        ),
    ],
)
def test_slawatchs_own_secrets_are_refused_even_under_an_allowed_prefix(
    app_with: Callable[..., TestClient],
    admin: dict[str, str],
    imap_account: ImapAccount,
    variable: str,
    settings: dict[str, Any],
    holds: str,
) -> None:
    api = app_with(api_mailboxes=ApiMailboxSettings(env_prefix="SLAWATCH_"), **settings)
    response = api.post(
        "/api/v1/mailboxes", json=_body(imap_account, "shop", password_env=variable), headers=admin
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"] == (
        f"password_env: {variable} holds {holds}, one of slawatch's own secrets; an API "
        "mailbox may not name it"
    )


def test_config_mailboxes_secrets_and_oauth_client_secrets_are_refused(
    app_with: Callable[..., TestClient], admin: dict[str, str], imap_account: ImapAccount
) -> None:
    configured = imap_account.settings(
        name="cfg",
        password_env="SLAWATCH_MAILBOX_CFG",
    )
    oauth = imap_account.settings(
        name="oauth-cfg",
        password_env=None,
        auth="oauth2",
        oauth_provider="custom",
        oauth_client_id="client",
        oauth_token_url="http://127.0.0.1:9/token",
        oauth_client_secret_env="SLAWATCH_MAILBOX_OAUTH",
    )
    api = app_with(mailboxes=[configured, oauth])
    body = _body(imap_account, "shop", password_env="SLAWATCH_MAILBOX_CFG")
    response = api.post("/api/v1/mailboxes", json=body, headers=admin)
    assert response.status_code == 422
    assert "SLAWATCH_MAILBOX_CFG holds config mailbox 'cfg''s password_env" in response.text

    oauth_body = {
        **_body(imap_account, "shop-oauth"),
        "auth": "oauth2",
        "oauth_provider": "custom",
        "oauth_client_id": "client",
        "oauth_token_url": "http://127.0.0.1:9/token",
    }
    for variable, reason in (
        ("SLAWATCH_MAILBOX_OAUTH", "holds config mailbox 'oauth-cfg''s oauth_client_secret_env"),
        ("GOOGLE_SECRET", "oauth_client_secret_env: an API mailbox may only name variables "),
    ):
        refused = api.post(
            "/api/v1/mailboxes",
            json={**oauth_body, "oauth_client_secret_env": variable},
            headers=admin,
        )
        assert refused.status_code == 422 and reason in refused.text, refused.text


# --- secrets in files ----------------------------------------------------------------------------


def test_no_file_is_allowed_without_a_secrets_dir(
    app_with: Callable[..., TestClient], admin: dict[str, str], imap_account: ImapAccount
) -> None:
    response = app_with().post(
        "/api/v1/mailboxes",
        json=_body(imap_account, "shop", password_file="/run/secrets/shop"),
        headers=admin,
    )
    assert response.status_code == 422
    assert response.json()["detail"] == (
        "password_file: an API mailbox may name no file (set [api_mailboxes] secrets_dir to "
        "allow files inside one directory)"
    )


def test_files_inside_the_secrets_dir_only_with_links_and_dots_followed(
    app_with: Callable[..., TestClient],
    admin: dict[str, str],
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets"
    (secrets / "x").mkdir(parents=True)
    (secrets / "shop").write_text(imap_account.password + "\n")
    outside = tmp_path / "shadow"
    outside.write_text("root-secret\n")
    (secrets / "link").symlink_to(outside)
    (secrets / "token-key").write_text("key\n")
    api = app_with(
        api_mailboxes=ApiMailboxSettings(secrets_dir=secrets),
        token_key_file=str(secrets / "token-key"),
        smtp=smtp_server.settings(),
    )

    for path, reason in (
        (
            f"{secrets}/x/../../shadow",
            f"resolves to {outside}, outside [api_mailboxes] secrets_dir",
        ),
        (f"{secrets}/link", f"resolves to {outside}, outside [api_mailboxes] secrets_dir"),
        (str(secrets), "outside [api_mailboxes] secrets_dir"),
        (f"{secrets}/token-key", "is the token key, one of slawatch's own secrets"),
    ):
        refused = api.post(
            "/api/v1/mailboxes", json=_body(imap_account, "shop", password_file=path), headers=admin
        )
        assert refused.status_code == 422, path
        assert refused.json()["detail"].startswith(f"password_file: {path} ")
        assert reason in refused.json()["detail"]
        assert "root-secret" not in refused.text

    created = api.post(
        "/api/v1/mailboxes",
        json=_body(imap_account, "shop", password_file=f"{secrets}/x/../shop"),
        headers=admin,
    )
    assert created.status_code == 201, created.text
    report = api.post("/api/v1/mailboxes/shop/test", headers=admin).json()
    assert report["ok"] is True, report


# --- mailboxes stored before the rules -----------------------------------------------------------


def test_a_stored_mailbox_naming_a_forbidden_secret_fails_with_the_rule(
    app_with: Callable[..., TestClient],
    admin: dict[str, str],
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As an older slawatch stored it: its password is the database URL.
    monkeypatch.setenv("SLAWATCH_DATABASE_URL", database_url)
    values = _body(imap_account, "legacy", password_env="SLAWATCH_DATABASE_URL")
    with session_scope(session_factory) as db:
        db.add(Mailbox(name="legacy", source="api", settings=values, enabled=True))
    api = app_with()
    report = api.post("/api/v1/mailboxes/legacy/test", headers=admin).json()
    (step,) = report["steps"]
    assert (step["step"], step["ok"], step["error_kind"]) == ("read the password", False, "config")
    assert "SLAWATCH_DATABASE_URL holds the database URL" in step["detail"]
    assert database_url not in str(report)

    settings = Settings(database_url=database_url)
    with session_factory() as db:
        (mailbox,) = registry.active(db, settings)
    assert isinstance(mailbox, ApiMailbox)
    polled = poll_mailbox(
        session_factory, mailbox, sla=settings.sla, logins=Logins(session_factory, settings)
    )
    assert polled.error_kind == "config"
    assert polled.error and "one of slawatch's own secrets" in polled.error

    # Any change must fix it too.
    changed = api.patch("/api/v1/mailboxes/legacy", json={"poll_seconds": 90}, headers=admin)
    assert changed.status_code == 422 and "SLAWATCH_DATABASE_URL" in changed.text


# --- private hosts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "problem"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "a private address"),
        ("10.1.2.3", "a private address"),
        ("192.168.0.10", "a private address"),
        ("169.254.169.254", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("0.0.0.0", "an unspecified address"),  # noqa: S104
        ("224.0.0.1", "a multicast address"),
        ("100.64.0.1", "not a public address"),
        ("2002:7f00:1::", "a loopback address"),
        ("8.8.8.8", None),
        ("::ffff:8.8.8.8", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_addresses_that_are_not_public(address: str, problem: str | None) -> None:
    assert address_problem(ipaddress.ip_address(address)) == problem


PRIVATE_OFF = ApiMailboxSettings(env_prefix="SLAWATCH_TEST_", allow_private_hosts=False)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"host": "127.0.0.1"}, "host: 127.0.0.1 is a loopback address"),
        ({"host": "localhost"}, "host: localhost resolves to "),
        (
            {"host": "::ffff:127.0.0.1", "security": "ssl"},
            "host: ::ffff:127.0.0.1 is a loopback address",
        ),
        (
            {"host": "8.8.8.8", "security": "ssl", "smtp_host": "10.0.0.5", "smtp_security": "ssl"},
            "smtp_host: 10.0.0.5 is a private address",
        ),
        ({"host": "169.254.169.254", "security": "ssl"}, "a link-local address"),
        ({"host": "no-such-host.invalid", "security": "ssl"}, "no-such-host.invalid does not"),
    ],
)
def test_private_hosts_are_refused_when_saved(
    app_with: Callable[..., TestClient],
    admin: dict[str, str],
    imap_account: ImapAccount,
    change: dict[str, Any],
    reason: str,
) -> None:
    api = app_with(api_mailboxes=PRIVATE_OFF)
    response = api.post(
        "/api/v1/mailboxes",
        json={**imap_account.settings(name="shop").model_dump(mode="json"), **change},
        headers=admin,
    )
    assert response.status_code == 422, response.text
    assert reason in response.json()["detail"]
    assert "allow_private_hosts = false" in response.json()["detail"]


def test_a_host_turned_private_is_refused_at_connect_time_and_never_connected_to(
    app_with: Callable[..., TestClient],
    admin: dict[str, str],
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> None:
    # A listener standing for an internal service: the refused test must not even connect.
    with socket.create_server(("127.0.0.1", 0)) as internal:
        internal.setblocking(False)
        port = internal.getsockname()[1]
        saved = app_with(api_mailboxes=ApiMailboxSettings(env_prefix="SLAWATCH_TEST_"))
        body = imap_account.settings(name="shop", host="localhost", port=port)
        created = saved.post("/api/v1/mailboxes", json=body.model_dump(mode="json"), headers=admin)
        assert created.status_code == 201, created.text

        # The operator turns private hosts off (the same as DNS now answering 127.0.0.1).
        strict = app_with(api_mailboxes=PRIVATE_OFF)
        report = strict.post("/api/v1/mailboxes/shop/test", headers=admin).json()
        (step,) = report["steps"]
        assert (step["step"], step["ok"], step["error_kind"]) == (
            "check the servers' addresses",
            False,
            "config",
        )
        assert step["detail"].startswith("mailbox 'shop': host: localhost resolves to ")
        assert "a loopback address" in step["detail"]

        settings = Settings(database_url=database_url, api_mailboxes=PRIVATE_OFF)
        with session_factory() as db:
            (mailbox,) = registry.active(db, settings)
        polled = poll_mailbox(
            session_factory, mailbox, sla=settings.sla, logins=Logins(session_factory, settings)
        )
        assert polled.error_kind == "config"
        assert polled.error and "a loopback address" in polled.error
        with pytest.raises(BlockingIOError):
            internal.accept()  # nobody knocked
