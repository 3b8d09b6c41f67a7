"""Read models of threads for the API and pages: pages of threads, the summary."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from app.enums import ThreadKind
from app.errors import HttpError
from app.ids import MAX_ROW_ID
from app.mailboxes import repository as mailbox_repository
from app.models import ResponseFigures, Thread
from app.sla import WAITING_STATES, ThreadState, thread_state
from app.threads import repository, stats
from app.threads.forecast import WINDOW_DAYS, Forecast
from app.threads.repository import ThreadFilter
from app.threads.summary import OPEN_BUCKET

MAX_PAGE = 100


@dataclass(frozen=True)
class Selection:
    """The mailboxes a page or a query is about: one, a client's, or all (``ids`` None)."""

    ids: frozenset[int] | None
    scope: str  # whose response figures (app.threads.stats)

    def includes(self, mailbox_id: int) -> bool:
        return self.ids is None or mailbox_id in self.ids


class InvalidCursor(HttpError):
    status_code = 422


@dataclass(frozen=True)
class _Position:
    due_at: datetime | None
    thread_id: int
    # The position is among the cancellation requests listed first (due_at is the request's).
    cancel: bool = False


def _encode(thread: Thread, *, cancel: bool) -> str:
    due = thread.cancel_due_at if cancel else thread.due_at
    position: dict[str, object] = {"d": due.isoformat() if due else None, "i": thread.id}
    if cancel:
        position["c"] = 1
    return base64.urlsafe_b64encode(json.dumps(position).encode()).decode().rstrip("=")


def _decode(cursor: str) -> _Position:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        due = datetime.fromisoformat(data["d"]) if data["d"] is not None else None
        if due is not None:
            if due.tzinfo is None:
                raise ValueError("naive time")
            due = due.astimezone(UTC)  # OverflowError at the ends of the calendar
        thread_id = int(data["i"])
        if not 0 < thread_id <= MAX_ROW_ID:
            raise ValueError("no such id")
        cancel = data.get("c") == 1
        if cancel and due is None:
            raise ValueError("a cancellation request has a deadline")
        return _Position(due, thread_id, cancel)
    except (ValueError, KeyError, TypeError, OverflowError, binascii.Error, json.JSONDecodeError):
        raise InvalidCursor(
            "invalid cursor: pass the next_cursor of a previous page unchanged"
        ) from None


@dataclass(frozen=True)
class ThreadPage:
    threads: list[Thread]
    next_cursor: str | None


def page_of_threads(
    db: Session, f: ThreadFilter, *, limit: int, cursor: str | None, now: datetime
) -> ThreadPage:
    """In a queue, first the threads whose order the customer asked to cancel (the request's
    deadline soonest first); then waiting threads by deadline, soonest first; then the others
    (no deadline), newest first."""
    position = _decode(cursor) if cursor else None
    threads: list[Thread] = []
    cancels = 0
    if position is not None and position.cancel and not f.cancellations_first:
        position = None  # a cursor of a queue's first part, passed with other states: start
    if f.cancellations_first and (position is None or position.cancel):
        after = (position.due_at, position.thread_id) if position and position.due_at else None
        threads = repository.threads_with_cancel_request(db, f, after=after, limit=limit + 1)
        cancels = len(threads)
        position = None  # the lists below start from their beginning
    if len(threads) <= limit and (position is None or position.due_at is not None):
        after = (position.due_at, position.thread_id) if position and position.due_at else None
        threads += repository.threads_with_deadline(
            db, f, now=now, after=after, limit=limit + 1 - len(threads)
        )
    if len(threads) <= limit:
        before = position.thread_id if position and position.due_at is None else None
        threads += repository.threads_without_deadline(
            db, f, now=now, before_id=before, limit=limit + 1 - len(threads)
        )
    more = len(threads) > limit
    threads = threads[:limit]
    if not (more and threads):
        return ThreadPage(threads, None)
    return ThreadPage(threads, _encode(threads[-1], cancel=len(threads) <= cancels))


def state_of(thread: Thread, now: datetime) -> ThreadState:
    return thread_state(
        has_customer_messages=thread.has_customer_messages,
        closed=thread.closed_at is not None,
        due_at=thread.due_at,
        at_risk_at=thread.at_risk_at,
        now=now,
    )


@dataclass
class ResponseRate:
    days: int
    decided: int
    in_time: int

    @property
    def rate(self) -> float | None:
        return self.in_time / self.decided if self.decided else None


@dataclass
class Responses:
    """Response rates (30 and 60 days) and first-response times (30 days), as the stats job last
    computed them; empty before its first run."""

    rates: list[ResponseRate] = field(default_factory=list)
    median_first_response_seconds: float | None = None
    p90_first_response_seconds: float | None = None
    computed_at: datetime | None = None


def responses(figures: dict[int, ResponseFigures] | None) -> Responses:
    if not figures:
        return Responses()
    month = figures[30]
    return Responses(
        rates=[
            ResponseRate(days, figures[days].decided, figures[days].in_time)
            for days in stats.RATE_WINDOWS_DAYS
        ],
        median_first_response_seconds=month.median_seconds,
        p90_first_response_seconds=month.p90_seconds,
        computed_at=month.computed_at,
    )


