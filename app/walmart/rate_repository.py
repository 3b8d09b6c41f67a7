"""Queries of Walmart's own response rate: the summary per window, the report's orders, the call
times that keep to Walmart's one call a minute, and the threads the reconciliation compares."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.models import (
    OrderCopy,
    ResponseEpisode,
    Thread,
    WalmartRate,
    WalmartRateRead,
    WalmartReportOrder,
)

# The columns of walmart_rate_reads holding each endpoint's last call.
CALL_COLUMNS = {"summary": "summary_called_at", "report": "report_called_at"}


def claim_call(
    db: Session, *, mailbox_id: int, endpoint: str, at: datetime, interval: timedelta
) -> bool:
    """Record a call of ``endpoint`` at ``at`` unless one was made less than ``interval`` ago;
    True when this call may go. Atomic, so two workers never both call within the interval."""
    column = CALL_COLUMNS[endpoint]
    db.execute(
        dialect_insert(db)(WalmartRateRead)
        .values(mailbox_id=mailbox_id)
        .on_conflict_do_nothing(index_elements=["mailbox_id"])
    )
    called = getattr(WalmartRateRead, column)
    taken = db.execute(
        update(WalmartRateRead)
        .where(
            WalmartRateRead.mailbox_id == mailbox_id,
            or_(called.is_(None), called <= at - interval),
        )
        .values({column: at})
        .execution_options(synchronize_session=False)
    )
    return bool(taken.rowcount)  # type: ignore[attr-defined]


def read_of(db: Session, mailbox_id: int) -> WalmartRateRead | None:
    return db.get(WalmartRateRead, mailbox_id)


def rates_of(db: Session, mailbox_ids: Sequence[int]) -> dict[int, dict[int, WalmartRate]]:
    """The summaries kept, by mailbox and window."""
    found: dict[int, dict[int, WalmartRate]] = {}
    for row in db.scalars(select(WalmartRate).where(WalmartRate.mailbox_id.in_(mailbox_ids))):
        found.setdefault(row.mailbox_id, {})[row.days] = row
    return found


def reads_of(db: Session, mailbox_ids: Sequence[int]) -> dict[int, WalmartRateRead]:
    rows = db.scalars(select(WalmartRateRead).where(WalmartRateRead.mailbox_id.in_(mailbox_ids)))
    return {row.mailbox_id: row for row in rows}


def save_rate(db: Session, values: dict[str, Any]) -> None:
    """Insert or replace the summary of (mailbox_id, days) after a read that succeeded."""
    statement = dialect_insert(db)(WalmartRate).values(**values)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["mailbox_id", "days"],
            set_={k: v for k, v in values.items() if k not in ("mailbox_id", "days")},
        )
    )


def save_rate_failure(
    db: Session, *, mailbox_id: int, days: int, at: datetime, kind: str, error: str
) -> None:
    """Record a failed summary read; figures read earlier stay as they were."""
    failure = {"attempted_at": at, "error_kind": kind, "error": error}
    statement = dialect_insert(db)(WalmartRate).values(
        mailbox_id=mailbox_id, days=days, no_data=False, **failure
    )
    db.execute(statement.on_conflict_do_update(index_elements=["mailbox_id", "days"], set_=failure))


def replace_report(
    db: Session, *, mailbox_id: int, days: int, at: datetime, orders: list[dict[str, Any]]
) -> None:
    """The report's orders replace the previous report's."""
    db.execute(delete(WalmartReportOrder).where(WalmartReportOrder.mailbox_id == mailbox_id))
    if orders:
        db.execute(insert(WalmartReportOrder), [{"mailbox_id": mailbox_id, **o} for o in orders])
    db.execute(
        update(WalmartRateRead)
        .where(WalmartRateRead.mailbox_id == mailbox_id)
        .values(
            report_days=days,
            report_fetched_at=at,
            report_attempted_at=at,
            report_error_kind=None,
            report_error=None,
        )
    )


def save_report_failure(
    db: Session, *, mailbox_id: int, at: datetime, kind: str, error: str
) -> None:
    db.execute(
        update(WalmartRateRead)
        .where(WalmartRateRead.mailbox_id == mailbox_id)
        .values(report_attempted_at=at, report_error_kind=kind, report_error=error)
    )


def report_orders(db: Session, mailbox_id: int) -> list[WalmartReportOrder]:
    return list(
        db.scalars(
            select(WalmartReportOrder)
            .where(WalmartReportOrder.mailbox_id == mailbox_id)
            .order_by(WalmartReportOrder.id)
        )
    )


def threads_with_orders(
    db: Session, *, mailbox_id: int, since: datetime
) -> list[tuple[Thread, str | None, str | None]]:
    """The mailbox's customer threads naming an order with a message since ``since``, each with
    the purchase and customer order numbers its order's copy resolved (None without a copy)."""
    rows = db.execute(
        select(Thread, OrderCopy.purchase_order_id, OrderCopy.customer_order_id)
        .outerjoin(
            OrderCopy,
            and_(
                OrderCopy.mailbox_id == Thread.mailbox_id,
                OrderCopy.order_number == Thread.order_number,
            ),
        )
        .where(
            Thread.mailbox_id == mailbox_id,
            Thread.order_number.is_not(None),
            Thread.has_customer_messages.is_(True),
            Thread.last_message_at >= since,
        )
        .order_by(Thread.id)
    )
    return [(thread, po, co) for thread, po, co in rows]


def episodes_of(
    db: Session, *, mailbox_id: int, since: datetime
) -> dict[int, list[ResponseEpisode]]:
    """The waits of the mailbox's threads naming an order that started since ``since``, by
    thread (a join, not a list of ids: a big mailbox has many threads)."""
    found: dict[int, list[ResponseEpisode]] = {}
    rows = db.scalars(
        select(ResponseEpisode)
        .join(Thread, Thread.id == ResponseEpisode.thread_id)
        .where(
            ResponseEpisode.mailbox_id == mailbox_id,
            ResponseEpisode.started_at >= since,
            Thread.order_number.is_not(None),
        )
        .order_by(ResponseEpisode.started_at)
    )
    for row in rows:
        found.setdefault(row.thread_id, []).append(row)
    return found
