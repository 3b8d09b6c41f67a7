"""How a mail session signs in: a password, or an OAuth2 access token (SASL XOAUTH2).

The IMAP and SMTP clients take a ``Login`` and know nothing of where tokens come from; the token
source (app.oauth.grants) refreshes and stores them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from pydantic import SecretStr

from app.errors import MailError

CredentialsErrorKind = Literal["reauthorize", "network", "config"]


class CredentialsError(MailError):
    """No usable credentials: ``reauthorize`` (a person must sign in again), ``network`` (the
    token endpoint could not be reached; it may work next time) or ``config``."""

    kind: CredentialsErrorKind

    def __init__(self, kind: CredentialsErrorKind, reason: str) -> None:
        super().__init__(kind, reason)


class AccessTokens(Protocol):
    def current(self) -> SecretStr:
        """A token valid for a while yet (refreshed first when it is about to expire)."""

    def renewed(self, refused: SecretStr) -> SecretStr:
        """A new token after a server refused ``refused``."""


@dataclass(frozen=True)
class PasswordLogin:
    username: str
    password: SecretStr


@dataclass(frozen=True)
class OAuthLogin:
    username: str
    tokens: AccessTokens


Login = PasswordLogin | OAuthLogin


def xoauth2_string(username: str, token: SecretStr) -> str:
    """The SASL XOAUTH2 initial response (before base64), as Google and Microsoft define it."""
    return f"user={username}\x01auth=Bearer {token.get_secret_value()}\x01\x01"
