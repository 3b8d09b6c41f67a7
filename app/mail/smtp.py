"""Sending one message over SMTP (SSL, STARTTLS or plain on loopback), with a timeout, signed in
with a password or OAuth2 (SASL XOAUTH2)."""

from __future__ import annotations

import logging
import re
import smtplib
import socket
import ssl
from email.message import EmailMessage
from typing import Literal

from pydantic import SecretStr

from app.config import SmtpSettings
from app.errors import ConfigError, MailError
from app.mail.credentials import CredentialsError, Login, OAuthLogin, PasswordLogin, xoauth2_string
from app.mail.tls import describe_tls_failure, tls_context

log = logging.getLogger(__name__)

SmtpErrorKind = Literal["auth", "reauthorize", "tls", "network", "config", "refused"]


class SmtpError(MailError):
    """The message was not accepted; ``reason`` says why in words a person can act on, ``kind``
    what to check: auth (username or password), reauthorize (OAuth2 sign-in), tls, network
    (unknown host, refused or silent connection), config (a missing secret) or refused (the
    server declined the message or a recipient)."""

    kind: SmtpErrorKind

    def __init__(self, reason: str, *, kind: SmtpErrorKind = "refused") -> None:
        super().__init__(kind, reason)


class SmtpOutcomeUnknown(SmtpError):
    """The connection broke after the whole message was handed over, before the server said
    whether it took it: the message may have been delivered. Never retried by itself."""


class _HandOverTracking(smtplib.SMTP):
    """smtplib's DATA step, marking the moment the whole message has gone out (after the
    server's 354 and the final dot): a failure before it means nothing was delivered, a failure
    after it leaves the outcome unknown."""

    handed_over = False

    def data(self, msg: bytes | str) -> tuple[int, bytes]:  # type: ignore[override]
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        raw = msg.encode("ascii") if isinstance(msg, str) else msg
        raw = re.sub(rb"(?m)^\.", b"..", raw)  # dot-stuffing (RFC 5321 4.5.2)
        if not raw.endswith(b"\r\n"):
            raw += b"\r\n"
        self.send(raw + b".\r\n")
        self.handed_over = True
        return self.getreply()


class _HandOverTrackingSsl(_HandOverTracking, smtplib.SMTP_SSL):
    pass


class SmtpSession:
    """One SMTP connection for several messages, opened at the first send. After a failure of the
    connection itself, the following sends fail at once with the same reason instead of each
    waiting for its own timeout; a refused message does not stop the others."""

    def __init__(self, settings: SmtpSettings, login: Login | None = None) -> None:
        """``login`` None: the password of ``settings``, if it has a username."""
        self._settings = settings
        self._login = login
        self._client: _HandOverTracking | None = None
        self._broken: SmtpError | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *_: object) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _connect(self) -> _HandOverTracking:
        s = self._settings
        # A CA file that cannot be loaded is a ConfigError, reported by connect() as such.
        context = tls_context(s.tls_ca_file)
        client: _HandOverTracking
        if s.security == "ssl":
            client = _HandOverTrackingSsl(
                s.host, s.smtp_port, timeout=s.timeout_seconds, context=context
            )
        else:
            client = _HandOverTracking(s.host, s.smtp_port, timeout=s.timeout_seconds)
        try:
            if s.security == "starttls":
                client.starttls(context=context)
            login = self._login or self._password_login()
            if isinstance(login, OAuthLogin):
                _sign_in_oauth2(client, login)
            elif login is not None:
                client.login(login.username, login.password.get_secret_value())
        except BaseException:
            client.close()
            raise
        return client

    def _password_login(self) -> PasswordLogin | None:
        password = self._settings.password()
        if self._settings.username and password is not None:
            return PasswordLogin(self._settings.username, password)
        return None

    def send(self, message: EmailMessage, *, recipients: list[str]) -> None:
        """Hand ``message`` to the server for ``recipients`` (the envelope, not the headers)."""
        client = self._client or self.connect()
        client.handed_over = False
        try:
            refused = client.send_message(message, to_addrs=recipients)
        except smtplib.SMTPResponseException as e:
            raise _error(self._settings, e) from e  # the server answered: a refusal
        except (smtplib.SMTPException, OSError) as e:
            self._broken = _error(self._settings, e)
            if client.handed_over:
                raise SmtpOutcomeUnknown(
                    f"{self._broken.reason}, after the whole message was handed over: the "
                    "server may have accepted it",
                    kind="network",
                ) from e
            raise self._broken from e
        if refused:
            raise SmtpError(
                f"{self._settings.host} refused recipients: {', '.join(sorted(refused))}"
            )

    def connect(self) -> _HandOverTracking:
        """The signed-in connection (opened once); a failure is kept for later sends."""
        if self._broken:
            raise SmtpError(self._broken.reason, kind=self._broken.kind)
        if self._client is not None:
            return self._client
        try:
            self._client = self._connect()
        except (smtplib.SMTPException, OSError) as e:
            self._broken = _error(self._settings, e)
        except CredentialsError as e:
            self._broken = SmtpError(e.reason, kind=e.kind)
        except ConfigError as e:
            self._broken = SmtpError(str(e), kind="config")
        except Exception as e:  # nothing was sent yet: whatever failed, the message can wait
            log.exception("SMTP sign-in to %s failed", self._settings.host)
            self._broken = SmtpError(f"signing in to {self._settings.host} failed: {e}")
        if self._broken:
            raise SmtpError(self._broken.reason, kind=self._broken.kind)
        assert self._client is not None
        return self._client


