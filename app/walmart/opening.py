"""The order shown when a person opens a thread: the copy when it is recent, else a new read
waited for a bounded time (then the copy, with its age, while the read finishes on its own)."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from concurrent.futures import wait as futures_wait
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings
from app.errors import WalmartApiError
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.models import Thread
from app.walmart import jobs, service
from app.walmart.lookup import Found
from app.walmart.orders import Order

# A copy older than this is read again when its thread is opened ...
STALE_AFTER = timedelta(minutes=5)
# ... waiting at most this long before showing the copy (or the reason there is none).
OPEN_WAIT_SECONDS = 3.0
# Without a copy, a failed read (Walmart down, refused) is tried again this long after.
RETRY_AFTER_FAILURE = timedelta(minutes=1)
_READERS = 4
SHUTDOWN_WAIT_SECONDS = 5.0

Kept = tuple[Found | WalmartApiError, datetime]


@dataclass(frozen=True)
class OrderContext:
    """The order beside a thread, or why there is none (``error``)."""

    order: Order | None
    fetched_at: datetime | None
    error: str | None


class OrderReads:
    """Reads started by opening threads, on a few threads of their own. The person waits for
    Walmart's answer only, never for it to be kept (a job may hold the write lock meanwhile); a
    second opening of the same order while it is read waits for that read instead of starting
    another."""

    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory
        self._executor = ThreadPoolExecutor(_READERS, thread_name_prefix="walmart-order")
        self._lock = threading.Lock()
        self._running: dict[tuple[int, str], Future[Kept]] = {}
        self._tasks: set[Future[None]] = set()

    def read(
        self, mailbox: MailboxSettings, *, mailbox_id: int, order_number: str, wait: float
    ) -> Kept | None:
        """Walmart's answer and when it came (the copy's fetched_at), or None when it takes
        longer than ``wait`` seconds; it is kept in the background either way."""
        key = (mailbox_id, order_number)
        with self._lock:
            answered = self._running.get(key)
            if answered is None:
                answered = Future()
                self._running[key] = answered
                task = self._executor.submit(
                    self._read, mailbox, mailbox_id, order_number, answered
                )
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        try:
            return answered.result(timeout=wait)
        except FutureTimeout:
            return None

    def _read(
        self, mailbox: MailboxSettings, mailbox_id: int, order_number: str, answered: Future[Kept]
    ) -> None:
        try:
            outcome = jobs.fetch(mailbox, order_number)
            at = now()
            answered.set_result((outcome, at))
            jobs.keep(
                self._session_factory,
                mailbox,
                mailbox_id=mailbox_id,
                order_number=order_number,
                outcome=outcome,
                at=at,
            )
        except BaseException as e:
            if not answered.done():
                answered.set_exception(e)
            raise
        finally:
            with self._lock:
                self._running.pop((mailbox_id, order_number), None)

    def shutdown(self, *, wait: float = SHUTDOWN_WAIT_SECONDS) -> None:
        """Stop: reads not started are dropped; those under way get ``wait`` seconds to keep
        what they read (a read stuck on a slow Walmart is left to its timeout)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            tasks = set(self._tasks)
        futures_wait(tasks, timeout=wait)


def _due(state: service.OrderState | None, at: datetime) -> bool:
    """Whether opening the thread reads the order again: never read, a copy older than
    STALE_AFTER, or no copy after a failure other than "not found" over a minute ago."""
    if state is None or state.attempted_at is None:
        return True
    age = at - state.attempted_at
    if state.order is None and state.error_kind != "not_found":
        return age >= RETRY_AFTER_FAILURE
    return age >= STALE_AFTER


def describe(error: WalmartApiError) -> str:
    """``order_error``: what kind of failure first (stable words), then Walmart's reason."""
    prefix = {
        "config": "no credentials",
        "not_found": "not found",
        "auth": "Walmart refused the API key",
        "forbidden": "Walmart refused the API key",
        "rate_limited": "Walmart rate limited",
    }.get(error.kind, "Walmart unreachable")
    return f"{prefix}: {error.reason}"


def order_context(
    db: Session,
    settings: Settings,
    thread: Thread,
    *,
    reads: OrderReads | None,
    wait: float = OPEN_WAIT_SECONDS,
) -> OrderContext:
    """The thread's order: the copy if read within STALE_AFTER; else read now (``reads``),
    waiting at most ``wait`` seconds; without ``reads``, the copy whatever its age."""
    if not thread.order_number:
        return OrderContext(None, None, "no order number: the thread's messages name no order")
    name = mailbox_repository.get_mailbox(db, thread.mailbox_id).name
    mailbox = registry.settings_for(db, settings, name)
    if mailbox is None or not mailbox.has_walmart_api:
        return OrderContext(
            None,
            None,
            f"no credentials: mailbox {name!r} has no Walmart API credentials (walmart_client_id)",
        )
    state = service.state_of(db, thread)
    if reads is not None and _due(state, now()):
        kept = reads.read(
            mailbox, mailbox_id=thread.mailbox_id, order_number=thread.order_number, wait=wait
        )
        outcome, kept_at = kept if kept else (None, None)
        if isinstance(outcome, Found):
            return OrderContext(outcome.order, kept_at, None)
        if state is None or state.order is None:
            if outcome is None:
                return OrderContext(
                    None,
                    None,
                    f"Walmart unreachable: no answer within {wait:g} s; the order is still "
                    "being read, reload in a moment",
                )
            return OrderContext(None, None, describe(outcome))
    if state is None:
        return OrderContext(None, None, "not read yet: the order is read within a minute")
    if state.order is not None:
        return OrderContext(state.order, state.fetched_at, None)
    return OrderContext(
        None, None, describe(WalmartApiError(state.error_kind or "", state.error or ""))
    )
