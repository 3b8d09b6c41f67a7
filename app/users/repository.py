"""All queries on users, their tokens and web sessions, and the sign-in throttle."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.enums import Role
from app.models import ApiToken, SignInThrottle, User, WebSession


def get_by_name(db: Session, name: str) -> User | None:
    return db.scalar(select(User).where(User.name == name))


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.name)))


def lock_enabled_admins(db: Session) -> list[int]:
    """The enabled admins' ids, their rows locked (on PostgreSQL): two admins disabling each
    other at once must not leave none."""
    query = select(User.id).where(User.role == Role.ADMIN, User.disabled_at.is_(None))
    return list(db.scalars(query.with_for_update()))


def find_token(db: Session, token_hash: str) -> ApiToken | None:
    return db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))


def get_token(db: Session, token_id: int) -> ApiToken | None:
    return db.get(ApiToken, token_id)


def tokens_of(db: Session, user_id: int) -> list[ApiToken]:
    return list(
        db.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.id))
    )


def mark_token_used(db: Session, token_id: int, *, at: datetime) -> None:
    db.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=at))


def web_session_by_token_hash(db: Session, token_hash: str) -> WebSession | None:
    return db.scalar(select(WebSession).where(WebSession.token_hash == token_hash))


def delete_web_session(db: Session, token_hash: str) -> None:
    db.execute(delete(WebSession).where(WebSession.token_hash == token_hash))


def delete_web_sessions(db: Session, user_id: int) -> int:
    """End every signed-in browser of the user; the number ended."""
    result = db.execute(delete(WebSession).where(WebSession.user_id == user_id))
    return int(getattr(result, "rowcount", 0) or 0)


def throttles(db: Session, keys: Iterable[str]) -> list[SignInThrottle]:
    """The rows of ``keys`` that exist; a plain read, so a check costs no lock."""
    return list(db.scalars(select(SignInThrottle).where(SignInThrottle.key.in_(list(keys)))))


def lock_throttle(db: Session, key: str, *, at: datetime) -> SignInThrottle:
    """The key's row, created if missing, locked (on PostgreSQL) until the transaction ends:
    replicas counting the same key at once add up instead of overwriting each other."""
    db.execute(
        dialect_insert(db)(SignInThrottle)
        .values(key=key, failures=0, lockouts=0, window_started_at=at)
        .on_conflict_do_nothing(index_elements=["key"])
    )
    return db.scalars(
        select(SignInThrottle)
        .where(SignInThrottle.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()


def delete_quiet_throttles(db: Session, *, quiet_since: datetime, limit: int) -> None:
    """Delete up to ``limit`` rows with neither a failure nor a lockout since ``quiet_since``.
    Rows another transaction holds are skipped, never waited for: no deadlock, no delay."""
    quiet = (
        select(SignInThrottle.key)
        .where(
            or_(
                SignInThrottle.window_started_at.is_(None),
                SignInThrottle.window_started_at <= quiet_since,
            ),
            or_(SignInThrottle.locked_until.is_(None), SignInThrottle.locked_until <= quiet_since),
        )
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    db.execute(
        delete(SignInThrottle).where(SignInThrottle.key.in_(quiet.scalar_subquery())),
        execution_options={"synchronize_session": False},
    )


def delete_throttle(db: Session, key: str) -> None:
    db.execute(delete(SignInThrottle).where(SignInThrottle.key == key))
