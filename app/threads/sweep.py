"""The sweep: record each level a thread's clock reaches (warned, at risk, overdue), once.

Threads are taken a batch at a time; each batch costs a few statements whatever its size: one read
of the threads due, one of the transitions they may have recorded before, one executemany each for
their new levels and the new transitions."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app import sla
from app.config import KindPolicy, SlaSettings
from app.enums import ThreadKind
from app.threads import sweep_repository as repository
from app.threads.sweep_repository import DueThread, TransitionKey

log = logging.getLogger(__name__)

SWEEP_BATCH = 1000
# (mailbox id, kind) -> policy; the mailbox decides the marketplace.
PolicyOf = Callable[[int, ThreadKind], KindPolicy]


@dataclass(frozen=True)
class Reached:
    """A level a thread's clock reached, as the sweep recorded it."""

    thread: DueThread
    clock_started_at: datetime
    from_level: str | None
    to_level: str
    reached_at: datetime

    @property
    def thread_id(self) -> int:
        return self.thread.id

    @property
    def key(self) -> TransitionKey:
        return (self.thread.id, self.clock_started_at, self.to_level)

    def row(self, *, recorded_at: datetime) -> dict[str, Any]:
        return {
            "thread_id": self.thread.id,
            "clock_started_at": self.clock_started_at,
            "from_level": self.from_level,
            "to_level": self.to_level,
            "reached_at": self.reached_at,
            "recorded_at": recorded_at,
        }


@dataclass(frozen=True)
class Step:
    """Where a thread's clock stands at a sweep: its level, when to look again, what it reached."""

    level: str | None
    next_at: datetime | None
    reached: Reached | None


def advance(thread: DueThread, *, now: datetime, policy: KindPolicy) -> Step:
    """The thread's level at ``now`` under ``policy`` (pure)."""
    if thread.clock_started_at is None:
        return Step(thread.sla_level, None, None)
    clock = sla.clock_from(thread.clock_started_at, policy)
    level = clock.level_at(now)
    next_at = clock.next_change_after(now)
    if level == thread.sla_level:
        return Step(level, next_at, None)
    reached_at = max((at for at, name in clock.events() if name == level), default=clock.started_at)
    reached = Reached(thread, thread.clock_started_at, thread.sla_level, level, reached_at)
    return Step(level, next_at, reached)


def record_transitions(db: Session, *, now: datetime, policy_of: PolicyOf) -> list[Reached]:
    """Record the levels reached by threads due for a look; the work grows with the transitions,
    not with the table, because only threads whose next_transition_at has come are read."""
    recorded: list[Reached] = []
    while True:
        due = repository.due_for_sweep(db, now=now, limit=SWEEP_BATCH)
        steps = [(t, advance(t, now=now, policy=policy_of(t.mailbox_id, t.kind))) for t in due]
        reached = [step.reached for _, step in steps if step.reached is not None]
        # A thread closed and reopened resumes its old clock: a level it reached before is not
        # reached again.
        known = repository.recorded_transitions(db, [r.key for r in reached])
        new = [r for r in reached if r.key not in known]
        repository.set_levels(
            db,
            [
                {"thread_id": thread.id, "level": step.level, "next_at": step.next_at}
                for thread, step in steps
            ],
        )
        repository.insert_transitions(db, [r.row(recorded_at=now) for r in new])
        recorded += new
        if len(due) < SWEEP_BATCH:
            return recorded


def transitions_due(
    db: Session, *, now: datetime, sla_settings: SlaSettings, marketplaces: Mapping[int, str]
) -> list[Reached]:
    """Record the levels reached since the last sweep, with each mailbox's marketplace policies
    (``marketplaces``: by mailbox id, from app.mailboxes.registry; Walmart for one not in it)."""

    @functools.cache
    def policy_of(mailbox_id: int, kind: ThreadKind) -> KindPolicy:
        return sla_settings.policy(
            marketplaces.get(mailbox_id, sla.DEFAULT_MARKETPLACE), kind.value
        )

    transitions = record_transitions(db, now=now, policy_of=policy_of)
    if transitions:
        log.info("%d SLA transitions recorded", len(transitions))
    for t in transitions:
        log.debug("thread %s: %s -> %s", t.thread_id, t.from_level or "new", t.to_level)
    return transitions
