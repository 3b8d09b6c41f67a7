"""Response figures: Walmart's Seller Response Rate, first-response times and their distribution,
per mailbox and over all mailboxes, for the last 1, 7, 30 and 60 days.

They move slowly and come from scanning every wait of the window, so a job (app.threads.jobs), in
the worker process and never in the one answering requests, computes them into response_figures
every few minutes instead of every request doing the scan. (Computed by the database instead, with
window functions for the quantiles, they took four times as long at a million waits on SQLite and
three times as long on PostgreSQL.)
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.models import ResponseFigures
from app.threads import figures_repository

WINDOWS_DAYS = (1, 7, 30, 60)
RATE_WINDOWS_DAYS = (30, 60)  # the windows Walmart's scorecard uses
ALL_SCOPE = "all"
# First-response time buckets: (label, upper bound in hours); waits past their deadline that are
# still unanswered are counted in a last bucket of their own.
RESPONSE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<1h", 1),
    ("1-4h", 4),
    ("4-12h", 12),
    ("12-24h", 24),
    ("24-48h", 48),
    (">48h", math.inf),
)
UNANSWERED_OVERDUE = "unanswered overdue"
BUCKET_LABELS = tuple(label for label, _ in RESPONSE_BUCKETS) + (UNANSWERED_OVERDUE,)

Episode = tuple[datetime, datetime | None, datetime, float | None]  # started, answered, due, secs


def scope_of(mailbox_id: int) -> str:
    return f"mailbox:{mailbox_id}"


def client_scope(client: str) -> str:
    return f"client:{client}"


def quantile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank quantile of already sorted values."""
    if not sorted_values:
        return None
    return sorted_values[max(math.ceil(q * len(sorted_values)) - 1, 0)]


def bucket_of(response_seconds: float) -> int:
    hours = response_seconds / 3600
    return next(i for i, (_, upper) in enumerate(RESPONSE_BUCKETS) if hours < upper)


@dataclass
class WindowTally:
    """The additive part of a window's figures: tallies of two mailboxes add up to theirs."""

    days: int
    decided: int = 0
    in_time: int = 0
    distribution: list[int] = field(default_factory=lambda: [0] * len(BUCKET_LABELS))
    response_seconds: list[float] = field(default_factory=list)

    def add(self, other: WindowTally) -> None:
        self.decided += other.decided
        self.in_time += other.in_time
        pairs = zip(self.distribution, other.distribution, strict=True)
        self.distribution = [a + b for a, b in pairs]
        self.response_seconds += other.response_seconds

    def figures(self, *, scope: str, now: datetime) -> dict[str, object]:
        seconds = sorted(self.response_seconds)
        return {
            "scope": scope,
            "days": self.days,
            "computed_at": now,
            "decided": self.decided,
            "in_time": self.in_time,
            "median_seconds": quantile(seconds, 0.5),
            "p90_seconds": quantile(seconds, 0.9),
            "distribution": self.distribution,
        }


def tally(rows: Iterable[Episode], *, now: datetime) -> list[WindowTally]:
    """One tally per window over the waits started in it. A wait is decided once answered or once
    its deadline passed; in time if answered by then. One pass: the windows are nested (a wait of
    the last day is in every longer window), so each wait is counted in the shortest window that
    holds it, and each window adds up the shorter ones."""
    starts = [now - timedelta(days=days) for days in WINDOWS_DAYS]  # latest first
    own = [WindowTally(days) for days in WINDOWS_DAYS]
    for started, answered, due, seconds in rows:
        shortest = 0
        while shortest < len(starts) and started < starts[shortest]:
            shortest += 1
        if shortest == len(starts):
            continue
        window = own[shortest]
        if seconds is not None:
            window.response_seconds.append(seconds)
            window.distribution[bucket_of(seconds)] += 1
        elif due <= now:
            window.distribution[-1] += 1
        if answered is None and due > now:
            continue
        window.decided += 1
        window.in_time += answered is not None and answered <= due
    tallies, shorter = [], WindowTally(0)
    for window in own:
        shorter.add(window)
        tallies.append(WindowTally(window.days))
        tallies[-1].add(shorter)
    return tallies


def latest(db: Session) -> dict[str, dict[int, ResponseFigures]]:
    """The figures by scope and window as last computed (the job refreshes them every few
    minutes); empty before its first run."""
    figures: dict[str, dict[int, ResponseFigures]] = {}
    for row in figures_repository.all_figures(db):
        figures.setdefault(row.scope, {})[row.days] = row
    return figures
