"""Walmart's own Seller Response Rate, read once a day per mailbox with API credentials: the
summary over 30 and 60 days and the report of the orders behind the 60 days.

Walmart allows one call a minute per seller to each of these endpoints. A call is recorded in the
database (its own short commit) before it is made, and none is made within a minute of the last
one, so the limit holds across workers and restarts; a 429 is not waited out within the call (the
wait would not get past the limit) but tried again at a later round. The summary's two windows
are read a minute apart, at successive rounds of the job. Each call is made with no session open.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.config import MailboxSettings, Settings
from app.db import session_scope
from app.errors import WalmartApiError
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.models import WalmartRate, WalmartRateRead
from app.walmart import rate_repository
from app.walmart import repository as order_repository
from app.walmart.client import WalmartClient
from app.walmart.service import HEALTH_KINDS
from app.walmart.srr_documents import (
    RateSummary,
    ReportOrder,
    UnreadableDocument,
    no_data,
    parse_report,
    parse_summary,
)

log = logging.getLogger(__name__)

SUMMARY_PATH = "/v3/insights/performance/srr/summary"
REPORT_PATH = "/v3/insights/performance/srr/report"
WINDOWS = (30, 60)
REPORT_DAYS = 60  # the report covers both windows
RATE_SECONDS = 60  # how often the job looks for due reads
CALL_INTERVAL = timedelta(minutes=1)  # Walmart: one call a minute per seller and endpoint
REFRESH_AFTER = timedelta(days=1)  # Walmart refreshes these figures once a day
RETRY_AFTER = timedelta(minutes=15)  # after a failed read
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ---- the calls (no database) --------------------------------------------------------------


def fetch_summary(mailbox: MailboxSettings, days: int) -> RateSummary | WalmartApiError:
    try:
        answer = WalmartClient(mailbox).get(
            SUMMARY_PATH, {"reportDuration": str(days)}, rate_limit_waits=0
        )
        if answer.status == 204:
            return no_data(days)
        if answer.status != 200:
            return _refused(answer.status, "the response rate summary")
        return parse_summary(answer.body, days=days)
    except WalmartApiError as e:
        return e
    except UnreadableDocument as e:
        return WalmartApiError("unreachable", f"Walmart's summary could not be read: {e}")


def fetch_report(mailbox: MailboxSettings, days: int) -> list[ReportOrder] | WalmartApiError:
    try:
        answer = WalmartClient(mailbox).get(
            REPORT_PATH,
            {"reportDuration": str(days)},
            accept=f"application/octet-stream, {XLSX}",
            rate_limit_waits=0,
        )
        if answer.status == 204:
            return []
        if answer.status != 200:
            return _refused(answer.status, "the response rate report")
        return parse_report(answer.content)
    except WalmartApiError as e:
        return e
    except UnreadableDocument as e:
        return WalmartApiError("unreachable", f"Walmart's report could not be read: {e}")


def _refused(status: int, what: str) -> WalmartApiError:
    if status == 403:
        return WalmartApiError(
            "forbidden",
            f"Walmart refused {what} (HTTP 403): the API key needs the Insights permission",
        )
    if status == 404:
        return WalmartApiError("not_found", f"Walmart has no {what} for this seller (HTTP 404)")
    return WalmartApiError("unreachable", f"Walmart answered HTTP {status} for {what}")


# ---- keeping what a call gave (takes a session, never commits) ----------------------------


def store_summary(
    db: Session, *, mailbox_id: int, days: int, outcome: RateSummary | WalmartApiError, at: datetime
) -> None:
    if isinstance(outcome, WalmartApiError):
        rate_repository.save_rate_failure(
            db, mailbox_id=mailbox_id, days=days, at=at, kind=outcome.kind, error=outcome.reason
        )
        _health(db, mailbox_id, at, outcome)
        return
    rate_repository.save_rate(
        db,
        {
            "mailbox_id": mailbox_id,
            "days": days,
            "rate": outcome.rate,
            "trend": outcome.trend,
            "impacted_customers": outcome.impacted_customers,
            "risk_level": outcome.risk_level,
            "no_data": outcome.no_data,
            "fetched_at": at,
            "attempted_at": at,
            "error_kind": None,
            "error": None,
        },
    )
    _health(db, mailbox_id, at, None)


def store_report(
    db: Session,
    *,
    mailbox_id: int,
    days: int,
    outcome: list[ReportOrder] | WalmartApiError,
    at: datetime,
) -> None:
    if isinstance(outcome, WalmartApiError):
        rate_repository.save_report_failure(
            db, mailbox_id=mailbox_id, at=at, kind=outcome.kind, error=outcome.reason
        )
        _health(db, mailbox_id, at, outcome)
        return
    rate_repository.replace_report(
        db,
        mailbox_id=mailbox_id,
        days=days,
        at=at,
        orders=[
            {
                "purchase_order_id": o.purchase_order_id,
                "customer_order_id": o.customer_order_id,
                "received_at": o.received_at,
                "responded_at": o.responded_at,
                "in_time": o.in_time,
                "row": o.row,
            }
            for o in outcome
        ],
    )
    _health(db, mailbox_id, at, None)


def _health(db: Session, mailbox_id: int, at: datetime, failure: WalmartApiError | None) -> None:
    """The API's health on the mailbox, as the order reads keep it."""
    if failure is not None and failure.kind not in HEALTH_KINDS:
        return
    order_repository.record_health(
        db,
        mailbox_id=mailbox_id,
        at=at,
        kind=failure.kind if failure else None,
        error=failure.reason if failure else None,
    )


