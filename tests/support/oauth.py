"""Mail that signs in with OAuth2: the test client's credentials at ``OAuthProvider``, a mailbox on
the Dovecot that checks its tokens, and the SMTP server that takes them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from imapclient import IMAPClient

from app.config import MailboxSettings
from tests.support.dovecot import Dovecot
from tests.support.imap import closing_client
from tests.support.mailfactory import SELLER_ADDRESS
from tests.support.oauth_provider import OAuthProvider
from tests.support.oauth_smtp import OAuthSmtpHandler

OAUTH_CLIENT_ID = "slawatch-test"
OAUTH_CLIENT_SECRET = "test-client-secret"
OAUTH_SECRET_ENV = "SLAWATCH_TEST_OAUTH_CLIENT_SECRET"


@dataclass
class OAuthAccount:
    """A mailbox on ``oauth_dovecot`` that signs in with the provider's access tokens only."""

    provider: OAuthProvider
    server: Dovecot
    username: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def access_token(self, lifetime: float | None = None) -> str:
        return self.provider.issue_access_token(self.username, lifetime)

    def refresh_token(self) -> str:
        return self.provider.issue_refresh_token(self.username)

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.oauth2_login(self.username, self.access_token())
        return client

    def append(self, folder: str, messages: Sequence[bytes], when: datetime | None = None) -> None:
        with closing_client(self.client()) as client:
            for raw in messages:
                client.append(folder, raw, msg_time=when)

    def settings(self, smtp: OAuthSmtpServer | None = None, **overrides: Any) -> MailboxSettings:
        """A mailbox signing in with OAuth2 at the test provider (a custom provider with every
        endpoint), replying through ``smtp`` if given; needs the ``oauth_secrets`` fixture."""
        values: dict[str, Any] = {
            "name": "oauth-shop",
            "host": self.host,
            "port": self.port,
            "security": "plain",
            "username": self.username,
            "auth": "oauth2",
            "oauth_provider": "custom",
            "oauth_client_id": self.provider.client_id,
            "oauth_client_secret_env": OAUTH_SECRET_ENV,
            "oauth_token_url": self.provider.token_url,
            "oauth_device_url": self.provider.device_url,
            "oauth_authorize_url": self.provider.authorize_url,
            "seller_addresses": [SELLER_ADDRESS],
            "idle": False,
            "timeout_seconds": 10,
        }
        if smtp is not None:
            values |= {"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_security": "plain"}
        return MailboxSettings(**{**values, **overrides})


@dataclass
class OAuthSmtpServer:
    """SMTP on 127.0.0.1 without TLS that requires AUTH: XOAUTH2 with the provider's tokens, or
    PLAIN/LOGIN as ``username``/``password``. ``handler`` records mail and sign-ins."""

    host: str
    port: int
    handler: OAuthSmtpHandler
    username: str
    password: str
