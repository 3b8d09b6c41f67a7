"""The SLA clock: pure functions of timestamps and policy, no I/O.

A thread waits from its first customer (or escalation) message that no seller message has answered
yet; a seller message answers every earlier customer message; a later customer message starts a new
wait. Each wait is an *episode* with a deadline in calendar hours: weekends, holidays and DST do not
bend it, because every time here is aware UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from app.config import KindPolicy, SlaSettings
from app.enums import Classification, ThreadKind

CLOCK_STARTERS = frozenset({Classification.CUSTOMER, Classification.ESCALATION})
DEFAULT_MARKETPLACE = "walmart"


class PolicyFor(Protocol):
    """A marketplace's policies: how long each kind of thread may wait, and whether a wait closed
    as "no response needed" still counts in the response rate."""

    def __call__(self, kind: ThreadKind, /) -> KindPolicy: ...

    @property
    def close_counts_in_rate(self) -> bool: ...


@dataclass(frozen=True, eq=False)
class MarketplacePolicies:
    sla: SlaSettings
    marketplace: str

    def __call__(self, kind: ThreadKind, /) -> KindPolicy:
        return self.sla.policy(self.marketplace, kind.value)

    @property
    def close_counts_in_rate(self) -> bool:
        return self.sla.close_counts_in_rate(self.marketplace)


def policy_lookup(sla: SlaSettings, marketplace: str) -> PolicyFor:
    return MarketplacePolicies(sla, marketplace)


class ThreadState(StrEnum):
    OVERDUE = "overdue"
    AT_RISK = "at_risk"
    WAITING = "waiting"
    ANSWERED = "answered"
    CLOSED = "closed"
    INFORMATIONAL = "informational"


WAITING_STATES = (ThreadState.OVERDUE, ThreadState.AT_RISK, ThreadState.WAITING)


def arrival_time(
    *, internal_date: datetime | None, date_header: datetime | None, stored_at: datetime
) -> datetime:
    """When a message reached the mailbox: the server's INTERNALDATE; the Date header only when the
    server gave none and it is not in the future (a sender's clock must not shorten our deadline);
    else the moment we stored it."""
    if internal_date is not None:
        return internal_date
    if date_header is not None and date_header <= stored_at:
        return date_header
    return stored_at


@dataclass(frozen=True)
class ClockMessage:
    """A message as the clock sees it; a seller's answer given outside the mailbox (Seller
    Center, the phone) is one too, a SELLER message with its ``channel``."""

    received_at: datetime
    classification: Classification
    channel: str | None = None  # None: by mail


@dataclass(frozen=True)
class Episode:
    """One wait: from the first unanswered customer message to the seller's answer (or not yet)."""

    started_at: datetime
    due_at: datetime
    answered_at: datetime | None
    answered_channel: str | None = None  # None: by mail (or not answered)

    @property
    def answered_in_time(self) -> bool:
        return self.answered_at is not None and self.answered_at <= self.due_at


def episodes(messages: Sequence[ClockMessage], policy: KindPolicy) -> list[Episode]:
    """Every wait of a thread, oldest first. Automated messages neither start nor stop a clock."""
    window = timedelta(hours=policy.response_hours)
    # At the same instant a customer message counts first: a reply cannot precede its question.
    ordered = sorted(
        messages, key=lambda m: (m.received_at, m.classification == Classification.SELLER)
    )
    result: list[Episode] = []
    started: datetime | None = None
    for message in ordered:
        if message.classification in CLOCK_STARTERS and started is None:
            started = message.received_at
        elif message.classification == Classification.SELLER and started is not None:
            result.append(Episode(started, started + window, message.received_at, message.channel))
            started = None
    if started is not None:
        result.append(Episode(started, started + window, None))
    return result