# ---- the job --------------------------------------------------------------------------------


def _due(fetched_at: datetime | None, attempted_at: datetime | None, at: datetime) -> bool:
    """A day old or never read, and not a failed attempt of the last RETRY_AFTER."""
    fresh = fetched_at is not None and fetched_at > at - REFRESH_AFTER
    failed_lately = (
        attempted_at is not None
        and (fetched_at is None or attempted_at > fetched_at)
        and attempted_at > at - RETRY_AFTER
    )
    return not fresh and not failed_lately


@dataclass(frozen=True)
class _Work:
    mailbox: MailboxSettings
    mailbox_id: int
    summary_days: int | None  # the window whose summary to read now, if any
    report: bool


def _plan(
    mailbox: MailboxSettings,
    mailbox_id: int,
    rates: dict[int, WalmartRate],
    read: WalmartRateRead | None,
    at: datetime,
) -> _Work:
    summary_days = next(
        (
            days
            for days in WINDOWS
            if days not in rates or _due(rates[days].fetched_at, rates[days].attempted_at, at)
        ),
        None,
    )
    report = read is None or _due(read.report_fetched_at, read.report_attempted_at, at)
    return _Work(mailbox, mailbox_id, summary_days, report)


def refresh_rates(
    session_factory: sessionmaker[Session], settings: Settings, *, at: datetime
) -> int:
    """One round: for each mailbox with API credentials, at most one summary call and one report
    call, for what is a day old or missing, and only a minute after the last call of each
    endpoint. Returns how many calls were made."""
    with session_scope(session_factory) as db:
        mailboxes = []
        for mailbox in registry.active(db, settings):
            row = mailbox_repository.mailbox_by_name(db, mailbox.name)
            if mailbox.has_walmart_api and row is not None:
                mailboxes.append((mailbox, row.id))
        ids = [mailbox_id for _, mailbox_id in mailboxes]
        rates = rate_repository.rates_of(db, ids)
        reads = rate_repository.reads_of(db, ids)
        plans = [
            _plan(mailbox, mailbox_id, rates.get(mailbox_id, {}), reads.get(mailbox_id), at)
            for mailbox, mailbox_id in mailboxes
        ]
    calls = 0
    for work in plans:
        try:
            calls += _run(session_factory, work, at)
        except Exception:  # one mailbox's surprise must not leave the others' figures stale
            log.exception("mailbox %s: reading Walmart's response rate failed", work.mailbox.name)
    return calls


def _run(session_factory: sessionmaker[Session], work: _Work, at: datetime) -> int:
    calls = 0
    mailbox_id = work.mailbox_id
    if work.summary_days is not None and _claim(session_factory, work, "summary", at):
        days = work.summary_days
        summary = fetch_summary(work.mailbox, days)
        calls += 1
        _keep(
            session_factory,
            work,
            summary,
            lambda db: store_summary(db, mailbox_id=mailbox_id, days=days, outcome=summary, at=at),
        )
        if isinstance(summary, WalmartApiError) and summary.kind in ("auth", "config"):
            return calls  # the report would be refused the same way
    if work.report and _claim(session_factory, work, "report", at):
        report = fetch_report(work.mailbox, REPORT_DAYS)
        calls += 1
        _keep(
            session_factory,
            work,
            report,
            lambda db: store_report(
                db, mailbox_id=mailbox_id, days=REPORT_DAYS, outcome=report, at=at
            ),
        )
    return calls


def _claim(
    session_factory: sessionmaker[Session], work: _Work, endpoint: str, at: datetime
) -> bool:
    with session_scope(session_factory) as db:
        return rate_repository.claim_call(
            db, mailbox_id=work.mailbox_id, endpoint=endpoint, at=at, interval=CALL_INTERVAL
        )


def _keep(
    session_factory: sessionmaker[Session],
    work: _Work,
    outcome: object,
    store: Callable[[Session], None],
) -> None:
    """Keep a call's outcome in a unit of work of its own."""
    if isinstance(outcome, WalmartApiError):
        log.warning("mailbox %s: Walmart's response rate not read: %s", work.mailbox.name, outcome)
    try:
        with session_scope(session_factory) as db:
            store(db)
    except SQLAlchemyError as e:
        log.error("mailbox %s: Walmart's response rate read but not kept: %s", work.mailbox.name, e)
