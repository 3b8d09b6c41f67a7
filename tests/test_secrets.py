"""Secrets never leak: a full run of `slawatch serve` at DEBUG, with mailboxes whose passwords come
from the environment and from a file, a wrong password, an SMTP login, sign-ins, API tokens and
the API, then every byte it logged, every response and the database file are searched for them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from app.config import ApiMailboxSettings, Settings, SmtpSettings, StatusSettings
from app.enums import Role
from app.main import create_app
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer
from tests.support.processes import ROOT, serving
from tests.support.smtp import SmtpServer

USER_PASSWORD = "correct-horse-battery-7731"
SMTP_PASSWORD = "smtp-secret-5519-qq"
WRONG_IMAP_PASSWORD = "wrong-imap-password-0042"


def _cli(args: list[str], env: dict[str, str], cwd: Path, stdin: str | None = None) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env=env,
        cwd=cwd,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    return result.stdout + result.stderr


def test_a_full_run_never_shows_a_password_or_token(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    imap_account.append("INBOX", [customer("Ada")])
    (tmp_path / "imap-password").write_text(imap_account.password + "\n")
    (tmp_path / "smtp-password").write_text(SMTP_PASSWORD + "\n")
    settings = imap_account.settings()
    config = f"""
database_url = "sqlite:///{tmp_path / "slawatch.db"}"
log_level = "DEBUG"
[smtp]
host = "{smtp_server.host}"
port = {smtp_server.port}
security = "plain"
username = "alerts@store.example"
password_file = "{tmp_path / "smtp-password"}"
from_address = "alerts@store.example"
[alerts]
recipients = ["team@store.example"]
[[mailboxes]]
name = "by-env"
host = "{settings.host}"
port = {settings.port}
security = "plain"
username = "{settings.username}"
password_env = "{settings.password_env}"
seller_addresses = ["support@store.example"]
[[mailboxes]]
name = "by-file"
host = "{settings.host}"
port = {settings.port}
security = "plain"
username = "{settings.username}"
password_file = "{tmp_path / "imap-password"}"
seller_addresses = ["support@store.example"]
[[mailboxes]]
name = "wrong"
host = "{settings.host}"
port = {settings.port}
security = "plain"
username = "{settings.username}"
password_env = "SLAWATCH_TEST_WRONG_IMAP"
seller_addresses = ["support@store.example"]
"""
    (tmp_path / "slawatch.toml").write_text(config)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLAWATCH_CONFIG": str(tmp_path / "slawatch.toml"),
        "SLAWATCH_TEST_WRONG_IMAP": WRONG_IMAP_PASSWORD,
        settings.password_env or "": imap_account.password,
    }
    output = _cli(["migrate"], env, tmp_path)
    output += _cli(["check-config"], env, tmp_path)
    created = _cli(
        ["users", "add", "owner", "--role", "admin", "--password-stdin"],
        env,
        tmp_path,
        stdin=f"{USER_PASSWORD}\n",
    )
    token = created.strip().splitlines()[-1]
    output += _cli(["poll", "--once"], env, tmp_path)
    log = tmp_path / "serve.log"
    responses: list[str] = []
    with serving(env, tmp_path, log=log, stop_within=60) as (_, base):
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as api:
            # The worker's first polls, the wrong password included, before the requests.
            deadline = time.monotonic() + 120
            while "mailbox wrong: poll failed" not in log.read_text(errors="replace"):
                assert time.monotonic() < deadline, "the wrong mailbox's poll did not fail"
                time.sleep(0.1)
            for path in (
                "/api/v1/mailboxes",
                "/api/v1/users",
                "/api/v1/me",
                "/api/v1/alerts",
                "/api/v1/audit",
                "/metrics",
                "/api/v1/summary",
            ):
                responses.append(api.get(path).text)
            responses.append(api.post("/api/v1/mailboxes/by-file/test").text)
            responses.append(api.post("/api/v1/mailboxes/wrong/test").text)
            # A wrong and a right sign-in through the page.
            with httpx.Client(base_url=base, timeout=30) as browser:
                for password in ("not-it", USER_PASSWORD):
                    form = browser.get("/login").text
                    csrf = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
                    responses.append(
                        browser.post(
                            "/login",
                            data={"username": "owner", "password": password, "csrf_token": csrf},
                        ).text
                    )
                responses.append(browser.get("/status").text)

    logged = output + log.read_text(errors="replace")
    assert "mailbox wrong" in logged or "wrong" in json.dumps(responses)  # the failure was seen
    assert "refused" in logged  # the wrong password was tried and reported
    database = b"".join(p.read_bytes() for p in tmp_path.glob("slawatch.db*") if p.is_file())
    for secret in (
        imap_account.password,
        WRONG_IMAP_PASSWORD,
        SMTP_PASSWORD,
        USER_PASSWORD,
        token,
    ):
        assert secret not in logged, f"a secret is in the logs: {secret[:4]}…"
        for body in responses:
            assert secret not in body, f"a secret is in a response: {secret[:4]}…"
        assert secret.encode() not in database, f"a secret is in the database: {secret[:4]}…"


def test_an_admin_token_cannot_have_slawatchs_secrets_sent_anywhere(
    database_url: str,
    make_token: Callable[[Role], str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Issue 14 (4): an API mailbox naming the server's own secrets is refused, whatever the
    prefix and directory allow, and nothing is ever sent to the host it names."""
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "token-key").write_text("the-token-key-0001\n")
    (secrets / "smtp").write_text(SMTP_PASSWORD + "\n")
    values = {
        "SLAWATCH_DATABASE_URL": database_url,
        "SLAWATCH_TOKEN_KEY": "the-token-key-0002",
        "SLAWATCH_METRICS": "the-metrics-token-0003",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    settings = Settings(
        database_url=database_url,
        token_key_file=str(secrets / "token-key"),
        smtp=SmtpSettings(username="alerts", password_file=str(secrets / "smtp")),
        status=StatusSettings(metrics_token_env="SLAWATCH_METRICS"),
        # As wide as an operator could open them: still not slawatch's own.
        api_mailboxes=ApiMailboxSettings(env_prefix="SLAWATCH_", secrets_dir=secrets),
    )
    attempts: list[dict[str, str]] = [{"password_env": name} for name in values]
    attempts += [
        {"password_env": "slawatch_database_url"},
        {"password_file": str(secrets / "token-key")},
        {"password_file": str(secrets / "smtp")},
        {"password_file": str(secrets / ".." / "secrets" / "smtp")},
    ]
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.setblocking(False)
        body = {
            "name": "probe",
            "host": "127.0.0.1",
            "port": listener.getsockname()[1],
            "security": "plain",
            "username": "attacker",
            "seller_addresses": ["a@shop.example"],
        }
        admin = {"Authorization": f"Bearer {make_token(Role.ADMIN)}"}
        seen: list[str] = []
        with TestClient(create_app(settings)) as api:
            for secret in attempts:
                response = api.post("/api/v1/mailboxes", json={**body, **secret}, headers=admin)
                assert response.status_code == 422, (secret, response.text)
                assert "one of slawatch's own secrets" in response.text
                seen.append(response.text)
            seen.append(api.post("/api/v1/mailboxes/probe/test", headers=admin).text)
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing was ever sent to the named host
    for text in seen:
        for secret in [*values.values(), SMTP_PASSWORD, "the-token-key-0001"]:
            assert secret not in text
