"""Walmart's own Seller Response Rate read by the job against the real HTTP double: the summary
over 30 and 60 days and the .xlsx report are stored; one call a minute per endpoint and seller,
also across a restart (a new job, nothing in memory); 401 and 429 handled by the client; failures
on the mailbox's health."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from app.clock import set_clock
from app.config import MailboxSettings, Settings, WorkerSettings
from app.db import session_scope
from app.errors import WalmartApiError
from app.mailboxes import service as mailbox_service
from app.models import Lease, Mailbox, WalmartRate, WalmartRateRead, WalmartReportOrder
from app.walmart import response_rate
from app.worker import RATE_LEASE, Worker
from tests.support.polling import wait_for
from tests.support.walmart_api import SRR_PREFIX, FakeWalmart, srr_row, walmart_mailbox

START = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> Iterator[list[datetime]]:
    current = [START]
    set_clock(lambda: current[0])
    yield current
    set_clock(None)


def _setup(
    walmart: FakeWalmart, database_url: str, session_factory: sessionmaker[Session]
) -> tuple[MailboxSettings, Settings]:
    mailbox = walmart_mailbox(walmart)
    settings = Settings(database_url=database_url, mailboxes=[mailbox])
    with session_scope(session_factory) as db:
        mailbox_service.sync_configured(db, settings)
    walmart.state.srr_report = [
        srr_row(
            "108829272810783",
            "200011419023224",
            received="2026-11-20T10:00:00+00:00",
            responded="2026-11-20T12:00:00+00:00",
            in_time=True,
        ),
        srr_row(
            "108829272810784",
            "200011419023225",
            received="2026-11-21T10:00:00+00:00",
            responded=None,
            in_time=False,
        ),
    ]
    return mailbox, settings


def _rates(session_factory: sessionmaker[Session]) -> dict[int, WalmartRate]:
    with session_factory() as db:
        return {r.days: r for r in db.scalars(select(WalmartRate))}


def _srr_calls(walmart: FakeWalmart) -> list[str]:
    return [
        f"{s.path.removeprefix(SRR_PREFIX)}:{s.query.get('reportDuration')}"
        for s in walmart.seen
        if s.path.startswith(SRR_PREFIX)
    ]


def _run(session_factory: sessionmaker[Session], settings: Settings, at: datetime) -> int:
    return response_rate.refresh_rates(session_factory, settings, at=at)


def test_the_job_stores_both_windows_and_the_report_a_minute_apart(
    walmart: FakeWalmart,
    database_url: str,
    session_factory: sessionmaker[Session],
    clock: list[datetime],
) -> None:
    _, settings = _setup(walmart, database_url, session_factory)

    assert _run(session_factory, settings, clock[0]) == 2  # the 30-day summary and the report
    assert _srr_calls(walmart) == ["summary:30", "report:60"]
    # Within the minute nothing more is called, however often the job runs.
    clock[0] += timedelta(seconds=30)
    assert _run(session_factory, settings, clock[0]) == 0
    clock[0] += timedelta(seconds=31)
    assert _run(session_factory, settings, clock[0]) == 1
    assert _srr_calls(walmart) == ["summary:30", "report:60", "summary:60"]
    assert walmart.state.srr_refused == 0  # the double's one-a-minute limit was never hit

    rates = _rates(session_factory)
    assert rates[30].rate == pytest.approx(0.965) and rates[60].rate == pytest.approx(0.9725)
    assert rates[30].trend == "GREEN_UP" and rates[30].risk_level == "GOOD"
    assert rates[30].impacted_customers == 2 and rates[30].error is None
    with session_factory() as db:
        orders = list(db.scalars(select(WalmartReportOrder).order_by(WalmartReportOrder.id)))
        read = db.scalar(select(WalmartRateRead))
        mailbox = db.scalar(select(Mailbox))
    assert [(o.purchase_order_id, o.customer_order_id, o.in_time) for o in orders] == [
        ("108829272810783", "200011419023224", True),
        ("108829272810784", "200011419023225", False),
    ]
    assert orders[0].received_at == datetime(2026, 11, 20, 10, tzinfo=UTC)
    assert orders[0].responded_at == datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert orders[1].responded_at is None
    assert orders[0].row["Responded Within 48 Hours"] == "Yes"
    assert read is not None and read.report_days == 60 and read.report_fetched_at == START
    assert mailbox is not None and mailbox.walmart_ok_at is not None

    # Fresh for a day: nothing is read again until then.
    clock[0] += timedelta(hours=23)
    assert _run(session_factory, settings, clock[0]) == 0
    clock[0] = START + timedelta(days=1, minutes=1)
    assert _run(session_factory, settings, clock[0]) == 2
    walmart.assert_read_only()


def test_the_limit_holds_across_a_restart_and_a_429_is_not_waited_out(
    walmart: FakeWalmart,
    database_url: str,
    session_factory: sessionmaker[Session],
    clock: list[datetime],
) -> None:
    _, settings = _setup(walmart, database_url, session_factory)
    # Another process called the report 20 s ago (the double remembers it): its time is in
    # the database, so this worker, just started, waits for the minute to pass.
    walmart.state.srr_calls[SRR_PREFIX + "report"] = clock[0] - timedelta(seconds=20)
    with session_scope(session_factory) as db:
        mailbox_id = db.scalars(select(Mailbox.id)).one()
        db.add(
            WalmartRateRead(
                mailbox_id=mailbox_id, report_called_at=clock[0] - timedelta(seconds=20)
            )
        )
    assert _run(session_factory, settings, clock[0]) == 1
    assert _srr_calls(walmart) == ["summary:30"]
    clock[0] += timedelta(seconds=41)  # the report's minute is over, not the summary's
    assert _run(session_factory, settings, clock[0]) == 1
    assert _srr_calls(walmart) == ["summary:30", "report:60"]
    clock[0] += timedelta(seconds=20)
    assert _run(session_factory, settings, clock[0]) == 1
    assert _srr_calls(walmart) == ["summary:30", "report:60", "summary:60"]
    assert walmart.state.srr_refused == 0

    # Walmart refusing (its own limit, some other caller): recorded, not retried in the call.
    walmart.state.srr_calls[SRR_PREFIX + "summary"] = clock[0] + timedelta(seconds=30)
    with session_scope(session_factory) as db:
        day_old = START - timedelta(days=2)
        db.execute(update(WalmartRate).values(fetched_at=day_old, attempted_at=day_old))
    clock[0] += timedelta(seconds=60)
    before = len(walmart.seen)
    assert _run(session_factory, settings, clock[0]) == 1
    assert len(walmart.seen) == before + 1  # one 429, no wait and retry
    rate = _rates(session_factory)[30]
    assert rate.error_kind == "rate_limited" and rate.rate == pytest.approx(0.965)  # kept
    # Tried again after RETRY_AFTER, then read.
    clock[0] += response_rate.RETRY_AFTER + timedelta(seconds=1)
    assert _run(session_factory, settings, clock[0]) == 1
    assert _rates(session_factory)[30].error is None


def test_an_expired_token_is_renewed_once_and_a_429_is_reported(
    walmart: FakeWalmart,
    database_url: str,
    session_factory: sessionmaker[Session],
    clock: list[datetime],
) -> None:
    mailbox, settings = _setup(walmart, database_url, session_factory)
    first = response_rate.fetch_summary(mailbox, 30)
    assert not isinstance(first, Exception) and first.rate == pytest.approx(0.965)
    walmart.expire_tokens()
    clock[0] += timedelta(minutes=2)
    outcome = response_rate.fetch_summary(mailbox, 60)
    assert not isinstance(outcome, Exception) and outcome.rate == pytest.approx(0.9725)
    assert walmart.token_requests() == 2  # one new token after the 401

    walmart.knobs.rate_limited = 1
    clock[0] += timedelta(minutes=2)
    failed = response_rate.fetch_report(mailbox, 60)
    assert isinstance(failed, WalmartApiError) and failed.kind == "rate_limited"
    assert sum(1 for s in walmart.seen if s.path == SRR_PREFIX + "report") == 1


def test_no_figure_yet_and_a_key_without_insights_show_as_such(
    walmart: FakeWalmart,
    database_url: str,
    session_factory: sessionmaker[Session],
    clock: list[datetime],
) -> None:
    _, settings = _setup(walmart, database_url, session_factory)
    walmart.knobs.srr_no_data = True
    assert _run(session_factory, settings, clock[0]) == 2
    rate = _rates(session_factory)[30]
    assert rate.no_data and rate.rate is None and rate.fetched_at == START

    walmart.knobs.failing = 502
    clock[0] += timedelta(seconds=61)
    assert _run(session_factory, settings, clock[0]) == 1
    with session_factory() as db:
        row = db.scalar(select(Mailbox))
        assert row is not None and row.walmart_error and "502" in row.walmart_error
    assert _rates(session_factory)[60].error_kind == "unreachable"

    walmart.knobs.failing = None
    walmart.knobs.forbid_insights = True
    clock[0] += response_rate.RETRY_AFTER + timedelta(seconds=1)
    assert _run(session_factory, settings, clock[0]) == 1
    forbidden = _rates(session_factory)[60]
    assert forbidden.error_kind == "forbidden" and "Insights permission" in (forbidden.error or "")


def test_a_worker_reads_walmarts_rate_under_its_lease(
    walmart: FakeWalmart, database_url: str, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    mailbox = walmart_mailbox(walmart, idle=False, poll_seconds=300)
    settings = Settings(
        database_url=database_url, mailboxes=[mailbox], worker=WorkerSettings(lease_seconds=20)
    )
    worker = Worker(settings, engine)
    worker.start()
    try:

        def read() -> bool:
            with session_factory() as db:
                report = db.scalar(select(WalmartRateRead.report_fetched_at))
            return 30 in _rates(session_factory) and report is not None

        wait_for(read, what="the worker holding the walmart_rate lease reads Walmart's rate")
    finally:
        worker.shutdown()
    with session_factory() as db:
        holders = db.scalars(select(Lease.holder).where(Lease.name == RATE_LEASE)).all()
    assert holders == [None]  # handed back at shutdown
    walmart.assert_read_only()
