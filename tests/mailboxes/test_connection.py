"""The connection test (`POST /api/v1/mailboxes/{name}/test`, `slawatch mailboxes test NAME`):
every step reported, and each way a mailbox can fail named distinctly, against real servers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.config import Settings
from app.enums import Role
from app.mailboxes.connection import SMTP_OFF
from app.main import create_app
from tests.mailboxes.helpers import API_MAILBOXES, config_mailbox
from tests.support.dovecot import Dovecot, free_port
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer
from tests.support.oauth import OAuthSmtpServer
from tests.support.polling import run_cli, write_config
from tests.support.smtp import SmtpServer
from tests.support.web import auth

Report = dict[str, Any]


@pytest.fixture
def api(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[TestClient]:
    settings = Settings(
        database_url=database_url,
        mailboxes=[config_mailbox(imap_account, monkeypatch)],
        smtp=smtp_server.settings(),
        api_mailboxes=API_MAILBOXES,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture
def admin(make_token: Callable[[Role], str]) -> dict[str, str]:
    return auth(make_token(Role.ADMIN))


def _test(api: TestClient, admin: dict[str, str], account: ImapAccount, **settings: Any) -> Report:
    """Create an API mailbox with these settings and run its connection test."""
    name = f"m{free_port()}"
    body = {**account.settings(name=name).model_dump(mode="json", exclude_unset=True), **settings}
    created = api.post("/api/v1/mailboxes", json=body, headers=admin)
    assert created.status_code == 201, created.text
    response = api.post(f"/api/v1/mailboxes/{name}/test", headers=admin)
    assert response.status_code == 200, response.text
    report: Report = response.json()
    return report


def _failed(report: Report) -> tuple[str, str, str]:
    """The one failed step: (step, error kind, detail)."""
    assert report["ok"] is False
    (step,) = [s for s in report["steps"] if not s["ok"]]
    return step["step"], step["error_kind"], step["detail"]


def test_a_working_mailbox_passes_every_step(
    api: TestClient, admin: dict[str, str], imap_account: ImapAccount, smtp_server: SmtpServer
) -> None:
    imap_account.append("INBOX", [customer("Tess"), customer("Uma")])
    imap_account.append("Junk", [customer("Vic")])
    report = api.post("/api/v1/mailboxes/cfg/test", headers=admin).json()
    assert report["ok"] is True, report
    assert [s["step"] for s in report["steps"]] == [
        "read the password",
        "log in to IMAP",
        "find the inbox folder",
        "find the sent folder",
        "find the spam folder",
        "log in to SMTP",
    ]
    assert report["folders"] == {"inbox": "INBOX", "sent": "Sent", "spam": "Junk"}
    assert report["message_counts"] == {"inbox": 2, "sent": 0, "spam": 1}
    assert f"127.0.0.1:{smtp_server.port}" in report["steps"][-1]["detail"]
    assert smtp_server.recorder.messages == []  # the test sends nothing


def test_wrong_password(
    api: TestClient,
    admin: dict[str, str],
    imap_account: ImapAccount,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLAWATCH_TEST_WRONG_PW", "not-the-password")
    report = _test(api, admin, imap_account, password_env="SLAWATCH_TEST_WRONG_PW")
    step, kind, detail = _failed(report)
    assert (step, kind) == ("log in to IMAP", "auth")
    assert f"login as {imap_account.username!r} refused" in detail
    assert "not-the-password" not in str(report)


def test_missing_password(
    api: TestClient, admin: dict[str, str], imap_account: ImapAccount
) -> None:
    report = _test(api, admin, imap_account, password_env="SLAWATCH_TEST_UNSET_PW")
    step, kind, detail = _failed(report)
    assert (step, kind) == ("read the password", "config")
    assert "environment variable SLAWATCH_TEST_UNSET_PW (password_env) is not set" in detail
    assert len(report["steps"]) == 1  # nothing to log in with


def test_tls_failure(api: TestClient, admin: dict[str, str], imap_account: ImapAccount) -> None:
    # TLS spoken to a plaintext IMAP port: the handshake fails.
    report = _test(api, admin, imap_account, security="ssl")
    step, kind, detail = _failed(report)
    assert (step, kind) == ("log in to IMAP", "tls")
    assert detail.startswith(f"TLS handshake with 127.0.0.1:{imap_account.server.port} failed")


def test_unknown_host(api: TestClient, admin: dict[str, str], imap_account: ImapAccount) -> None:
    report = _test(api, admin, imap_account, host="no-such-host.invalid", security="ssl")
    step, kind, detail = _failed(report)
    assert (step, kind) == ("log in to IMAP", "network")
    assert detail.startswith("unknown host 'no-such-host.invalid'")


def test_nothing_listening(
    api: TestClient, admin: dict[str, str], imap_account: ImapAccount
) -> None:
    report = _test(api, admin, imap_account, port=free_port())
    step, kind, detail = _failed(report)
    assert (step, kind) == ("log in to IMAP", "network")
    assert "refused" in detail


def test_missing_folder(api: TestClient, admin: dict[str, str], imap_account: ImapAccount) -> None:
    report = _test(api, admin, imap_account, folders={"spam": "Spam Folder"})
    step, kind, detail = _failed(report)
    assert (step, kind) == ("read folders", "folder")
    assert "configured spam folder 'Spam Folder' does not exist" in detail
    assert "Junk" in detail  # the folders the server has, to pick from


def test_smtp_tls_failure_and_unknown_host(
    api: TestClient, admin: dict[str, str], imap_account: ImapAccount, smtp_server: SmtpServer
) -> None:
    tls = _test(
        api,
        admin,
        imap_account,
        smtp_host="127.0.0.1",
        smtp_port=smtp_server.port,
        smtp_security="ssl",
    )
    step, kind, detail = _failed(tls)
    assert (step, kind) == ("log in to SMTP", "tls")
    assert detail.startswith(f"TLS with 127.0.0.1:{smtp_server.port} failed")

    unknown = _test(
        api, admin, imap_account, smtp_host="smtp.no-such-host.invalid", smtp_security="ssl"
    )
    step, kind, detail = _failed(unknown)
    assert (step, kind) == ("log in to SMTP", "network")
    assert detail.startswith("unknown host 'smtp.no-such-host.invalid'")


def test_the_command_reports_each_step(
    imap_account: ImapAccount, smtp_server: SmtpServer, database_url: str, tmp_path: Path
) -> None:
    config = write_config(
        tmp_path / "slawatch.toml",
        database_url=database_url,
        mailboxes=[
            imap_account.settings(name="shop"),
            imap_account.settings(name="bad", port=free_port()),
        ],
    )
    config.write_text(
        config.read_text()
        + f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\nsecurity = "plain"\n'
    )
    good = run_cli("mailboxes", "test", "shop", config=config)
    assert good.returncode == 0, good.stderr
    lines = good.stdout.splitlines()
    assert lines[0] == f"ok   read the password: from {imap_account.password_env}"
    assert lines[1].startswith(f"ok   log in to IMAP: {imap_account.username} at 127.0.0.1:")
    assert lines[-1] == "connection OK"

    bad = run_cli("mailboxes", "test", "bad", config=config)
    assert bad.returncode == 1
    assert "FAIL log in to IMAP: connection to 127.0.0.1:" in bad.stdout
    assert "[network]" in bad.stdout and bad.stdout.endswith("connection test FAILED\n")

    unknown = run_cli("mailboxes", "test", "nope", config=config)
    assert unknown.returncode == 2 and "no mailbox named 'nope'" in unknown.stderr


def test_smtp_login_with_the_mailbox_password_right_and_wrong(
    api: TestClient,
    admin: dict[str, str],
    dovecot: Dovecot,
    oauth_smtp_server: OAuthSmtpServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Replies go through the mailbox's own SMTP server, signed in as the mailbox.
    smtp = oauth_smtp_server
    dovecot.add_user(smtp.username, smtp.password)
    monkeypatch.setenv("SLAWATCH_TEST_SMTP_PW", smtp.password)
    account = ImapAccount(dovecot, smtp.username, smtp.password, "SLAWATCH_TEST_SMTP_PW")
    server = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_security": "plain"}
    good = _test(api, admin, account, **server)
    assert good["ok"] is True, good
    assert good["steps"][-1]["detail"] == f"127.0.0.1:{smtp.port} (plain) as {smtp.username}"
    assert smtp.handler.logins and smtp.handler.messages == []

    # The same account under another address the SMTP server does not know.
    dovecot.add_user("other@example.test", smtp.password)
    other = ImapAccount(dovecot, "other@example.test", smtp.password, "SLAWATCH_TEST_SMTP_PW")
    step, kind, detail = _failed(_test(api, admin, other, **server))
    assert (step, kind) == ("log in to SMTP", "auth")
    assert detail.startswith("login as 'other@example.test' refused by 127.0.0.1: ")
    assert smtp.password not in detail


def test_without_smtp_the_test_passes_saying_smtp_is_not_configured(
    imap_account: ImapAccount,
    database_url: str,
    tmp_path: Path,
    make_token: Callable[[Role], str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A seller who replies from their own mail client configures no [smtp] at all.
    config = write_config(
        tmp_path / "slawatch.toml",
        database_url=database_url,
        mailboxes=[imap_account.settings(name="shop")],
    )
    tested = run_cli("mailboxes", "test", "shop", config=config)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    lines = tested.stdout.splitlines()
    assert lines[-2] == f"ok   check SMTP: {SMTP_OFF}"
    assert lines[-1] == "connection OK"
    checked = run_cli("check-config", config=config)
    assert checked.returncode == 0, checked.stderr
    assert "smtp: not configured (no [smtp] section)" in checked.stdout

    settings = Settings(
        database_url=database_url, mailboxes=[config_mailbox(imap_account, monkeypatch)]
    )
    with TestClient(create_app(settings)) as api:
        response = api.post("/api/v1/mailboxes/cfg/test", headers=auth(make_token(Role.ADMIN)))
    report = response.json()
    assert report["ok"] is True, report
    assert report["steps"][-1] == {
        "step": "check SMTP",
        "ok": True,
        "detail": SMTP_OFF,
        "error_kind": None,
    }
