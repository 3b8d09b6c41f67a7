"""All queries of alert deliveries to channels."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.enums import AlertState
from app.models import Alert, AlertDelivery


def lock_unrouted(db: Session, *, limit: int) -> list[Alert]:
    """Alerts not yet handed to the channels, locked: a second process skips them (PostgreSQL)."""
    return list(
        db.scalars(
            select(Alert)
            .where(Alert.channels_routed_at.is_(None))
            .order_by(Alert.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def insert_deliveries(db: Session, rows: Sequence[dict[str, Any]]) -> None:
    """One executemany; a delivery of the same alert to the same channel recorded meanwhile is
    kept as it is (unique (alert, channel))."""
    if rows:
        statement = dialect_insert(db)(AlertDelivery.__table__).on_conflict_do_nothing(
            index_elements=["alert_id", "channel"]
        )
        db.execute(statement, list(rows))


def mark_routed(db: Session, alert_ids: Collection[int], *, at: datetime) -> None:
    if alert_ids:
        db.execute(
            update(Alert).where(Alert.id.in_(alert_ids)).values(channels_routed_at=at),
            execution_options={"synchronize_session": False},
        )


def lock_due(
    db: Session, *, now: datetime, channels: Collection[str], limit: int
) -> list[tuple[AlertDelivery, Alert]]:
    """Pending deliveries to configured channels whose time has come, with their alerts; the
    deliveries are locked, so a second process skips them (PostgreSQL). A channel taken out of
    the config keeps its pending deliveries untouched."""
    if not channels:
        return []
    rows = db.execute(
        select(AlertDelivery, Alert)
        .join(Alert, Alert.id == AlertDelivery.alert_id)
        .where(
            AlertDelivery.state == AlertState.PENDING,
            AlertDelivery.deliver_after <= now,
            AlertDelivery.channel.in_(channels),
        )
        # A channel's deliveries together: they make one digest where a batch holds them.
        .order_by(Alert.urgent.desc(), AlertDelivery.channel, AlertDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=AlertDelivery)
    )
    return [(delivery, alert) for delivery, alert in rows]


def of_alerts(db: Session, alert_ids: Collection[int]) -> list[AlertDelivery]:
    if not alert_ids:
        return []
    return list(
        db.scalars(
            select(AlertDelivery)
            .where(AlertDelivery.alert_id.in_(alert_ids))
            .order_by(AlertDelivery.id)
        )
    )
