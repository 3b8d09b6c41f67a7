"""Creating users, issuing tokens and recognising them."""

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app import audit
from app.clock import now
from app.db import session_scope
from app.enums import Role
from app.errors import AppError, Conflict, NotFound
from app.models import ApiToken, User
from app.users import repository
from app.users.passwords import hash_password
from app.users.tokens import display_prefix, hash_token, new_token

log = logging.getLogger(__name__)

# Recording every request's use would turn each read into a write; once a minute is enough.
LAST_USED_RESOLUTION = timedelta(minutes=1)
NAME_MAX_LENGTH = 100


@dataclass(frozen=True)
class IssuedToken:
    user: User
    token: str


def _issue_token(db: Session, user: User) -> str:
    token = new_token()
    db.add(ApiToken(user=user, token_hash=hash_token(token), prefix=display_prefix(token)))
    return token


def create_user(db: Session, *, name: str, role: Role, actor: str) -> IssuedToken:
    name = name.strip()
    if not name or len(name) > NAME_MAX_LENGTH or any(c.isspace() for c in name):
        raise AppError(f"user name {name!r} must be 1-{NAME_MAX_LENGTH} characters, no spaces")
    if repository.get_by_name(db, name):
        raise Conflict(f"user {name!r} already exists")
    user = User(name=name, role=role)
    db.add(user)
    token = _issue_token(db, user)
    db.flush()
    audit.record(db, actor=actor, action="user.create", target=user, detail={"role": role})
    return IssuedToken(user=user, token=token)


def issue_token(db: Session, *, name: str, actor: str) -> IssuedToken:
    user = repository.get_by_name(db, name)
    if user is None:
        raise NotFound(f"no user named {name!r}")
    token = _issue_token(db, user)
    db.flush()
    audit.record(db, actor=actor, action="token.issue", target=user)
    return IssuedToken(user=user, token=token)


def token_holder(db: Session, token: str) -> tuple[User, int, bool] | None:
    """(user, token id, whether its last use should be recorded) for an active token, else None
    for an unknown, revoked or disabled one. Read-only: requests that only read stay so."""
    row = repository.find_token(db, hash_token(token))
    if row is None or row.revoked_at is not None or row.user.disabled_at is not None:
        return None
    stale = row.last_used_at is None or now() - row.last_used_at > LAST_USED_RESOLUTION
    return row.user, row.id, stale


def note_token_use(session_factory: sessionmaker[Session], token_id: int) -> None:
    """Record a token's use in its own short write; bookkeeping that may be skipped when the
    database is busy, never a reason to fail the request."""
    try:
        with session_scope(session_factory) as db:
            db.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now()))
    except OperationalError as e:
        log.debug("token %s: last use not recorded: %s", token_id, e)


def set_password(db: Session, *, name: str, password: str, actor: str) -> User:
    """Set the password the user signs in to the agent page with."""
    user = repository.get_by_name(db, name)
    if user is None:
        raise NotFound(f"no user named {name!r}")
    try:
        user.password_hash = hash_password(password)
    except ValueError as e:
        raise AppError(str(e)) from None
    audit.record(db, actor=actor, action="user.set_password", target=user)
    return user
