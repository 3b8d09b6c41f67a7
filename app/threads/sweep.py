"""The sweep: record each level a thread's clock reaches (warned, at risk, overdue), once."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from app import sla
from app.config import KindPolicy, SlaSettings
from app.enums import ThreadKind
from app.models import Thread, ThreadTransition
from app.threads import repository

log = logging.getLogger(__name__)

SWEEP_BATCH = 1000
# (mailbox id, kind) -> policy; the mailbox decides the marketplace.
PolicyOf = Callable[[int, ThreadKind], KindPolicy]


def record_transitions(
    db: Session, *, now: datetime, policy_of: PolicyOf
) -> list[ThreadTransition]:
    """Record the levels reached by threads due for a look; the work grows with the transitions,
    not with the table, because only threads whose next_transition_at has come are read."""
    recorded: list[ThreadTransition] = []
    while True:
        threads = repository.due_for_sweep(db, now=now, limit=SWEEP_BATCH)
        for thread in threads:
            transition = _advance(thread, now=now, policy=policy_of(thread.mailbox_id, thread.kind))
            # A thread closed and reopened resumes its old clock: a level it reached before is
            # not reached again.
            if transition is not None and not repository.transition_exists(
                db,
                thread_id=thread.id,
                clock_started_at=transition.clock_started_at,
                to_level=transition.to_level,
            ):
                db.add(transition)
                recorded.append(transition)
        db.flush()
        if len(threads) < SWEEP_BATCH:
            return recorded


def _advance(thread: Thread, *, now: datetime, policy: KindPolicy) -> ThreadTransition | None:
    if thread.clock_started_at is None:
        thread.next_transition_at = None
        return None
    clock = sla.clock_from(thread.clock_started_at, policy)
    level = clock.level_at(now)
    thread.next_transition_at = clock.next_change_after(now)
    if level == thread.sla_level:
        return None
    reached = max((at for at, name in clock.events() if name == level), default=clock.started_at)
    transition = ThreadTransition(
        thread_id=thread.id,
        clock_started_at=thread.clock_started_at,
        from_level=thread.sla_level,
        to_level=level,
        reached_at=reached,
        recorded_at=now,
    )
    thread.sla_level = level
    return transition


def transitions_due(
    db: Session, *, now: datetime, sla_settings: SlaSettings, marketplaces: Mapping[int, str]
) -> list[ThreadTransition]:
    """Record the levels reached since the last sweep, with each mailbox's marketplace policies
    (``marketplaces``: by mailbox id, from app.mailboxes.registry; Walmart for one not in it)."""

    def policy_of(mailbox_id: int, kind: ThreadKind) -> KindPolicy:
        return sla_settings.policy(
            marketplaces.get(mailbox_id, sla.DEFAULT_MARKETPLACE), kind.value
        )

    transitions = record_transitions(db, now=now, policy_of=policy_of)
    for t in transitions:
        log.info("thread %s: %s -> %s", t.thread_id, t.from_level or "new", t.to_level)
    return transitions