def send(
    settings: SmtpSettings,
    message: EmailMessage,
    *,
    recipients: list[str],
    login: Login | None = None,
) -> None:
    """Send one message on a connection of its own."""
    with SmtpSession(settings, login) as session:
        session.send(message, recipients=recipients)


def _sign_in_oauth2(client: smtplib.SMTP, login: OAuthLogin) -> None:
    """AUTH XOAUTH2, once more with a renewed token if the server refuses the first."""
    token = login.tokens.current()
    try:
        _xoauth2(client, login.username, token)
        return
    except smtplib.SMTPAuthenticationError:
        pass
    token = login.tokens.renewed(token)
    try:
        _xoauth2(client, login.username, token)
    except smtplib.SMTPAuthenticationError as e:
        raise CredentialsError(
            "reauthorize",
            f"the SMTP server refused OAuth2 sign-in as {login.username!r} even with a fresh "
            f"token ({_reply(e)}): re-authorise the mailbox, and check SMTP AUTH is enabled "
            "for the account",
        ) from e


def _xoauth2(client: smtplib.SMTP, username: str, token: SecretStr) -> None:
    client.ehlo_or_helo_if_needed()
    offered = client.esmtp_features.get("auth", "").upper().split()
    if "XOAUTH2" not in offered:
        raise CredentialsError(
            "config",
            f"the SMTP server does not offer OAuth2 sign-in (AUTH {' '.join(offered) or 'none'}); "
            "check smtp_host, smtp_port and smtp_security",
        )

    def respond(challenge: bytes | None = None) -> str:
        # A challenge after the token is the server's error report: answer it with an empty
        # line, and the server ends the exchange with its refusal (RFC 7628).
        return xoauth2_string(username, token) if challenge is None else ""

    client.auth("XOAUTH2", respond, initial_response_ok=True)


def check_login(settings: SmtpSettings, login: Login | None = None) -> None:
    """Connect and sign in, then leave without sending anything (the connection test)."""
    with SmtpSession(settings, login) as session:
        session.connect()


def _error(settings: SmtpSettings, error: Exception) -> SmtpError:
    host, port = settings.host, settings.smtp_port
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return SmtpError(
            f"login as {settings.username!r} refused by {host}: {_reply(error)}", kind="auth"
        )
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return SmtpError(f"{host} refused recipients: {', '.join(sorted(error.recipients))}")
    if isinstance(error, smtplib.SMTPResponseException):
        return SmtpError(f"{host} answered {error.smtp_code}: {_reply(error)}")
    if isinstance(error, smtplib.SMTPNotSupportedError):
        return SmtpError(f"{host}: {error}", kind="config")
    if isinstance(error, smtplib.SMTPException):
        return SmtpError(f"{host}: {error}", kind="network")
    if isinstance(error, ssl.SSLError):
        why = describe_tls_failure(error, ca_file=settings.tls_ca_file)
        return SmtpError(f"TLS with {host}:{port} failed: {why}", kind="tls")
    if isinstance(error, socket.gaierror):
        return SmtpError(f"unknown host {host!r} ({error.strerror})", kind="network")
    if isinstance(error, TimeoutError):
        return SmtpError(f"{host}:{port} did not answer in time", kind="network")
    if isinstance(error, ConnectionRefusedError):
        return SmtpError(f"connection to {host}:{port} refused", kind="network")
    return SmtpError(f"connection to {host}:{port} failed: {error}", kind="network")


def _reply(error: smtplib.SMTPResponseException) -> str:
    message = error.smtp_error
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)
