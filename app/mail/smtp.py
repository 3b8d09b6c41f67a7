"""Sending one message over SMTP (SSL, STARTTLS or plain on loopback), with a timeout."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage

from app.config import SmtpSettings


class SmtpError(Exception):
    """The message was not accepted; ``reason`` says why in words a person can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SmtpSession:
    """One SMTP connection for several messages, opened at the first send. After a failure of the
    connection itself, the following sends fail at once with the same reason instead of each
    waiting for its own timeout; a refused message does not stop the others."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings
        self._client: smtplib.SMTP | None = None
        self._broken: str | None = None

    def __enter__(self) -> SmtpSession:
        return self

    def __exit__(self, *_: object) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()

    def _connect(self) -> smtplib.SMTP:
        s = self._settings
        context = ssl.create_default_context()
        client: smtplib.SMTP
        if s.security == "ssl":
            client = smtplib.SMTP_SSL(
                s.host, s.smtp_port, timeout=s.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(s.host, s.smtp_port, timeout=s.timeout_seconds)
        try:
            if s.security == "starttls":
                client.starttls(context=context)
            password = s.password()
            if s.username and password is not None:
                client.login(s.username, password.get_secret_value())
        except BaseException:
            client.close()
            raise
        return client

    def send(self, message: EmailMessage, *, recipients: list[str]) -> None:
        """Hand ``message`` to the server for ``recipients`` (the envelope, not the headers)."""
        if self._broken:
            raise SmtpError(self._broken)
        try:
            if self._client is None:
                self._client = self._connect()
            refused = self._client.send_message(message, to_addrs=recipients)
        except smtplib.SMTPResponseException as e:
            if isinstance(e, smtplib.SMTPAuthenticationError):
                self._broken = _describe(self._settings, e)
            raise SmtpError(_describe(self._settings, e)) from e
        except (smtplib.SMTPException, OSError) as e:
            self._broken = _describe(self._settings, e)
            raise SmtpError(self._broken) from e
        if refused:
            raise SmtpError(
                f"{self._settings.host} refused recipients: {', '.join(sorted(refused))}"
            )


def send(settings: SmtpSettings, message: EmailMessage, *, recipients: list[str]) -> None:
    """Send one message on a connection of its own."""
    with SmtpSession(settings) as session:
        session.send(message, recipients=recipients)


def _describe(settings: SmtpSettings, error: Exception) -> str:
    host, port = settings.host, settings.smtp_port
    if isinstance(error, smtplib.SMTPAuthenticationError):
        return f"login as {settings.username!r} refused by {host}: {_reply(error)}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return f"{host} refused recipients: {', '.join(sorted(error.recipients))}"
    if isinstance(error, smtplib.SMTPResponseException):
        return f"{host} answered {error.smtp_code}: {_reply(error)}"
    if isinstance(error, smtplib.SMTPException):
        return f"{host}: {error}"
    if isinstance(error, ssl.SSLError):
        return f"TLS with {host}:{port} failed: {error.reason or error}"
    if isinstance(error, socket.gaierror):
        return f"unknown host {host!r}"
    return f"connection to {host}:{port} failed: {error}"


def _reply(error: smtplib.SMTPResponseException) -> str:
    message = error.smtp_error
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)
