"""TLS for real: a Dovecot and aiosmtpd serving certificates of a test CA, implicit TLS and
STARTTLS, trusted through ``tls_ca_file``; a wrong CA and a wrong host name each fail with kind
``tls`` and a reason that names the cause (poll health, the connection test, sending)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import MailboxSettings, Settings, SmtpSettings, load_settings
from app.enums import Role
from app.mail import smtp
from app.mail.credentials import PasswordLogin
from app.mail.imap import ImapMailbox
from app.mail.imap_errors import ImapError
from app.mail.tls import default_tls_context, tls_context
from app.mailboxes import connection
from app.main import create_app
from app.oauth.grants import Logins
from tests.support.ci import unavailable
from tests.support.dovecot import DOVECOT, Dovecot
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer, message_id_of
from tests.support.polling import poll, run_cli, stored_message_ids, write_config
from tests.support.tls_certs import ServerCert, TestCA
from tests.support.tls_smtp import TlsSmtpServer, serving_tls_smtp
from tests.support.web import auth

Security = Literal["ssl", "starttls"]
SECURITIES: list[Security] = ["ssl", "starttls"]
# TLS has nothing to do with the database: one backend is enough for the polls here.
SQLITE_ONLY = pytest.mark.parametrize("migrated_database", ["sqlite"], indirect=True)

UNTRUSTED = "the server's certificate is not signed by a trusted CA (certificate verify failed: "
WRONG_NAME = "the certificate is for another host name ("


class Certs:
    """The trusted CA and its certificates, and a second CA nobody here trusts."""

    def __init__(self, directory: Path) -> None:
        self.ca = TestCA(directory, "trusted")
        self.other_ca = TestCA(directory, "other")
        self.server = self.ca.issue("localhost", "127.0.0.1")
        self.wrong_name = self.ca.issue("mail.example.test")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    directory = tmp_path_factory.mktemp("tls")
    directory.chmod(0o755)  # Dovecot reads the certificate as its own user
    return Certs(directory)


def _dovecot(cert: ServerCert) -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        unavailable(f"Dovecot is not installed ({DOVECOT}; apt-get install dovecot-imapd)")
    server = Dovecot(tls=cert)
    server.start()
    yield server
    server.cleanup()


@pytest.fixture(scope="module")
def tls_dovecot(certs: Certs) -> Iterator[Dovecot]:
    """Implicit TLS on ``ssl_port``, STARTTLS on ``port``, a certificate for localhost and
    127.0.0.1 signed by the test CA."""
    yield from _dovecot(certs.server)


@pytest.fixture(scope="module")
def wrong_name_dovecot(certs: Certs) -> Iterator[Dovecot]:
    """The same CA's certificate, but only for mail.example.test."""
    yield from _dovecot(certs.wrong_name)


def _account(server: Dovecot, monkeypatch: pytest.MonkeyPatch) -> TlsAccount:
    name = f"tls{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    server.add_user(f"{name}@test.example", password)
    env = f"SLAWATCH_TEST_PW_{name.upper()}"
    monkeypatch.setenv(env, password)
    return TlsAccount(server, f"{name}@test.example", password, env)


class TlsAccount(ImapAccount):
    """An account on a TLS Dovecot: ``tls_settings`` connect with TLS; mail is appended in plain."""

    def tls_settings(self, security: Security, **overrides: Any) -> MailboxSettings:
        port = self.server.ssl_port if security == "ssl" else self.server.port
        return self.settings(security=security, port=port, timeout_seconds=30, **overrides)


