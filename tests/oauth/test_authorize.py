"""`slawatch mailboxes authorize NAME` as an operator runs it on a headless server: the device
code typed on another device, or the browser flow with the redirect caught on loopback or pasted
back. Each ends with the grant stored encrypted and the connection test passing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.models import OAuthGrant
from tests.support.oauth import OAuthAccount, OAuthSmtpServer
from tests.support.polling import ROOT, write_config

CODE_LINE = re.compile(r"open (\S+) and enter the code (\S+)")
URL_LINE = re.compile(r"^\s+(http\S+)")


@pytest.fixture
def config(
    tmp_path: Path,
    database_url: str,
    oauth_account: OAuthAccount,
    oauth_smtp_server: OAuthSmtpServer,
    oauth_secrets: str,
) -> Path:
    return write_config(
        tmp_path / "slawatch.toml",
        database_url=database_url,
        mailboxes=[oauth_account.settings(oauth_smtp_server)],
    )


@pytest.fixture
def browser_config(
    tmp_path: Path,
    database_url: str,
    oauth_account: OAuthAccount,
    oauth_smtp_server: OAuthSmtpServer,
    oauth_secrets: str,
) -> Path:
    # Without a device endpoint the browser flow is used, as for Google.
    mailbox = oauth_account.settings(oauth_smtp_server, oauth_device_url=None)
    return write_config(tmp_path / "slawatch.toml", database_url=database_url, mailboxes=[mailbox])


@pytest.fixture
def authorize() -> Iterator[Callable[[Path], subprocess.Popen[str]]]:
    """Starts `slawatch mailboxes authorize oauth-shop`; whatever still runs is killed after."""
    started: list[subprocess.Popen[str]] = []

    def start(config: Path) -> subprocess.Popen[str]:
        command = ["mailboxes", "authorize", "oauth-shop"]
        started.append(
            subprocess.Popen(
                [sys.executable, "-m", "app.cli", "--config", str(config), *command],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                cwd=ROOT,
            )
        )
        return started[-1]

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def read_until(process: subprocess.Popen[str], pattern: re.Pattern[str]) -> re.Match[str]:
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        match = pattern.search(line)
        if match:
            return match
    raise AssertionError(f"not printed: {pattern.pattern}; output: {''.join(seen)}")


def assert_authorised(
    process: subprocess.Popen[str], session_factory: sessionmaker[Session], secret: str
) -> str:
    out, err = process.communicate(timeout=60)
    assert process.returncode == 0, out + err
    assert "mailbox oauth-shop authorised" in out
    assert out.rstrip().endswith("connection OK")
    with session_factory() as db:
        row = db.scalars(select(OAuthGrant)).one()
        assert row.refused_at is None and secret not in row.refresh_token
    return out


def test_device_flow_on_a_headless_server(
    config: Path,
    oauth_account: OAuthAccount,
    oauth_smtp_server: OAuthSmtpServer,
    session_factory: sessionmaker[Session],
    authorize: Callable[[Path], subprocess.Popen[str]],
) -> None:
    provider = oauth_account.provider
    process = authorize(config)
    url, user_code = read_until(process, CODE_LINE).groups()
    assert url == provider.verification_url
    provider.approve_device(user_code, oauth_account.username)  # on the person's phone
    out = assert_authorised(process, session_factory, secret=user_code)
    assert "ok   log in to IMAP" in out and "ok   log in to SMTP" in out
    assert oauth_smtp_server.handler.logins == [(oauth_account.username, "XOAUTH2")]


def test_a_declined_device_sign_in_stores_nothing(
    config: Path,
    oauth_account: OAuthAccount,
    session_factory: sessionmaker[Session],
    authorize: Callable[[Path], subprocess.Popen[str]],
) -> None:
    process = authorize(config)
    _, user_code = read_until(process, CODE_LINE).groups()
    oauth_account.provider.deny_device(user_code)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert "the sign-in was not completed (access_denied" in err
    with session_factory() as db:
        assert db.scalars(select(OAuthGrant)).all() == []


def test_browser_flow_with_the_redirect_caught_on_loopback(
    browser_config: Path,
    oauth_account: OAuthAccount,
    session_factory: sessionmaker[Session],
    authorize: Callable[[Path], subprocess.Popen[str]],
) -> None:
    process = authorize(browser_config)
    (url,) = read_until(process, URL_LINE).groups()
    # The browser on this machine: the provider sends it on to the command's loopback listener.
    landed = httpx.get(url, follow_redirects=True)
    assert landed.status_code == 200 and "you can close this page" in landed.text
    assert_authorised(process, session_factory, secret="code=")
    (request,) = oauth_account.provider.authorization_requests
    assert request["code_challenge_method"] == "S256" and request["access_type"] == "offline"


def test_browser_flow_with_the_address_pasted_from_another_device(
    browser_config: Path,
    oauth_account: OAuthAccount,
    session_factory: sessionmaker[Session],
    authorize: Callable[[Path], subprocess.Popen[str]],
) -> None:
    process = authorize(browser_config)
    (url,) = read_until(process, URL_LINE).groups()
    # The browser elsewhere: its last page does not load; the person copies the address.
    consent = httpx.get(url, follow_redirects=False)
    redirect = consent.headers["location"]
    assert redirect.startswith("http://127.0.0.1:")
    assert process.stdin is not None
    process.stdin.write("not the right address\n" + redirect + "\n")
    process.stdin.flush()
    out = assert_authorised(process, session_factory, secret="code=")
    assert "that address holds no authorization code" in out or "state differs" in out
