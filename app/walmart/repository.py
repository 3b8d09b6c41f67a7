"""Queries of the order copies and of the Walmart API's health on the mailboxes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, select, update
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.models import Mailbox, OrderCopy, Thread


def copy_of(db: Session, *, mailbox_id: int, order_number: str) -> OrderCopy | None:
    return db.scalar(
        select(OrderCopy).where(
            OrderCopy.mailbox_id == mailbox_id, OrderCopy.order_number == order_number
        )
    )


def save_read(db: Session, values: dict[str, Any]) -> None:
    """Insert or replace the copy of (mailbox_id, order_number) after a read that succeeded."""
    statement = dialect_insert(db)(OrderCopy).values(**values)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["mailbox_id", "order_number"],
            set_={k: v for k, v in values.items() if k not in ("mailbox_id", "order_number")},
        )
    )


def save_failure(
    db: Session, *, mailbox_id: int, order_number: str, at: datetime, kind: str, error: str
) -> None:
    """Record a failed read; a copy read earlier stays as it was."""
    failure = {"attempted_at": at, "error_kind": kind, "error": error}
    statement = dialect_insert(db)(OrderCopy).values(
        mailbox_id=mailbox_id, order_number=order_number, **failure
    )
    db.execute(
        statement.on_conflict_do_update(index_elements=["mailbox_id", "order_number"], set_=failure)
    )


def _threads_and_copies(*columns: Any) -> Select[Any]:
    """``columns`` of each thread naming an order, beside its order's copy (if any)."""
    return (
        select(*columns)
        .outerjoin(
            OrderCopy,
            and_(
                OrderCopy.mailbox_id == Thread.mailbox_id,
                OrderCopy.order_number == Thread.order_number,
            ),
        )
        .where(Thread.order_number.is_not(None))
    )


def never_read(db: Session, *, mailbox_id: int, limit: int) -> list[str]:
    """Order numbers of the mailbox's threads with no copy and no attempt yet, newest thread
    first (threads just created by a poll)."""
    rows = db.scalars(
        _threads_and_copies(Thread.order_number)
        .where(Thread.mailbox_id == mailbox_id, OrderCopy.id.is_(None))
        .order_by(Thread.created_at.desc(), Thread.id.desc())
        .limit(limit * 2)  # two threads may name one order
    )
    return list(dict.fromkeys(number for number in rows if number))[:limit]


def stale_of_waiting(
    db: Session, *, mailbox_id: int, attempted_before: datetime, limit: int
) -> list[str]:
    """Order numbers of the mailbox's waiting threads (a clock running) whose copy was last
    tried before ``attempted_before``, or never: least recently tried first."""
    rows = db.scalars(
        _threads_and_copies(Thread.order_number)
        .where(
            Thread.mailbox_id == mailbox_id,
            Thread.due_at.is_not(None),
            Thread.closed_at.is_(None),
            (OrderCopy.id.is_(None)) | (OrderCopy.attempted_at < attempted_before),
        )
        .order_by(OrderCopy.attempted_at.is_not(None), OrderCopy.attempted_at, Thread.id)
        .limit(limit * 2)
    )
    return list(dict.fromkeys(number for number in rows if number))[:limit]


def record_health(
    db: Session, *, mailbox_id: int, at: datetime, kind: str | None, error: str | None
) -> None:
    """The API's last success (``error`` None) or failure on the mailbox."""
    values: dict[str, Any] = (
        {"walmart_ok_at": at}
        if error is None
        else {"walmart_error_at": at, "walmart_error_kind": kind, "walmart_error": error}
    )
    db.execute(update(Mailbox).where(Mailbox.id == mailbox_id).values(**values))
