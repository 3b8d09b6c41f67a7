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


def send(settings: SmtpSettings, message: EmailMessage, *, recipients: list[str]) -> None:
    """Hand ``message`` to the SMTP server for ``recipients`` (the envelope, not the headers)."""
    host, port = settings.host, settings.smtp_port
    context = ssl.create_default_context()
    try:
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=settings.timeout_seconds, context=context
            )
        else:
            client = smtplib.SMTP(host, port, timeout=settings.timeout_seconds)
        with client:
            if settings.security == "starttls":
                client.starttls(context=context)
            password = settings.password()
            if settings.username and password is not None:
                client.login(settings.username, password.get_secret_value())
            refused = client.send_message(message, to_addrs=recipients)
            if refused:
                raise SmtpError(f"{host} refused recipients: {', '.join(sorted(refused))}")
    except smtplib.SMTPAuthenticationError as e:
        raise SmtpError(f"login as {settings.username!r} refused by {host}: {_reply(e)}") from e
    except smtplib.SMTPRecipientsRefused as e:
        raise SmtpError(f"{host} refused recipients: {', '.join(sorted(e.recipients))}") from e
    except smtplib.SMTPResponseException as e:
        raise SmtpError(f"{host} answered {e.smtp_code}: {_reply(e)}") from e
    except smtplib.SMTPException as e:
        raise SmtpError(f"{host}: {e}") from e
    except ssl.SSLError as e:
        raise SmtpError(f"TLS with {host}:{port} failed: {e.reason or e}") from e
    except socket.gaierror as e:
        raise SmtpError(f"unknown host {host!r}") from e
    except OSError as e:
        raise SmtpError(f"connection to {host}:{port} failed: {e}") from e


def _reply(error: smtplib.SMTPResponseException) -> str:
    message = error.smtp_error
    return message.decode(errors="replace") if isinstance(message, bytes) else str(message)
