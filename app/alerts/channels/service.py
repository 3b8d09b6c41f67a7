"""Handing alerts to channels: each new alert gets one pending delivery per channel that wants it
(its events, mailboxes and clients), due when the alert is, so quiet hours and the digest slot
hold for the channels as for email. Works on any alert, whoever recorded it: the recorder needs to
know nothing of channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from app.alerts.channels import repository
from app.config import Settings
from app.enums import AlertState
from app.mailboxes import repository as mailbox_repository

ROUTE_BATCH = 500  # alerts routed per statement


@dataclass(frozen=True)
class Place:
    """Where an alert comes from, as channels are routed and show it."""

    mailbox: str
    client: str | None


def places(db: Session) -> dict[int, Place]:
    """Each mailbox's name and client, by mailbox id."""
    return {m.id: Place(m.name, m.client) for m in mailbox_repository.list_mailboxes(db)}


def route(db: Session, *, settings: Settings, now: datetime) -> int:
    """Record a delivery for each new alert and channel that wants it; the number recorded.
    Every new alert is marked as routed, with channels or without: a channel added later gets
    only the alerts raised after it."""
    channels = settings.alerts.channels
    where: dict[int, Place] | None = None
    recorded = 0
    while True:
        alerts = repository.lock_unrouted(db, limit=ROUTE_BATCH)
        if channels and alerts and where is None:
            where = places(db)
        rows: list[dict[str, Any]] = []
        for alert in alerts:
            place = (where or {}).get(alert.mailbox_id) if alert.mailbox_id else None
            for channel in channels:
                if channel.wants(
                    event=alert.kind,
                    mailbox=place.mailbox if place else None,
                    client=place.client if place else None,
                ):
                    rows.append(
                        {
                            "alert_id": alert.id,
                            "channel": channel.key,
                            "channel_kind": channel.kind,
                            "state": AlertState.PENDING,
                            "deliver_after": alert.deliver_after,
                            "attempts": 0,
                            "created_at": now,
                        }
                    )
        repository.insert_deliveries(db, rows)
        repository.mark_routed(db, [alert.id for alert in alerts], at=now)
        recorded += len(rows)
        if len(alerts) < ROUTE_BATCH:
            return recorded