@pytest.fixture
def account(tls_dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> TlsAccount:
    return _account(tls_dovecot, monkeypatch)


@pytest.fixture
def wrong_name_account(wrong_name_dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> TlsAccount:
    return _account(wrong_name_dovecot, monkeypatch)


@pytest.fixture(params=SECURITIES)
def smtp_server(request: pytest.FixtureRequest, certs: Certs) -> Iterator[TlsSmtpServer]:
    with serving_tls_smtp(certs.server, request.param) as server:
        yield server


def _logins() -> Logins:
    # Password mailboxes only: the session factory (for OAuth2 grants) is never used.
    return Logins(sessionmaker(), Settings())


def _sign_in_failure(settings: MailboxSettings) -> ImapError:
    """The error of connecting and signing in with ``settings``, which must fail."""
    with pytest.raises(ImapError) as failed:  # noqa: SIM117 (the error of entering it)
        with ImapMailbox.for_settings(settings, _logins().for_mailbox(settings)):
            pass
    return failed.value


def _smtp_settings(server: TlsSmtpServer, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "security": server.security,
        "username": server.handler.username,
        "password_env": "SLAWATCH_TEST_TLS_SMTP_PW",
        "timeout_seconds": 30,
    }
    return SmtpSettings(**{**values, **overrides})


@pytest.fixture(autouse=True)
def _smtp_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLAWATCH_TEST_TLS_SMTP_PW", "smtp-password")


def _reply() -> EmailMessage:
    message = EmailMessage()
    message["From"] = "support@store.example"
    message["To"] = "buyer@relay.walmart.com"
    message["Subject"] = "Re: your order"
    message.set_content("It ships today.")
    return message


# --- IMAP: a poll over TLS ----------------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize("security", SECURITIES)
def test_a_poll_over_tls_with_a_private_ca_stores_the_mail(
    security: Security,
    account: TlsAccount,
    certs: Certs,
    session_factory: sessionmaker[Session],
) -> None:
    mail = customer("Tess")
    account.append("INBOX", [mail])
    settings = account.tls_settings(security, tls_ca_file=str(certs.ca.ca_file))
    report = poll(session_factory, settings)
    assert report.ok, report.error
    assert stored_message_ids(session_factory) == [message_id_of(mail)]
    # Dovecot's own word that the poll's session was encrypted.
    assert _logged_in_over_tls(account)


def _logged_in_over_tls(account: TlsAccount) -> bool:
    """Dovecot logs each login with ", TLS," when the session is encrypted; its log process may
    write a moment after the login, so wait for the line."""
    log = account.server.base / "dovecot.log"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        logins = [
            line
            for line in log.read_text(errors="replace").splitlines()
            if f"Login: user=<{account.username}>" in line
        ]
        # The first login is the plain one that appended the mail; the poll's comes after.
        if len(logins) >= 2:
            return all(", TLS," in line for line in logins[1:])
        time.sleep(0.1)
    return False


@SQLITE_ONLY
@pytest.mark.parametrize("security", SECURITIES)
def test_a_poll_without_the_private_ca_names_the_untrusted_certificate(
    security: Security,
    account: TlsAccount,
    session_factory: sessionmaker[Session],
) -> None:
    account.append("INBOX", [customer("Uma")])
    report = poll(session_factory, account.tls_settings(security))  # the system's CAs only
    assert report.error_kind == "tls"
    port = account.tls_settings(security).imap_port
    assert report.error is not None
    assert report.error.startswith(f"TLS handshake with 127.0.0.1:{port} failed: {UNTRUSTED}")
    assert report.error.endswith("; set tls_ca_file if it uses a private CA")
    assert stored_message_ids(session_factory) == []


@pytest.mark.parametrize("security", SECURITIES)
def test_another_ca_is_refused(security: Security, account: TlsAccount, certs: Certs) -> None:
    other = str(certs.other_ca.ca_file)
    settings = account.tls_settings(security, tls_ca_file=other)
    failed = _sign_in_failure(settings)
    assert failed.kind == "tls"
    assert UNTRUSTED + "unable to get local issuer certificate); " in failed.reason
    assert failed.reason.endswith(f"check that tls_ca_file {other} holds the CA that signed it")


@pytest.mark.parametrize("security", SECURITIES)
@pytest.mark.parametrize(
    ("host", "mismatch"),
    [
        ("127.0.0.1", "IP address mismatch, certificate is not valid for '127.0.0.1'"),
        ("localhost", "Hostname mismatch, certificate is not valid for 'localhost'"),
    ],
)
def test_a_certificate_for_another_host_name_is_refused(
    security: Security, host: str, mismatch: str, wrong_name_account: TlsAccount, certs: Certs
) -> None:
    settings = wrong_name_account.tls_settings(
        security, host=host, tls_ca_file=str(certs.ca.ca_file)
    )
    failed = _sign_in_failure(settings)
    assert failed.kind == "tls"
    assert f"{WRONG_NAME}{mismatch})" in failed.reason


def test_a_ca_file_that_cannot_be_loaded_is_a_config_error(
    account: TlsAccount, tmp_path: Path
) -> None:
    # Valid when the settings were read, gone bad since: named, and no connection attempted.
    broken = tmp_path / "ca.pem"
    broken.write_text("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    settings = account.tls_settings("ssl", tls_ca_file=str(broken))
    failed = _sign_in_failure(settings)
    assert failed.kind == "config"
    assert failed.reason.startswith(f"tls_ca_file {broken}: cannot load its CA certificates")

    # The same for SMTP: the mailbox's own server shares the file.
    own = account.tls_settings("ssl", tls_ca_file=str(broken), smtp_host="127.0.0.1").smtp()
    assert own is not None
    with pytest.raises(smtp.SmtpError) as refused:
        smtp.check_login(own)
    assert refused.value.kind == "config"
    assert refused.value.reason.startswith(f"tls_ca_file {broken}: cannot load")


# --- SMTP: sending over TLS ---------------------------------------------------------------------


def test_a_reply_is_sent_over_tls_with_a_private_ca(
    smtp_server: TlsSmtpServer, certs: Certs
) -> None:
    settings = _smtp_settings(smtp_server, tls_ca_file=str(certs.ca.ca_file))
    smtp.send(settings, _reply(), recipients=["buyer@relay.walmart.com"])
    assert [rcpt for rcpt, _ in smtp_server.handler.messages] == [["buyer@relay.walmart.com"]]
    assert smtp_server.handler.encrypted == [True]
    assert smtp_server.handler.signed_in == [True]


def test_sending_with_another_ca_names_the_untrusted_certificate(
    smtp_server: TlsSmtpServer, certs: Certs
) -> None:
    settings = _smtp_settings(smtp_server, tls_ca_file=str(certs.other_ca.ca_file))
    with pytest.raises(smtp.SmtpError) as failed:
        smtp.send(settings, _reply(), recipients=["buyer@relay.walmart.com"])
    assert failed.value.kind == "tls"
    assert failed.value.reason.startswith(
        f"TLS with 127.0.0.1:{smtp_server.port} failed: {UNTRUSTED}"
    )
    assert smtp_server.handler.messages == []

    # Without tls_ca_file (the system's CAs), the hint is to set it.
    with pytest.raises(smtp.SmtpError) as failed:
        smtp.send(_smtp_settings(smtp_server), _reply(), recipients=["buyer@relay.walmart.com"])
    assert failed.value.reason.endswith("set tls_ca_file if it uses a private CA")


@pytest.mark.parametrize("security", SECURITIES)
def test_sending_to_a_certificate_for_another_host_name_is_refused(
    security: Security, certs: Certs
) -> None:
    with serving_tls_smtp(certs.wrong_name, security) as server:
        settings = _smtp_settings(server, tls_ca_file=str(certs.ca.ca_file))
        with pytest.raises(smtp.SmtpError) as failed:
            smtp.check_login(settings)
        assert failed.value.kind == "tls"
        assert failed.value.reason == (
            f"TLS with 127.0.0.1:{server.port} failed: {WRONG_NAME}IP address mismatch, "
            "certificate is not valid for '127.0.0.1'); connect to a name the certificate lists"
        )


# --- the connection test: API, command, and the mailbox's own SMTP server --------------------


@pytest.mark.parametrize("security", SECURITIES)
def test_the_connection_test_and_a_reply_pass_over_tls(
    security: Security, account: TlsAccount, certs: Certs
) -> None:
    # The mailbox's CA file serves its IMAP server and its own SMTP server alike; that server
    # takes the mailbox's own login.
    account.append("INBOX", [customer("Vic")])
    with serving_tls_smtp(
        certs.server, security, username=account.username, password=account.password
    ) as server:
        settings = account.tls_settings(
            security,
            tls_ca_file=str(certs.ca.ca_file),
            smtp_host="127.0.0.1",
            smtp_port=server.port,
            smtp_security=security,
        )
        report = connection.test(settings, logins=_logins(), default_smtp=SmtpSettings())
        assert report.ok, report
        assert report.message_counts == {"inbox": 1, "sent": 0, "spam": 0}
        assert report.steps[-1].detail == (
            f"127.0.0.1:{server.port} ({security}) as {account.username}"
        )

        own = settings.smtp()
        assert own is not None
        smtp.send(
            own,
            _reply(),
            recipients=["buyer@relay.walmart.com"],
            login=PasswordLogin(account.username, settings.password()),
        )
        assert len(server.handler.messages) == 1
        assert server.handler.encrypted == [True] and server.handler.signed_in == [True]


@SQLITE_ONLY
def test_the_api_connection_test_names_a_wrong_ca_for_imap_and_smtp(
    account: TlsAccount,
    certs: Certs,
    database_url: str,
    make_token: Callable[[Role], str],
) -> None:
    other = str(certs.other_ca.ca_file)
    mailbox = account.tls_settings("ssl", name="tls-shop", tls_ca_file=other)
    with serving_tls_smtp(certs.server, "starttls") as server:
        settings = Settings(
            database_url=database_url,
            mailboxes=[mailbox],
            smtp=_smtp_settings(server, tls_ca_file=other),
        )
        with TestClient(create_app(settings)) as client:
            response = client.post(
                "/api/v1/mailboxes/tls-shop/test", headers=auth(make_token(Role.ADMIN))
            )
    assert response.status_code == 200, response.text
    report = response.json()
    failed = {s["step"]: (s["error_kind"], s["detail"]) for s in report["steps"] if not s["ok"]}
    assert set(failed) == {"log in to IMAP", "log in to SMTP"}, report
    for kind, detail in failed.values():
        assert kind == "tls"
        assert UNTRUSTED in detail and detail.endswith(
            f"tls_ca_file {other} holds the CA that signed it"
        )


@SQLITE_ONLY
def test_the_command_names_a_wrong_host_name(
    wrong_name_account: TlsAccount, certs: Certs, database_url: str, tmp_path: Path
) -> None:
    mailbox = wrong_name_account.tls_settings(
        "starttls", name="shop", tls_ca_file=str(certs.ca.ca_file)
    )
    config = write_config(
        tmp_path / "slawatch.toml", database_url=database_url, mailboxes=[mailbox]
    )
    result = run_cli("mailboxes", "test", "shop", config=config)
    assert result.returncode == 1, result.stderr
    assert (
        f"FAIL log in to IMAP: TLS handshake with 127.0.0.1:{mailbox.imap_port} failed: "
        f"{WRONG_NAME}IP address mismatch, certificate is not valid for '127.0.0.1')"
    ) in result.stdout
    assert "[tls]" in result.stdout


# --- the setting itself -------------------------------------------------------------------------


def test_the_context_is_built_once_per_ca_file(certs: Certs) -> None:
    trusted, other = str(certs.ca.ca_file), str(certs.other_ca.ca_file)
    assert tls_context(trusted) is tls_context(trusted)
    assert tls_context(other) is not tls_context(trusted)
    assert tls_context(None) is default_tls_context()
    for context in (tls_context(trusted), tls_context(None)):
        # Never weakened: the chain and the host name are checked with a private CA too.
        assert context.check_hostname and context.verify_mode.name == "CERT_REQUIRED"


def test_a_missing_or_unreadable_ca_file_is_refused_naming_the_key(tmp_path: Path) -> None:
    not_pem = tmp_path / "notes.txt"
    not_pem.write_text("hello\n")
    config = tmp_path / "slawatch.toml"
    config.write_text(
        "[[mailboxes]]\n"
        'name = "shop"\nhost = "imap.example.com"\nusername = "support@store.example"\n'
        'password_env = "SHOP_PW"\n'
        f'tls_ca_file = "{tmp_path / "missing.pem"}"\n'
        "[[mailboxes]]\n"
        'name = "other"\nhost = "imap.example.com"\nusername = "support@store.example"\n'
        'password_env = "SHOP_PW"\n'
        f'tls_ca_file = "{tmp_path}"\n'
        f'[smtp]\nhost = "smtp.example.com"\ntls_ca_file = "{not_pem}"\n'
    )
    with pytest.raises(Exception) as failed:
        load_settings(config)
    problems = str(failed.value)
    assert (
        f"mailboxes[0].tls_ca_file: cannot read the CA file {tmp_path / 'missing.pem'}: "
        "No such file or directory"
    ) in problems
    assert f"mailboxes[1].tls_ca_file: the CA file {tmp_path} is not a regular file" in problems
    assert f"smtp.tls_ca_file: {not_pem} holds no PEM certificate" in problems
