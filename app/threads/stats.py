"""Response-rate figures per mailbox: Walmart's Seller Response Rate and first-response times.

They cover 30 and 60 days and move slowly, so a job computes them into mailbox_stats every few
minutes instead of every request scanning every wait.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.db import session_scope
from app.ingest import repository as mailboxes
from app.models import MailboxStats
from app.threads import repository

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


def refresh_all(
    *, read_factory: sessionmaker[Session], write_factory: sessionmaker[Session], now: datetime
) -> None:
    """Recompute every mailbox's figures: read in a transaction that takes no lock (a long scan at
    scale), then save each row in a short write."""
    with read_factory() as db:
        ids = [m.id for m in mailboxes.list_mailboxes(db)]
    for mailbox_id in ids:
        with read_factory() as db:
            rows = repository.episodes_since(
                db, mailbox_id=mailbox_id, since=now - timedelta(days=max(WINDOWS_DAYS))
            )
        with session_scope(write_factory) as db:
            repository.save_stats(db, {"mailbox_id": mailbox_id, **compute(rows, now=now)})


def latest(db: Session, *, mailbox_id: int) -> MailboxStats | None:
    """The figures as last computed (the job refreshes them every few minutes), or None."""
    return repository.get_stats(db, mailbox_id)