@dataclass
class MailboxSummary:
    mailbox_id: int
    name: str
    client: str | None = None
    counts: dict[tuple[ThreadState, ThreadKind], int] = field(
        default_factory=lambda: {(s, k): 0 for s in ThreadState for k in ThreadKind}
    )
    oldest_waiting_seconds: float | None = None
    soonest_due: dict[ThreadState, datetime] = field(default_factory=dict)  # of running clocks
    responses: Responses = field(default_factory=Responses)
    last_poll_at: datetime | None = None
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    last_error_kind: str | None = None
    consecutive_failures: int = 0
    # Walmart's Marketplace API (order context): its last success and last failure.
    walmart_ok_at: datetime | None = None
    walmart_error_at: datetime | None = None
    walmart_error: str | None = None

    @property
    def walmart_failing(self) -> bool:
        """The API's last call failed (none has succeeded since)."""
        return self.walmart_error_at is not None and (
            self.walmart_ok_at is None or self.walmart_error_at > self.walmart_ok_at
        )

    @property
    def healthy(self) -> bool:
        """Polled, and the last poll succeeded."""
        return self.last_success_at is not None and self.consecutive_failures == 0

    @property
    def needs_reauthorization(self) -> bool:
        """Its OAuth2 sign-in was refused: polling cannot resume until a person authorises."""
        return self.consecutive_failures > 0 and self.last_error_kind == "reauthorize"

    @property
    def by_state(self) -> dict[ThreadState, int]:
        return {s: sum(self.counts[s, k] for k in ThreadKind) for s in ThreadState}

    @property
    def waiting_by_kind(self) -> dict[ThreadKind, int]:
        return {k: sum(self.counts[s, k] for s in WAITING_STATES) for k in ThreadKind}


@dataclass
class Summary:
    mailboxes: list[MailboxSummary]
    overall: Responses  # of all mailboxes together (a median is not a sum of medians)
    figures: dict[str, dict[int, ResponseFigures]]  # every scope's, by window (stats.latest)

    @property
    def by_state(self) -> dict[ThreadState, int]:
        return {s: sum(m.by_state[s] for m in self.mailboxes) for s in ThreadState}

    @property
    def waiting_by_kind(self) -> dict[ThreadKind, int]:
        return {k: sum(m.waiting_by_kind[k] for m in self.mailboxes) for k in ThreadKind}


def summary(db: Session, *, now: datetime, selection: Selection | None = None) -> Summary:
    """Counts per state and kind, the longest wait, response rates and poll health, per mailbox.

    Running clocks are counted live (right to the minute); answered, closed and informational
    threads come from the tallies kept with every change; rates from the stats job."""
    selection = selection or Selection(None, stats.ALL_SCOPE)
    known = [m for m in mailbox_repository.list_mailboxes(db) if selection.includes(m.id)]
    result = {m.id: MailboxSummary(mailbox_id=m.id, name=m.name, client=m.client) for m in known}
    for mailbox_id, kind, state, count, started, due in repository.open_clock_counts(db, now=now):
        if mailbox_id not in result:
            continue
        entry = result[mailbox_id]
        entry.counts[state, kind] += count
        soonest = entry.soonest_due.get(state)
        entry.soonest_due[state] = min(due, soonest) if soonest else due
        waited = (now - started).total_seconds()
        entry.oldest_waiting_seconds = max(entry.oldest_waiting_seconds or 0, waited)
    for tally in repository.tallies(db):
        if tally.bucket != OPEN_BUCKET and tally.mailbox_id in result:
            result[tally.mailbox_id].counts[ThreadState(tally.bucket), tally.kind] += tally.count
    figures = stats.latest(db)
    for mailbox in known:
        entry = result[mailbox.id]
        entry.responses = responses(figures.get(stats.scope_of(mailbox.id)))
        entry.last_poll_at = mailbox.last_poll_at
        entry.last_success_at = mailbox.last_success_at
        entry.last_error_at = mailbox.last_error_at
        entry.last_error = mailbox.last_error
        entry.last_error_kind = mailbox.last_error_kind
        entry.consecutive_failures = mailbox.consecutive_failures
        entry.walmart_ok_at = mailbox.walmart_ok_at
        entry.walmart_error_at = mailbox.walmart_error_at
        entry.walmart_error = mailbox.walmart_error
    return Summary([result[m.id] for m in known], responses(figures.get(selection.scope)), figures)


def forecast_of(mailbox: MailboxSummary, threshold: float) -> Forecast:
    """The mailbox's 30-day rate figures and its running clocks, as a forecast."""
    month = next((r for r in mailbox.responses.rates if r.days == WINDOW_DAYS), None)
    return Forecast(
        threshold=threshold,
        window_days=WINDOW_DAYS,
        decided=month.decided if month else 0,
        in_time=month.in_time if month else 0,
        waiting=mailbox.by_state[ThreadState.WAITING] + mailbox.by_state[ThreadState.AT_RISK],
        at_risk=mailbox.by_state[ThreadState.AT_RISK],
        at_risk_due_at=mailbox.soonest_due.get(ThreadState.AT_RISK),
    )
