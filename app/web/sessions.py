"""Signed-in browsers: server-side sessions behind an HttpOnly cookie, each with a CSRF token."""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.clock import now
from app.config import AuthSettings
from app.models import WebSession
from app.users import repository as user_repository
from app.users import throttle
from app.users.passwords import verify_password
from app.users.tokens import hash_token

COOKIE = "slawatch_session"
LOGIN_CSRF_COOKIE = "slawatch_login_csrf"
LIFETIME = timedelta(hours=12)


@dataclass(frozen=True)
class SignIn:
    """A sign-in's outcome: the new session's cookie value, or when to try again (locked out),
    or neither (refused)."""

    cookie: str | None = None
    retry_at: datetime | None = None


def sign_in(
    db: Session, *, name: str, password: str, address: str | None, auth: AuthSettings
) -> SignIn:
    at = now()
    keys = throttle.keys_for(name=name, address=address)
    # Checked before the password: a locked-out guess costs no argon2 (64 MiB) and tells nothing.
    retry_at = throttle.locked_until(db, keys=keys, at=at)
    if retry_at is not None:
        return SignIn(retry_at=retry_at)
    user = user_repository.get_by_name(db, name)
    if not verify_password(user.password_hash if user else None, password) or (
        user is None or user.disabled_at is not None
    ):
        throttle.record_failure(db, keys=keys, at=at, auth=auth)
        return SignIn()
    throttle.forget_user(db, name=name)
    token = secrets.token_urlsafe(32)
    db.add(
        WebSession(
            token_hash=hash_token(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=at + LIFETIME,
        )
    )
    audit.record(db, actor=user, action="user.sign_in")
    return SignIn(cookie=token)


def session_for(db: Session, token: str | None) -> WebSession | None:
    if not token:
        return None
    session = user_repository.web_session_by_token_hash(db, hash_token(token))
    if session is None or session.expires_at <= now() or session.user.disabled_at is not None:
        return None
    return session


def sign_out(db: Session, token: str | None) -> None:
    if token:
        user_repository.delete_web_session(db, hash_token(token))


def csrf_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given) and hmac.compare_digest(str(expected), str(given))
