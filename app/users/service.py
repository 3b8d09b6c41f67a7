"""Creating users, issuing tokens and recognising them."""

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from app import audit
from app.clock import now
from app.enums import Role
from app.errors import AppError, Conflict, NotFound
from app.models import ApiToken, User
from app.users import repository
from app.users.passwords import hash_password
from app.users.tokens import display_prefix, hash_token, new_token

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


def user_for_token(db: Session, token: str) -> User | None:
    """The active user holding ``token``, or None for an unknown, revoked or disabled one."""
    row = repository.find_token(db, hash_token(token))
    if row is None or row.revoked_at is not None or row.user.disabled_at is not None:
        return None
    current = now()
    if row.last_used_at is None or current - row.last_used_at > LAST_USED_RESOLUTION:
        row.last_used_at = current
    return row.user


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
