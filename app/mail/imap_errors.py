"""What can go wrong with an IMAP mailbox, in words a person can act on."""

from __future__ import annotations

from typing import Literal

from app.errors import MailError

# reauthorize: the OAuth2 sign-in was refused even with a fresh token; a person must authorise
# the mailbox again. config: a secret is missing or unreadable.
ErrorKind = Literal["auth", "reauthorize", "network", "tls", "folder", "protocol", "config"]


def did_not_answer(host: str, port: int, *, timeout: float, during: str = "") -> str:
    """The error of a server that went silent: read and connect timeouts end every IMAP call."""
    when = f" {during}" if during else ""
    return f"{host}:{port} did not answer in time{when} (no reply within {timeout:g} s)"


class ImapError(MailError):
    """A mailbox problem: its kind (see ErrorKind) and a readable reason."""

    kind: ErrorKind

    def __init__(self, kind: ErrorKind, reason: str) -> None:
        super().__init__(kind, reason)
