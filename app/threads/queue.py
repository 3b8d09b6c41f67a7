"""The agent's queue read from the threads: who waits, named as the customer signs, with the time
left, the reply template their message's topic suggests, and how many wait in all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from app.mail.quoting import trim_quoted_history
from app.mailboxes import repository as mailbox_repository
from app.models import Thread
from app.replies.suggest import Suggestion, suggest
from app.sla import ThreadState
from app.threads import repository
from app.threads.queries import state_of
from app.threads.repository import ThreadFilter

QUEUE_SIZE = 100


@dataclass(frozen=True)
class QueueRow:
    thread: Thread
    state: ThreadState
    mailbox: str
    customer: str | None  # the name the buyer signs with, else their (relay) address
    left_seconds: float | None
    cancel_left_seconds: float | None  # the customer asked to cancel: the request's time left
    suggestion: Suggestion | None


@dataclass(frozen=True)
class Queue:
    rows: list[QueueRow]
    waiting: dict[ThreadState, int]  # of the filter's mailboxes, kinds and text
    more: bool  # more threads match than are shown

    @property
    def waiting_total(self) -> int:
        return sum(self.waiting.values())


def customer_of(thread: Thread, from_name: str | None) -> str | None:
    """A relay address (``abc123@relay.walmart.com``) says nothing to a person; the name in the
    buyer's From header does."""
    name = (from_name or "").strip()
    return name or thread.counterpart


def topic_of(*, subject: str, text: str) -> Suggestion | None:
    """The template a customer's message suggests, judged on what they wrote this time (the
    history they quoted is about earlier messages)."""
    return suggest(subject=subject, text=trim_quoted_history(text)[: repository.TEXT_HEAD])


def queue(db: Session, f: ThreadFilter, *, now: datetime) -> Queue:
    threads = repository.queue(db, f, now=now, limit=QUEUE_SIZE + 1)
    shown = threads[:QUEUE_SIZE]
    names = {m.id: m.name for m in mailbox_repository.list_mailboxes(db)}
    latest = repository.latest_customer_messages(db, [t.id for t in shown])
    rows = []
    for thread in shown:
        from_name, subject, text = latest.get(thread.id, (None, thread.subject, ""))
        rows.append(
            QueueRow(
                thread=thread,
                state=state_of(thread, now),
                mailbox=names[thread.mailbox_id],
                customer=customer_of(thread, from_name),
                left_seconds=(thread.due_at - now).total_seconds() if thread.due_at else None,
                cancel_left_seconds=(
                    (thread.cancel_due_at - now).total_seconds()
                    if thread.cancel_due_at and thread.closed_at is None
                    else None
                ),
                suggestion=topic_of(subject=subject, text=text),
            )
        )
    return Queue(
        rows=rows,
        waiting=repository.waiting_counts(db, f, now=now),
        more=len(threads) > QUEUE_SIZE,
    )


def next_in_queue(db: Session, f: ThreadFilter, *, now: datetime, after: int) -> int | None:
    """The thread after ``after`` in the queue; the queue's first when ``after`` has left it
    (answered, closed), so that "next" after answering leads to the most urgent one."""
    ids = [t.id for t in repository.queue(db, f, now=now, limit=QUEUE_SIZE)]
    if after not in ids:
        return ids[0] if ids else None
    position = ids.index(after) + 1
    return ids[position] if position < len(ids) else None