@dataclass(frozen=True)
class Clock:
    """The running clock of a waiting thread and the moments its level changes."""

    started_at: datetime
    due_at: datetime
    at_risk_at: datetime
    warn_at: tuple[tuple[float, datetime], ...]  # (hours after start, when)
    remind_at: tuple[tuple[float, datetime], ...] = ()  # (hours before the deadline, when)

    def events(self) -> list[tuple[datetime, str]]:
        """The level changes in time order: warnings, reminders, at risk, overdue."""
        marks = [(at, 0, warn_level(hours)) for hours, at in self.warn_at]
        marks += [(at, 0, remind_level(hours)) for hours, at in self.remind_at]
        # At the same moment at risk or overdue is the level reached: the sweep records only the
        # last level a clock has reached, and theirs is the alert that says more.
        marks += [
            (self.at_risk_at, 1, ThreadState.AT_RISK.value),
            (self.due_at, 2, ThreadState.OVERDUE.value),
        ]
        return [(at, level) for at, _, level in sorted(marks)]

    def level_at(self, now: datetime) -> str:
        """``waiting``, ``warn_24h`` …, ``at_risk`` or ``overdue``: the last level reached."""
        reached = [level for at, level in self.events() if at <= now]
        return reached[-1] if reached else ThreadState.WAITING.value

    def next_change_after(self, now: datetime) -> datetime | None:
        return next((at for at, _ in self.events() if at > now), None)


def warn_level(hours: float) -> str:
    return f"warn_{hours:g}h"


REMINDER = "remind_"


def remind_level(hours: float) -> str:
    """The level ``hours`` before the deadline, e.g. ``remind_6h``."""
    return f"{REMINDER}{hours:g}h"


def is_reminder(level: str) -> bool:
    return level.startswith(REMINDER)


def running_clock(all_episodes: Sequence[Episode], policy: KindPolicy) -> Clock | None:
    """The clock of the last, unanswered episode; None when every customer message is answered."""
    if not all_episodes or all_episodes[-1].answered_at is not None:
        return None
    return clock_from(all_episodes[-1].started_at, policy)


def clock_from(started_at: datetime, policy: KindPolicy) -> Clock:
    due = started_at + timedelta(hours=policy.response_hours)
    return Clock(
        started_at=started_at,
        due_at=due,
        at_risk_at=due - timedelta(hours=policy.at_risk_hours),
        warn_at=tuple(
            (hours, started_at + timedelta(hours=hours))
            for hours in sorted(policy.warn_after_hours)
        ),
        remind_at=tuple(
            (hours, due - timedelta(hours=hours)) for hours in sorted(policy.remind_before_hours)
        ),
    )


def thread_state(
    *,
    has_customer_messages: bool,
    closed: bool,
    due_at: datetime | None,
    at_risk_at: datetime | None,
    now: datetime,
) -> ThreadState:
    """The state at ``now`` from stored timestamps (the SQL filters in the repository agree)."""
    if not has_customer_messages:
        return ThreadState.INFORMATIONAL
    if closed:
        return ThreadState.CLOSED
    if due_at is None or at_risk_at is None:
        return ThreadState.ANSWERED
    if now >= due_at:
        return ThreadState.OVERDUE
    if now >= at_risk_at:
        return ThreadState.AT_RISK
    return ThreadState.WAITING


class WaitOutcome(StrEnum):
    """How a wait counts in the response rate at a moment."""

    ANSWERED_IN_TIME = "answered_in_time"
    ANSWERED_LATE = "answered_late"
    MISSED = "missed"  # unanswered past its deadline: counted as not answered in time
    OPEN = "open"  # unanswered before its deadline: not counted yet


def wait_outcome(*, due_at: datetime, answered_at: datetime | None, now: datetime) -> WaitOutcome:
    """Agrees with the response figures (app.threads.figures_repository): a wait is decided once
    answered or past its deadline, and in time when answered by its deadline."""
    if answered_at is not None:
        return WaitOutcome.ANSWERED_IN_TIME if answered_at <= due_at else WaitOutcome.ANSWERED_LATE
    return WaitOutcome.MISSED if due_at <= now else WaitOutcome.OPEN
