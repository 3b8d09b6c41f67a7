"""The reports' rows: threads as the thread list shows them, and each mailbox's response rate
day by day, counted as the response figures count it (app.sla.wait_outcome). Generators that
read in batches through a session of their own, held while the response streams."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import groupby
from operator import attrgetter

from sqlalchemy.orm import Session, sessionmaker

from app.mailboxes import repository as mailbox_repository
from app.reports import repository
from app.reports.spreadsheet import Cell
from app.sla import WaitOutcome, wait_outcome
from app.threads import queries
from app.threads.queries import Selection
from app.threads.repository import ThreadFilter

THREAD_COLUMNS = (
    "thread_id",
    "mailbox",
    "client",
    "state",
    "kind",
    "customer",
    "order_number",
    "subject",
    "received_at",
    "due_at",
    "first_answered_at",
    "first_response_seconds",
)
RATE_COLUMNS = (
    "date",
    "mailbox",
    "client",
    "inquiries",
    "answered_in_time",
    "missed",
    "open",
    "rate",
)
THREAD_BATCH = 500
MAX_DAYS = 366


def thread_rows(
    read_factory: sessionmaker[Session], f: ThreadFilter, *, now: datetime
) -> Iterator[tuple[Cell, ...]]:
    """The threads ``f`` chooses, in the thread list's order, a page at a time: the list's own
    query, so the export and the API never disagree. ``received_at`` is when the customer
    first wrote; ``first_answered_at`` and ``first_response_seconds`` are of the first answer."""
    with read_factory() as db:
        mailboxes = {m.id: m for m in mailbox_repository.list_mailboxes(db)}
        cursor = None
        while True:
            page = queries.page_of_threads(db, f, limit=THREAD_BATCH, cursor=cursor, now=now)
            first = repository.first_waits(db, [t.id for t in page.threads])
            for thread in page.threads:
                mailbox, wait = mailboxes[thread.mailbox_id], first.get(thread.id)
                seconds = wait.response_seconds if wait else None
                yield (
                    thread.id,
                    mailbox.name,
                    mailbox.client,
                    queries.state_of(thread, now).value,
                    thread.kind.value,
                    thread.counterpart,
                    thread.order_number,
                    thread.subject,
                    wait.started_at if wait else None,
                    thread.due_at,
                    wait.answered_at if wait else None,
                    round(seconds) if seconds is not None else None,
                )
            if page.next_cursor is None:
                return
            cursor = page.next_cursor


@dataclass
class _Day:
    inquiries: int = 0
    in_time: int = 0
    missed: int = 0  # answered late, or unanswered past the deadline

    def count(self, outcome: WaitOutcome) -> None:
        self.inquiries += 1
        self.in_time += outcome == WaitOutcome.ANSWERED_IN_TIME
        self.missed += outcome in (WaitOutcome.ANSWERED_LATE, WaitOutcome.MISSED)

    def cells(self) -> tuple[Cell, ...]:
        decided = self.in_time + self.missed
        rate = round(self.in_time / decided, 4) if decided else None
        return self.inquiries, self.in_time, self.missed, self.inquiries - decided, rate


def rate_rows(
    read_factory: sessionmaker[Session], selection: Selection, *, days: int, now: datetime
) -> Iterator[tuple[Cell, ...]]:
    """One row per mailbox and UTC day of the last ``days`` (today included), days without
    inquiries too, by the day each wait started. A wait is decided once answered or once its
    deadline passed, as in the response figures; ``open`` ones are neither yet."""
    first_day = now.astimezone(UTC).date() - timedelta(days=days - 1)
    dates = [first_day + timedelta(days=i) for i in range(days)]
    with read_factory() as db:
        chosen = [m for m in mailbox_repository.list_mailboxes(db) if selection.includes(m.id)]
        chosen.sort(key=attrgetter("id"))  # the order the waits come in
        waits = groupby(
            repository.waits_since(
                db,
                mailbox_ids=[m.id for m in chosen],
                since=datetime.combine(first_day, time(), UTC),
            ),
            key=attrgetter("mailbox_id"),
        )
        group = next(waits, None)
        for mailbox in chosen:
            tally: dict[date, _Day] = {day: _Day() for day in dates}
            if group is not None and group[0] == mailbox.id:
                for wait in group[1]:
                    day = tally.get(wait.started_at.date())
                    if day is not None:  # a clock skewed into tomorrow is left out
                        day.count(
                            wait_outcome(due_at=wait.due_at, answered_at=wait.answered_at, now=now)
                        )
                group = next(waits, None)
            for day_date, day in tally.items():
                yield (day_date, mailbox.name, mailbox.client, *day.cells())
