"""Encryption of OAuth2 tokens at rest (Fernet: AES-128-CBC with an HMAC), so a copy of the
database or a backup does not give access to the seller's mailbox without the key."""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

from app.errors import ConfigError


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


class TokenCipher:
    """Keys separated by commas: the first encrypts, all decrypt, so a key can be rotated by
    putting the new one first and re-encrypting (`slawatch token-key --rotate`)."""

    def __init__(self, keys: SecretStr) -> None:
        parts = [k.strip() for k in keys.get_secret_value().split(",") if k.strip()]
        try:
            self._fernet = MultiFernet([Fernet(k.encode("ascii")) for k in parts])
        except (ValueError, UnicodeEncodeError):
            raise ConfigError(
                "the token key is not a Fernet key (32 random bytes, URL-safe base64); "
                "make one with `slawatch token-key`"
            ) from None

    def encrypt(self, token: SecretStr) -> str:
        return self._fernet.encrypt(token.get_secret_value().encode()).decode("ascii")

    def decrypt(self, stored: str) -> SecretStr:
        try:
            return SecretStr(self._fernet.decrypt(stored.encode("ascii")).decode())
        except InvalidToken:
            raise ConfigError(
                "a stored OAuth2 token cannot be decrypted with the configured token key "
                "(was the key changed?); put the old key after the new one, or authorise again"
            ) from None

    def rotate(self, stored: str) -> str:
        """``stored`` re-encrypted with the first key."""
        try:
            return self._fernet.rotate(stored.encode("ascii")).decode("ascii")
        except InvalidToken:
            raise ConfigError(
                "a stored OAuth2 token cannot be decrypted with any configured key; keep the old "
                "key in the list (NEW,OLD) until --rotate has run"
            ) from None
