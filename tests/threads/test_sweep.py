"""The batched sweep on both backends: more threads due than one batch holds, some of them
reopened with a level they reached before; each level recorded once, each alert raised once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from app.alerts.jobs import sweep
from app.clock import now
from app.config import AlertSettings, Settings
from app.enums import ThreadKind, ThreadSource
from app.models import Alert, Mailbox, Thread, ThreadTransition
from app.threads.sweep import SWEEP_BATCH

THREADS = 2 * SWEEP_BATCH + 500  # three batches, the last one partial
REOPENED = 300  # threads that reached "at risk" before they were closed and reopened


def test_a_sweep_over_several_batches_records_each_level_and_alert_once(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    at = now()
    started = at - timedelta(hours=40)  # 40 h into 48: at risk
    with session_factory.begin() as db:
        db.add(Mailbox(name="store"))
        db.flush()
        mailbox_id = db.scalars(select(Mailbox.id)).one()
        db.execute(
            insert(Thread),
            [
                {
                    "mailbox_id": mailbox_id,
                    "kind": ThreadKind.CUSTOMER,
                    "source": ThreadSource.SPAM if i % 7 == 0 else ThreadSource.INBOX,
                    "subject": f"Question {i}",
                    "counterpart": f"buyer{i}@relay.walmart.com",
                    "has_customer_messages": True,
                    "clock_started_at": started,
                    "due_at": started + timedelta(hours=48),
                    "at_risk_at": started + timedelta(hours=36),
                    # The reopened ones were at risk, closed, and start again as waiting.
                    "sla_level": "waiting",
                    "next_transition_at": started + timedelta(hours=36),
                    "message_count": 1,
                }
                for i in range(THREADS)
            ],
        )
        ids = sorted(db.scalars(select(Thread.id)))
        db.execute(
            insert(ThreadTransition),
            [
                {
                    "thread_id": thread_id,
                    "clock_started_at": started,
                    "from_level": "waiting",
                    "to_level": "at_risk",
                    "reached_at": started + timedelta(hours=36),
                    "recorded_at": started + timedelta(hours=36),
                }
                for thread_id in ids[:REOPENED]
            ],
        )
    settings = Settings(
        database_url=database_url,
        alerts=AlertSettings(recipients=["team@store.example"], from_address="s@store.example"),
    )

    first = sweep(session_factory, settings, now=at)

    fresh = THREADS - REOPENED
    assert len(first.transitions) == fresh
    assert {(t.from_level, t.to_level) for t in first.transitions} == {("waiting", "at_risk")}
    assert len(first.alerts) == fresh
    with session_factory() as db:
        assert db.scalar(select(func.count(ThreadTransition.id))) == THREADS
        assert db.scalar(select(func.count(Alert.id))) == fresh
        levels = db.execute(select(Thread.sla_level, Thread.next_transition_at)).all()
        # Every thread, reopened or not, now stands at risk and is looked at again when due.
        assert {level for level, _ in levels} == {"at_risk"}
        assert {next_at for _, next_at in levels} == {started + timedelta(hours=48)}
        alert = db.scalars(select(Alert).where(Alert.thread_id == ids[-1])).one()
        assert alert.detail["subject"] == f"Question {THREADS - 1}"
        assert alert.recipients == ["team@store.example"]
        in_spam = next(i for i in range(REOPENED, THREADS) if i % 7 == 0)
        spam = db.scalars(select(Alert).where(Alert.thread_id == ids[in_spam])).one()
        assert spam.detail["found_in_spam"] is True

    again = sweep(session_factory, settings, now=at)
    assert (again.transitions, again.alerts) == ([], [])

    overdue = sweep(session_factory, settings, now=at + timedelta(hours=9))
    assert len(overdue.transitions) == THREADS
    assert {(t.from_level, t.to_level) for t in overdue.transitions} == {("at_risk", "overdue")}
    with session_factory() as db:
        assert db.scalar(select(func.count(ThreadTransition.id))) == 2 * THREADS
        assert db.scalar(select(Thread.next_transition_at).limit(1)) is None
