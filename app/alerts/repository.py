"""All queries of alerts."""

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.enums import AlertState
from app.models import Alert


def exists(db: Session, dedupe_key: str) -> bool:
    return db.scalar(select(Alert.id).where(Alert.dedupe_key == dedupe_key)) is not None


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
