"""Creating users, issuing tokens and recognising them."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.clock import now
from app.enums import Role
from app.errors import Conflict, HttpError, NotFound, Unauthenticated
from app.ids import MAX_ROW_ID
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
        raise HttpError(f"user name {name!r} must be 1-{NAME_MAX_LENGTH} characters, no spaces")
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


@dataclass(frozen=True)
class TokenUse:
    user: User
    token_id: int
    # Whether the token's last use is old enough to be worth recording again.
    stale: bool


def expires_at(token: ApiToken, *, token_days: int | None) -> datetime | None:
    """When the token stops working under ``[auth] token_days``: counted from its creation, so
    the setting applies to tokens issued before it was set."""
    return token.created_at + timedelta(days=token_days) if token_days else None


def authenticate(db: Session, *, token: str, token_days: int | None) -> TokenUse:
    """The active token's user, else Unauthenticated. Read-only: requests that only read stay so.
    Only the holder of a real token learns more than "invalid": that it expired, or that its
    user is disabled; nobody learns from a guess whether a user exists."""
    row = repository.find_token(db, hash_token(token))
    if row is None or row.revoked_at is not None:
        raise Unauthenticated("invalid or revoked token")
    if row.user.disabled_at is not None:
        raise Unauthenticated(f"user {row.user.name!r} is disabled; an admin can enable it")
    ends = expires_at(row, token_days=token_days)
    at = now()
    if ends is not None and ends <= at:
        raise Unauthenticated(
            f"token {row.prefix}... expired at {ends:%Y-%m-%d %H:%M} UTC ([auth] token_days = "
            f"{token_days}); an admin can issue a new one (slawatch users token NAME)"
        )
    stale = row.last_used_at is None or at - row.last_used_at > LAST_USED_RESOLUTION
    return TokenUse(user=row.user, token_id=row.id, stale=stale)


def get_user(db: Session, *, name: str) -> User:
    user = repository.get_by_name(db, name)
    if user is None:
        raise NotFound(f"no user named {name!r}")
    return user


def set_password(db: Session, *, name: str, password: str, actor: str) -> User:
    """Set the password the user signs in to the agent page with; browsers signed in with the
    old one are signed out (a password is often changed because someone else knew it)."""
    user = get_user(db, name=name)
    try:
        user.password_hash = hash_password(password)
    except ValueError as e:
        raise HttpError(str(e)) from None
    ended = repository.delete_web_sessions(db, user.id)
    audit.record(
        db, actor=actor, action="user.set_password", target=user, detail={"sessions_ended": ended}
    )
    return user


def disable_user(db: Session, *, name: str, actor: str | User) -> User:
    """Refuse the user's tokens and end its web sessions; its tokens work again once enabled.
    Disabling a disabled user changes nothing."""
    user = get_user(db, name=name)
    if user.disabled_at is not None:
        return user
    if isinstance(actor, User) and actor.id == user.id:
        raise Conflict(f"you cannot disable yourself ({user.name!r}); another admin can")
    if user.role == Role.ADMIN and len(repository.lock_enabled_admins(db)) <= 1:
        raise Conflict(
            f"user {user.name!r} is the last enabled admin: enable or add another admin first"
        )
    user.disabled_at = now()
    ended = repository.delete_web_sessions(db, user.id)
    db.flush()
    audit.record(
        db, actor=actor, action="user.disable", target=user, detail={"sessions_ended": ended}
    )
    return user


def enable_user(db: Session, *, name: str, actor: str | User) -> User:
    """Accept the user's (unrevoked, unexpired) tokens again; enabling an enabled user changes
    nothing."""
    user = get_user(db, name=name)
    if user.disabled_at is None:
        return user
    user.disabled_at = None
    db.flush()
    audit.record(db, actor=actor, action="user.enable", target=user)
    return user


def tokens_of(db: Session, *, name: str) -> list[ApiToken]:
    return repository.tokens_of(db, get_user(db, name=name).id)


def revoke_token(
    db: Session, *, token_id: int, actor: str | User, used_token_id: int | None = None
) -> ApiToken:
    """Refuse the token from now on, for good; revoking a revoked token changes nothing. The
    token the request itself came with (``used_token_id``) is refused: revoking it could lock
    the last admin out; another token or the command line can."""
    # An id past the schema's 32 bits (typed at the command line) is simply not there.
    token = repository.get_token(db, token_id) if 1 <= token_id <= MAX_ROW_ID else None
    if token is None:
        raise NotFound(f"no token with id {token_id}")
    if token.id == used_token_id:
        raise Conflict(
            f"token {token_id} is the one this request uses: revoke it with another token or "
            f"`slawatch users revoke-token {token_id}`"
        )
    if token.revoked_at is None:
        token.revoked_at = now()
        db.flush()
        audit.record(
            db,
            actor=actor,
            action="token.revoke",
            target=token,
            detail={"user": token.user.name, "prefix": token.prefix},
        )
    return token
