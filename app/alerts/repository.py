"""All queries of alerts."""

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.enums import AlertState
from app.models import Alert


def exists(db: Session, dedupe_key: str) -> bool:
    return db.scalar(select(Alert.id).where(Alert.dedupe_key == dedupe_key)) is not None


def existing_keys(db: Session, dedupe_keys: Collection[str]) -> set[str]:
    if not dedupe_keys:
        return set()
    return set(db.scalars(select(Alert.dedupe_key).where(Alert.dedupe_key.in_(dedupe_keys))))


def insert_alerts(db: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert alerts in one executemany; an event another process alerted meanwhile keeps its
    alert (its key is unique)."""
    if rows:
        statement = dialect_insert(db)(Alert.__table__).on_conflict_do_nothing(
            index_elements=["dedupe_key"]
        )
        db.execute(statement, list(rows))


def lock_due(db: Session, *, now: datetime, limit: int) -> list[Alert]:
    """Pending alerts whose time has come, locked: a second process skips them (PostgreSQL)."""
    return list(
        db.scalars(
            select(Alert)
            .where(Alert.state == AlertState.PENDING, Alert.deliver_after <= now)
            .order_by(Alert.urgent.desc(), Alert.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )


def recent(
    db: Session, *, state: AlertState | None, before_id: int | None, limit: int
) -> list[Alert]:
    query = select(Alert).order_by(Alert.id.desc()).limit(limit)
    if state is not None:
        query = query.where(Alert.state == state)
    if before_id is not None:
        query = query.where(Alert.id < before_id)
    return list(db.scalars(query))
