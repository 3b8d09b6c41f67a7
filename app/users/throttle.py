"""Sign-in throttling: failed sign-ins are counted per user name and per client address; too
many within the window lock that key out, for a minute at first, twice as long each time after.

Counting both stops one address guessing many users' passwords and many addresses guessing one
user's. The counts live in the database, so every API replica enforces the same limits.
"""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.config import AuthSettings
from app.users import repository

FIRST_LOCKOUT = timedelta(minutes=1)
# Doubling past 2**20 minutes only overflows: every maximum allowed is reached long before.
_MAX_DOUBLINGS = 20
# More than the two rows a failure can add: the purge keeps up with any rate of guessing.
_PURGE_BATCH = 100


def user_key(name: str) -> str:
    return f"user:{name[:100]}"


def keys_for(*, name: str, address: str | None) -> list[str]:
    keys = [user_key(name)]
    if address:
        keys.append(f"address:{address[:100]}")
    return keys


def locked_until(db: Session, *, keys: Sequence[str], at: datetime) -> datetime | None:
    """When the last lockout of ``keys`` ends, or None when none is locked out at ``at``."""
    ends = [r.locked_until for r in repository.throttles(db, keys) if r.locked_until]
    return max((end for end in ends if end > at), default=None)


def record_failure(db: Session, *, keys: Sequence[str], at: datetime, auth: AuthSettings) -> None:
    """Count one failed sign-in against each key; a key reaching the limit is locked out, and
    only that is audited (a row per failure would let guessing fill the audit log)."""
    window = timedelta(minutes=auth.sign_in_window_minutes)
    longest = timedelta(minutes=auth.sign_in_max_lockout_minutes)
    for key in keys:
        row = repository.lock_throttle(db, key, at=at)
        if row.window_started_at is None or at - row.window_started_at >= window:
            # A key that stayed quiet for a whole window after its last lockout starts over at
            # the shortest lockout; one that comes straight back keeps doubling.
            if row.locked_until is None or at - row.locked_until >= window:
                row.lockouts = 0
            row.failures, row.window_started_at = 0, at
        row.failures += 1
        if row.failures < auth.sign_in_max_failures:
            continue
        row.lockouts += 1
        lasts = min(FIRST_LOCKOUT * 2 ** min(row.lockouts - 1, _MAX_DOUBLINGS), longest)
        row.locked_until = at + lasts
        row.failures, row.window_started_at = 0, None
        # The actor is what was locked out: the user name tried, or the client's address.
        audit.record(
            db,
            actor=key.partition(":")[2][:100] or "?",
            action="user.sign_in_locked",
            detail={
                "key": key,
                "until": row.locked_until.isoformat(),
                "minutes": lasts.total_seconds() / 60,
                "lockouts": row.lockouts,
            },
        )
    # A row quiet for a whole window counts as much as no row (see above): dropping a few with
    # each failure keeps the table as small as the guessing going on. Last, after this
    # transaction's only waits (the rows of its own keys, always user name first), so no other
    # transaction can be waiting for a row deleted here while this one waits for it.
    repository.delete_quiet_throttles(db, quiet_since=at - window, limit=_PURGE_BATCH)


def forget_user(db: Session, *, name: str) -> None:
    """A successful sign-in clears the user name's count (never the address's: one account an
    attacker owns must not reset the count of their guesses at others)."""
    repository.delete_throttle(db, user_key(name))
