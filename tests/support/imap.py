"""A Dovecot account as the tests use it: an IMAP client of its own, and slawatch's mailbox config
that polls it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from imapclient import IMAPClient

from app.config import MailboxSettings
from tests.support.dovecot import Dovecot
from tests.support.mailfactory import SELLER_ADDRESS, customer, message_id_of, seller_reply


@dataclass
class ImapAccount:
    """A Dovecot account; ``settings()`` gives the slawatch mailbox config that polls it."""

    server: Dovecot
    username: str
    password: str
    password_env: str

    def client(self) -> IMAPClient:
        client = IMAPClient(self.server.host, port=self.server.port, ssl=False, timeout=30)
        client.login(self.username, self.password)
        return client

    def settings(self, **overrides: Any) -> MailboxSettings:
        values: dict[str, Any] = {
            "name": self.username.split("@")[0],
            "host": self.server.host,
            "port": self.server.port,
            "security": "plain",
            "username": self.username,
            "password_env": self.password_env,
            "seller_addresses": [SELLER_ADDRESS],
        }
        return MailboxSettings(**{**values, **overrides})

    def append(self, folder: str, messages: Sequence[bytes], when: datetime | None = None) -> None:
        with closing_client(self.client()) as client:
            for raw in messages:
                client.append(folder, raw, msg_time=when)

    def asked(
        self, buyer: str, *, order: str, hours_ago: float, subject: str | None = None
    ) -> bytes:
        """A customer's message in INBOX, arrived ``hours_ago`` hours ago."""
        extra = {"subject": subject} if subject else {}
        question = customer(buyer, order=order, **extra)
        self.append("INBOX", [question], when=datetime.now(UTC) - timedelta(hours=hours_ago))
        return question

    def answered(
        self, buyer: str, *, order: str, asked_hours_ago: float, answered_hours_ago: float
    ) -> None:
        """A customer's message and the seller's reply to it in Sent."""
        subject = f"Question about {order}"
        question = self.asked(buyer, order=order, hours_ago=asked_hours_ago, subject=subject)
        reply = seller_reply(buyer, in_reply_to=message_id_of(question), subject=subject)
        self.append("Sent", [reply], when=datetime.now(UTC) - timedelta(hours=answered_hours_ago))


@contextmanager
def closing_client(client: IMAPClient) -> Iterator[IMAPClient]:
    try:
        yield client
    finally:
        client.logout()
