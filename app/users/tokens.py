"""API tokens: random, shown once, stored only as a SHA-256 digest."""

import hashlib
import secrets

TOKEN_PREFIX = "sw_"


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    # 256 random bits need no slow hash: a digest is enough to make a stolen table useless.
    return hashlib.sha256(token.encode()).hexdigest()


def display_prefix(token: str) -> str:
    """The first characters, enough for a person to tell tokens apart in a listing."""
    return token[: len(TOKEN_PREFIX) + 6]
