"""Small factories for the channel tests: a mailbox, threads whose clocks have run a while, and
settings with a Slack, a Teams and a webhook channel pointing at the local receiver."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from app.config import AlertChannel, AlertSettings, Settings
from app.enums import ThreadKind, ThreadSource
from app.models import Mailbox, Thread
from tests.support.chat_receiver import ChatReceiver

SLACK_ENV = "SLAWATCH_TEST_SLACK_URL"
WEBHOOK_ENV = "SLAWATCH_TEST_WEBHOOK_URL"
WEBHOOK_SECRET_ENV = "SLAWATCH_TEST_WEBHOOK_SECRET"
WEBHOOK_KEY = "webhook-signing-key-" + "9" * 16
BASE_URL = "https://slawatch.store.example"
# The tests' settings maker (the ``channels`` fixture): keyword arguments go to [alerts].
ChannelSettings = Callable[..., Settings]


def mailbox(db: Session, name: str = "store-1", client: str | None = "acme") -> int:
    db.add(Mailbox(name=name, client=client))
    db.flush()
    return db.scalars(select(Mailbox.id).where(Mailbox.name == name)).one()


def threads(
    db: Session, mailbox_id: int, *, waited_hours: float, count: int = 1, at: datetime
) -> list[int]:
    """``count`` customer threads whose 48-hour clock started ``waited_hours`` before ``at``."""
    started = at - timedelta(hours=waited_hours)
    # Labelled by how many threads came before, not by id: PostgreSQL's ids keep counting
    # across the tests that used the same database.
    first = db.scalar(select(func.count(Thread.id))) or 0
    last_id = db.scalar(select(func.max(Thread.id))) or 0
    db.execute(
        insert(Thread),
        [
            {
                "mailbox_id": mailbox_id,
                "kind": ThreadKind.CUSTOMER,
                "source": ThreadSource.INBOX,
                "subject": f"Lamp <broken> & late #{first + i}",
                "counterpart": f"buyer{first + i}@relay.walmart.com",
                "order_number": f"10882927281{first + i:04d}",
                "has_customer_messages": True,
                "clock_started_at": started,
                "due_at": started + timedelta(hours=48),
                "at_risk_at": started + timedelta(hours=36),
                "sla_level": "waiting",
                "next_transition_at": started,
                "message_count": 1,
            }
            for i in range(count)
        ],
    )
    return list(db.scalars(select(Thread.id).where(Thread.id > last_id).order_by(Thread.id)))


def channel_settings(
    database_url: str,
    chat: ChatReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    webhook_events: list[str] | None = None,
    **alerts: object,
) -> Settings:
    """Slack by url_env, Teams by url_file, a signed webhook; no email recipients (the channels
    are what is tested)."""
    monkeypatch.setenv(SLACK_ENV, chat.url(chat.slack_path))
    monkeypatch.setenv(WEBHOOK_ENV, chat.url(chat.webhook_path))
    monkeypatch.setenv(WEBHOOK_SECRET_ENV, WEBHOOK_KEY)
    teams_file = tmp_path / "teams-url"
    teams_file.write_text(chat.url(chat.teams_path) + "\n")
    return Settings(
        database_url=database_url,
        base_url=BASE_URL,
        alerts=AlertSettings(
            channels=[
                AlertChannel(kind="slack", url_env=SLACK_ENV),
                AlertChannel(kind="teams", name="ops-teams", url_file=str(teams_file)),
                AlertChannel(
                    kind="webhook",
                    url_env=WEBHOOK_ENV,
                    secret_env=WEBHOOK_SECRET_ENV,
                    events=webhook_events,
                ),
            ],
            **alerts,  # type: ignore[arg-type]
        ),
    )
