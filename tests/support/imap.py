"""A Dovecot account as the tests use it: an IMAP client of its own, and slawatch's mailbox config
that polls it."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imapclient import IMAPClient

from app.config import MailboxSettings
from tests.support.dovecot import Dovecot
from tests.support.mailfactory import SELLER_ADDRESS


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


@contextmanager
def closing_client(client: IMAPClient) -> Iterator[IMAPClient]:
    try:
        yield client
    finally:
        client.logout()
