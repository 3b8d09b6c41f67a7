"""Monitoring only (no [smtp] section): alerts are still recorded, each closed once as not
emailed, with no retries, no errors logged at every sweep and nothing mailed later in a flood."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.alerts.jobs import EMAIL_OFF, DeliveryReport, sweep
from app.clock import now
from app.config import AlertSettings, Settings
from app.db import session_scope
from app.enums import AlertState, FolderRole
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.models import Alert
from app.sla import policy_lookup
from tests.support.mailfactory import SELLER_ADDRESS, customer


def test_alerts_are_recorded_and_not_emailed(
    session_factory: sessionmaker[Session], database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with session_scope(session_factory) as db:
        for buyer, hours in (("Kim", 49), ("Lou", 40)):  # overdue, at risk
            store_message(
                db,
                mailbox_id=mailbox_repository.get_or_create_mailbox(db, "store-a").id,
                role=FolderRole.INBOX,
                raw=customer(buyer, order=f"10882927281{hours:04d}"),
                arrived_at=now() - timedelta(hours=hours),
                seller_addresses=frozenset({SELLER_ADDRESS}),
                policy_for=policy_lookup(Settings().sla, "walmart"),
            )
    settings = Settings(
        database_url=database_url,
        alerts=AlertSettings(recipients=["team@store.example"]),
    )
    assert settings.smtp is None

    with caplog.at_level(logging.WARNING):
        first = sweep(session_factory, settings, now=now())
        again = sweep(session_factory, settings, now=now() + timedelta(minutes=1))
        overdue = sweep(session_factory, settings, now=now() + timedelta(hours=9))  # Lou's

    assert len(first.alerts) == 2
    assert (first.delivery.skipped, first.delivery.failed, first.delivery.retrying) == (2, 0, 0)
    assert (again.alerts, again.delivery) == ([], DeliveryReport())  # nothing left over
    assert (len(overdue.alerts), overdue.delivery) == (1, DeliveryReport(skipped=1))
    with session_scope(session_factory) as db:
        alerts = list(db.scalars(select(Alert)))
    assert len(alerts) == 3
    assert {(a.state, a.last_error, a.attempts) for a in alerts} == {
        (AlertState.FAILED, EMAIL_OFF, 0)
    }
    assert caplog.records == []
