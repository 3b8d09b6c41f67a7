"""Each mailbox's hours: messages in and out counted as they are stored (by arrival hour), and
samples of its waiting threads (taken by a job, app.threads.jobs), so the status page draws a month
of history from a few hundred rows instead of scanning every message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from app.enums import ThreadKind
from app.sla import PolicyFor, ThreadState
from app.threads import repository

HOUR = timedelta(hours=1)
WEEK = timedelta(days=7)  # waits open at the start of a replayed history began before it


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class Hour:
    start: datetime
    customer_in: int = 0
    replies_out: int = 0
    spam_found: int = 0
    waiting: int | None = None  # None: no sample was taken in that hour
    at_risk: int | None = None
    overdue: int | None = None


def hours(
    db: Session, *, since: datetime, now: datetime, mailbox_ids: frozenset[int] | None = None
) -> list[Hour]:
    """Every hour from the one holding ``since`` to the current one, oldest first; hours without
    a row are empty rather than missing, so a chart's x axis is time."""
    first = hour_of(since)
    found = {
        row[0]: Hour(*row)
        for row in repository.activity_since(db, since=first, mailbox_ids=mailbox_ids)
    }
    result = []
    hour = first
    while hour <= now:
        result.append(found.get(hour, Hour(hour)))
        hour += HOUR
    return result


def set_live_sample(hour: Hour, counts: dict[ThreadState, int]) -> None:
    """Replace the current hour's sample by the live counts: the chart ends where the tiles are."""
    hour.waiting = counts[ThreadState.WAITING]
    hour.at_risk = counts[ThreadState.AT_RISK]
    hour.overdue = counts[ThreadState.OVERDUE]


def waiting_at(
    waits: list[tuple[datetime, datetime | None, datetime, datetime]], at: datetime
) -> dict[str, int]:
    """How many of the waits (started, answered, due, at risk from) were open at ``at``, by
    level."""
    counts = {"waiting": 0, "at_risk": 0, "overdue": 0}
    for started, answered, due, at_risk in waits:
        if started <= at and (answered is None or answered > at):
            level = "overdue" if due <= at else "at_risk" if at_risk <= at else "waiting"
            counts[level] += 1
    return counts


def replay_samples(
    db: Session, *, mailbox_id: int, since: datetime, now: datetime, policy_for: PolicyFor
) -> None:
    """Take a mailbox's hourly samples after the fact from its recorded waits, for a history
    loaded at once (the demo). Live samples stay the truth for real mail: a closed thread's
    dismissed waits are not recorded where the marketplace drops them from the rate (Amazon),
    and those it keeps (Walmart) stopped waiting when the thread was closed, which no wait
    records."""
    waits = [
        (e.started_at, e.answered_at, e.due_at, e.due_at - _at_risk_lead(policy_for, e.kind))
        for e in repository.episodes_of_mailbox(db, mailbox_id=mailbox_id, since=since - WEEK)
    ]
    hour = hour_of(since)
    while hour <= now:
        end_of_hour = min(hour + HOUR - timedelta(microseconds=1), now)
        repository.save_samples(db, hour=hour, samples={mailbox_id: waiting_at(waits, end_of_hour)})
        hour += HOUR


def _at_risk_lead(policy_for: PolicyFor, kind: ThreadKind) -> timedelta:
    return timedelta(hours=policy_for(kind).at_risk_hours)
