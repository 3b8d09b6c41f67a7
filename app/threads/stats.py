"""Response figures: Walmart's Seller Response Rate, first-response times and their distribution,
per mailbox and over all mailboxes, for the last 1, 7, 30 and 60 days.

They move slowly and come from scanning every wait of the window, so a job (app.threads.jobs)
has the database compute them (app.threads.figures_repository) into response_figures every few
minutes instead of every request doing the scan.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

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
BUCKET_BOUNDS_SECONDS = tuple(hours * 3600 for _, hours in RESPONSE_BUCKETS)


def scope_of(mailbox_id: int) -> str:
    return f"mailbox:{mailbox_id}"


def client_scope(client: str) -> str:
    return f"client:{client}"


def empty_figures(*, scope: str, days: int, now: datetime) -> dict[str, Any]:
    """A window's figures with no wait in it."""
    return {
        "scope": scope,
        "days": days,
        "computed_at": now,
        "decided": 0,
        "in_time": 0,
        "median_seconds": None,
        "p90_seconds": None,
        "distribution": [0] * len(BUCKET_LABELS),
    }


def latest(db: Session) -> dict[str, dict[int, ResponseFigures]]:
    """The figures by scope and window as last computed (the job refreshes them every few
    minutes); empty before its first run."""
    figures: dict[str, dict[int, ResponseFigures]] = {}
    for row in figures_repository.all_figures(db):
        figures.setdefault(row.scope, {})[row.days] = row
    return figures
