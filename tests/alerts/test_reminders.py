"""Reminders before the deadline (remind_before_hours): each a level the sweep records and alerts
once, on both backends, however often it runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.alerts.emails import subject_line
from app.alerts.jobs import sweep
from app.clock import now
from app.config import AlertSettings, Settings, SlaSettings
from app.enums import ThreadKind, ThreadSource
from app.models import Alert, Mailbox, Thread


def waiting_thread(db: Session, *, started: datetime) -> int:
    mailbox = Mailbox(name="store")
    db.add(mailbox)
    db.flush()
    thread = Thread(
        mailbox_id=mailbox.id,
        kind=ThreadKind.CUSTOMER,
        source=ThreadSource.INBOX,
        subject="Where is my lamp?",
        counterpart="buyer@relay.walmart.com",
        order_number="108829272810783",
        has_customer_messages=True,
        clock_started_at=started,
        due_at=started + timedelta(hours=48),
        at_risk_at=started + timedelta(hours=36),
        sla_level="waiting",
        next_transition_at=started,
        message_count=1,
    )
    db.add(thread)
    db.flush()
    return thread.id


def test_each_reminder_is_recorded_and_alerted_once_before_the_breach(
    database_url: str, session_factory: sessionmaker[Session]
) -> None:
    at = now()
    started = at - timedelta(hours=43)  # 5 h left: past the 6 h reminder
    with session_factory.begin() as db:
        thread_id = waiting_thread(db, started=started)
    settings = Settings(
        database_url=database_url,
        sla=SlaSettings(remind_before_hours=[6, 2, 1]),
        alerts=AlertSettings(recipients=["team@store.example"]),
    )

    def kinds_after(hours: float) -> list[str]:
        moment = started + timedelta(hours=hours)
        for _ in range(3):  # repeated sweeps at the same moment add nothing
            sweep(session_factory, settings, now=moment)
        with session_factory() as db:
            return list(
                db.scalars(
                    select(Alert.kind).where(Alert.thread_id == thread_id).order_by(Alert.id)
                )
            )

    assert kinds_after(43) == ["remind_6h"]
    assert kinds_after(45) == ["remind_6h"]
    assert kinds_after(46.5) == ["remind_6h", "remind_2h"]
    assert kinds_after(47.5) == ["remind_6h", "remind_2h", "remind_1h"]
    assert kinds_after(48.5) == ["remind_6h", "remind_2h", "remind_1h", "overdue"]
    with session_factory() as db:
        reminder = db.scalars(select(Alert).where(Alert.kind == "remind_1h")).one()
        assert reminder.detail["level"] == "remind_1h"
        assert reminder.recipients == ["team@store.example"]
        assert subject_line([reminder]).startswith("[slawatch] 1 h left: Where is my lamp?")
