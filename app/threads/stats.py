"""Response-rate figures per mailbox: Walmart's Seller Response Rate and first-response times.

They cover 30 and 60 days and move slowly, so they are computed into mailbox_stats by a job (and on
demand when older than STATS_MAX_AGE) instead of scanning every wait on each request.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.models import MailboxStats
from app.threads import repository

STATS_MAX_AGE = timedelta(minutes=10)
WINDOWS_DAYS = (30, 60)


def quantile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank quantile of already sorted values."""
    if not sorted_values:
        return None
    return sorted_values[max(math.ceil(q * len(sorted_values)) - 1, 0)]


def compute(
    rows: list[tuple[datetime, datetime | None, datetime, float | None]], *, now: datetime
) -> dict[str, object]:
    """A wait is decided once answered or once its deadline passed; in time if answered by then.
    Response times are those of waits started in the last 30 days."""
    values: dict[str, object] = {"computed_at": now}
    for days in WINDOWS_DAYS:
        since = now - timedelta(days=days)
        decided = in_time = 0
        for started, answered, due, _ in rows:
            if started < since or (answered is None and due > now):
                continue
            decided += 1
            in_time += answered is not None and answered <= due
        values[f"decided_{days}d"], values[f"in_time_{days}d"] = decided, in_time
    since = now - timedelta(days=WINDOWS_DAYS[0])
    seconds = sorted(s for started, _, _, s in rows if s is not None and started >= since)
    values["median_first_response_seconds"] = quantile(seconds, 0.5)
    values["p90_first_response_seconds"] = quantile(seconds, 0.9)
    return values


def refresh(db: Session, *, mailbox_id: int, now: datetime) -> MailboxStats:
    rows = repository.episodes_since(
        db, mailbox_id=mailbox_id, since=now - timedelta(days=max(WINDOWS_DAYS))
    )
    repository.save_stats(db, {"mailbox_id": mailbox_id, **compute(rows, now=now)})
    stats = repository.get_stats(db, mailbox_id)
    assert stats is not None  # noqa: S101 (just saved)
    return stats


def current(db: Session, *, mailbox_id: int, now: datetime) -> MailboxStats:
    """The mailbox's stats, recomputed first when missing or older than STATS_MAX_AGE."""
    stats = repository.get_stats(db, mailbox_id)
    if stats is None or now - stats.computed_at > STATS_MAX_AGE:
        return refresh(db, mailbox_id=mailbox_id, now=now)
    return stats
