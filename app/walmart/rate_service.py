"""Walmart's own response rate as the summary, the status page and the reconciliation show it.
Takes a session and never commits."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from app.errors import HttpError
from app.mailboxes import repository as mailbox_repository
from app.models import WalmartRate, WalmartRateRead
from app.walmart import rate_repository
from app.walmart.reconciliation import (
    MATCH_WINDOW,
    Difference,
    ThreadOrder,
    Wait,
    WalmartOrder,
    reconcile,
)

NOT_READ = (
    "not read yet: Walmart's figure is read once a day for mailboxes with Walmart API credentials"
)
NO_FIGURE = "Walmart has no figure yet (too few customer inquiries in the window)"


@dataclass(frozen=True)
class WalmartFigure:
    """Walmart's figure for one seller account (``rate_*`` fractions, as slawatch's)."""

    mailbox: str
    rate_30d: float | None
    rate_60d: float | None
    trend_30d: str | None
    risk_level: str | None
    impacted_customers_30d: int | None
    fetched_at: datetime | None


@dataclass(frozen=True)
class FigureOrReason:
    figure: WalmartFigure | None
    reason: str | None  # why there is no figure (None when there is one)


def figures_of(db: Session, mailboxes: Sequence[tuple[int, str]]) -> dict[int, FigureOrReason]:
    """Walmart's figure of each (mailbox id, name), or why there is none."""
    rates = rate_repository.rates_of(db, [mailbox_id for mailbox_id, _ in mailboxes])
    return {mailbox_id: _figure(name, rates.get(mailbox_id, {})) for mailbox_id, name in mailboxes}


def _figure(name: str, windows: dict[int, WalmartRate]) -> FigureOrReason:
    month, two = windows.get(30), windows.get(60)
    read = [w for w in (month, two) if w is not None and w.fetched_at is not None]
    if not read:
        failed = next((w for w in (month, two) if w is not None and w.error), None)
        return FigureOrReason(None, failed.error if failed else NOT_READ)
    if all(w.rate is None for w in read):
        return FigureOrReason(None, NO_FIGURE)
    return FigureOrReason(
        WalmartFigure(
            mailbox=name,
            rate_30d=month.rate if month else None,
            rate_60d=two.rate if two else None,
            trend_30d=month.trend if month else None,
            risk_level=(month.risk_level if month else None) or (two.risk_level if two else None),
            impacted_customers_30d=month.impacted_customers if month else None,
            fetched_at=max(w.fetched_at for w in read if w.fetched_at),
        ),
        None,
    )


def lowest(figures: Sequence[FigureOrReason]) -> FigureOrReason:
    """Of several seller accounts, the one furthest from Walmart's standard (each account must
    meet it on its own); the reason of the first when none has a figure."""
    known = [f.figure for f in figures if f.figure is not None]
    ranked = [f for f in known if f.rate_30d is not None or f.rate_60d is not None]
    if ranked:
        return FigureOrReason(min(ranked, key=_rate), None)
    if not figures:
        return FigureOrReason(None, "no mailbox")
    return FigureOrReason(None, next((f.reason for f in figures if f.reason), NOT_READ))


def _rate(figure: WalmartFigure) -> float:
    value = figure.rate_30d if figure.rate_30d is not None else figure.rate_60d
    return value if value is not None else 1.0


# ---- the reconciliation ---------------------------------------------------------------------


@dataclass(frozen=True)
class Reconciliation:
    mailbox: str
    read: WalmartRateRead | None
    orders: int  # rows in Walmart's report
    differences: list[Difference]

    @property
    def report_error(self) -> str | None:
        if self.read is None or self.read.report_fetched_at is None:
            if self.read is not None and self.read.report_error:
                return f"no report read yet: {self.read.report_error}"
            return "no report read yet: " + NOT_READ.removeprefix("not read yet: ")
        return None


def reconciliation(db: Session, *, mailbox_name: str | None, now: datetime) -> Reconciliation:
    if not mailbox_name:
        raise HttpError("give the mailbox to reconcile: ?mailbox=NAME")
    mailbox = mailbox_repository.mailbox_by_name(db, mailbox_name)
    if mailbox is None:
        raise HttpError(f"unknown mailbox {mailbox_name!r}")
    read = rate_repository.read_of(db, mailbox.id)
    if read is None or read.report_fetched_at is None:
        return Reconciliation(mailbox.name, read, 0, [])
    rows = rate_repository.report_orders(db, mailbox.id)
    report_at = read.report_fetched_at
    window_start = report_at - timedelta(days=read.report_days or 60)
    # A report row's message may have come a little before the window's start.
    since = window_start - MATCH_WINDOW
    threads = rate_repository.threads_with_orders(db, mailbox_id=mailbox.id, since=since)
    episodes = rate_repository.episodes_of(db, mailbox_id=mailbox.id, since=since)
    differences = reconcile(
        [
            WalmartOrder(
                purchase_order_id=r.purchase_order_id,
                customer_order_id=r.customer_order_id,
                received_at=r.received_at,
                responded_at=r.responded_at,
                in_time=r.in_time,
            )
            for r in rows
        ],
        [
            ThreadOrder(
                thread_id=thread.id,
                order_number=thread.order_number or "",
                purchase_order_id=po,
                customer_order_id=co,
                waits=[
                    Wait(
                        started_at=e.started_at,
                        due_at=e.due_at,
                        answered_at=e.answered_at,
                        channel=str(e.answered_channel) if e.answered_channel else None,
                    )
                    for e in episodes.get(thread.id, [])
                ],
            )
            for thread, po, co in threads
        ],
        connected_at=mailbox.created_at,
        window_start=window_start,
        report_at=report_at,
        now=now,
    )
    return Reconciliation(mailbox.name, read, len(rows), differences)
