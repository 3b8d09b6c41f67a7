"""The reports' queries, read in batches: a report of a million waits never holds them all."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ResponseEpisode

# Rows fetched from the database at a time (a server-side cursor on PostgreSQL).
FETCH_ROWS = 2_000


class FirstWait(NamedTuple):
    started_at: datetime
    answered_at: datetime | None
    response_seconds: float | None


class MailboxWait(NamedTuple):
    mailbox_id: int
    started_at: datetime
    due_at: datetime
    answered_at: datetime | None


def first_waits(db: Session, thread_ids: Collection[int]) -> dict[int, FirstWait]:
    """Each thread's first wait: its first customer message and the first answer to it."""
    if not thread_ids:
        return {}
    e = ResponseEpisode
    rows = db.execute(
        select(e.thread_id, e.started_at, e.answered_at, e.response_seconds)
        .where(e.thread_id.in_(thread_ids))
        .order_by(e.thread_id, e.started_at)
    )
    first: dict[int, FirstWait] = {}
    for thread_id, started_at, answered_at, seconds in rows:
        first.setdefault(thread_id, FirstWait(started_at, answered_at, seconds))
    return first


def waits_since(
    db: Session, *, mailbox_ids: Collection[int], since: datetime
) -> Iterator[MailboxWait]:
    """The mailboxes' waits started since ``since``, by mailbox, then start (the covering index's
    order), fetched FETCH_ROWS at a time as they are consumed."""
    if not mailbox_ids:
        return
    e = ResponseEpisode
    rows = db.execute(
        select(e.mailbox_id, e.started_at, e.due_at, e.answered_at)
        .where(e.mailbox_id.in_(mailbox_ids), e.started_at >= since)
        .order_by(e.mailbox_id, e.started_at)
        .execution_options(yield_per=FETCH_ROWS)
    )
    for row in rows:
        yield MailboxWait(*row)
