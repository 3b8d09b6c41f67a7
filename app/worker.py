"""The scheduled work of a process (`slawatch serve`, `slawatch worker`): polls of the mailboxes it
holds leases on, the SLA sweep every minute, the figures job every five and the refresh of
waiting threads' Walmart orders every minute and Walmart's own response rate (once a day per
mailbox, looked for every minute), each while it holds their lease. A poll that
stored mail is followed by a job reading the orders of the threads it created (app.walmart).

Workers share the mailboxes through leases in the database (app.leases). Every round a worker
renews its heartbeat and what it holds, gives up what exceeds its fair share (mailboxes ÷ live
workers) and takes free or expired leases up to its share. So each mailbox is polled by one worker
at a time, a dead worker's mailboxes are taken over once its leases expire, a new worker gets its
share within a round or two, and the sweep and the figures job run in one worker at a time.
"""

from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import threading
from datetime import UTC, timedelta
from functools import partial

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from app import leases
from app.alerts import jobs as alert_jobs
from app.clock import now
from app.config import MailboxSettings, Settings
from app.db import make_read_session_factory, make_session_factory, session_scope
from app.ingest.idle import IdleWatcher
from app.ingest.poll import poll_mailbox
from app.mailboxes import registry
from app.mailboxes import service as mailbox_service
from app.oauth.grants import Logins
from app.threads import jobs as thread_jobs
from app.walmart import events_jobs, response_rate
from app.walmart import jobs as order_jobs

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=15)
STATS_SECONDS = 300
SWEEP_LEASE, STATS_LEASE, ORDERS_LEASE = "sweep", "stats", "orders"
RATE_LEASE = "walmart_rate"  # Walmart's own response rate, read daily (app.walmart.response_rate)
EVENTS_LEASE = "walmart_events"  # the poll of recent orders for cancellations (events_jobs)
SINGLETONS = (STATS_LEASE, SWEEP_LEASE, ORDERS_LEASE, RATE_LEASE, EVENTS_LEASE)
COORDINATION = "coordination"  # the executor of coordinate() alone
QUICK_ROUND = timedelta(seconds=1)  # the next round, while the mailboxes are not shared out


def backoff_delay(*, poll_seconds: int, failures: int) -> timedelta:
    """After ``failures`` failed polls in a row: doubling from the poll interval, at most 15 min."""
    return min(timedelta(seconds=poll_seconds * 2 ** max(failures - 1, 0)), MAX_BACKOFF)


def fair_share(mailboxes: int, workers: int) -> int:
    return math.ceil(mailboxes / max(workers, 1))


class Worker:
    def __init__(self, settings: Settings, engine: Engine, *, worker_id: str | None = None) -> None:
        self.id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._settings = settings
        self._ttl = timedelta(seconds=settings.worker.lease_seconds)
        self._session_factory = make_session_factory(engine)
        self._read_factory = make_read_session_factory(engine)
        self._logins = Logins(self._session_factory, settings)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            # Sharing the mailboxes has a thread of its own: queued behind a backlog of polls in
            # the shared pool it would run late, the leases would expire and the other workers
            # would take them all, in turn, over and over (seen with 500 mailboxes, 2 workers).
            executors={
                "default": ThreadPoolExecutor(settings.worker.threads),
                COORDINATION: ThreadPoolExecutor(1),
            },
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        self._lock = threading.Lock()
        self._polled: dict[str, MailboxSettings] = {}  # the mailboxes this worker polls now
        self._watchers: dict[str, IdleWatcher] = {}
        self._singletons: set[str] = set()  # the sweep and figures leases it holds
        self._polling: set[str] = set()
        self._stopping = False
        self._failures: dict[str, int] = {}
        self._first_round = True
        self.scheduler.add_job(
            self.coordinate,
            "interval",
            seconds=self._ttl.total_seconds() / 4,
            id="coordinate",
            name="share the mailboxes",
            executor=COORDINATION,
            next_run_time=now(),
        )
        # The singleton jobs: each runs in one worker at a time, under a lease of its id.
        for job, seconds, job_id, name in (
            (self._sweep, settings.worker.sweep_seconds, SWEEP_LEASE, "SLA sweep"),
            (
                self._refresh_stats,
                STATS_SECONDS,
                STATS_LEASE,
                "response figures and waiting samples",
            ),
            (
                self._refresh_orders,
                order_jobs.ORDERS_SECONDS,
                ORDERS_LEASE,
                "Walmart orders of waiting threads",
            ),
            (
                self._refresh_walmart_rates,
                response_rate.RATE_SECONDS,
                RATE_LEASE,
                "Walmart's own response rate",
            ),
            (
                self._poll_order_events,
                events_jobs.EVENTS_SECONDS,
                EVENTS_LEASE,
                "Walmart's cancellation requests in recent orders",
            ),
        ):
            self.scheduler.add_job(job, "interval", seconds=seconds, id=job_id, name=name)

    def start(self) -> None:
        with session_scope(self._session_factory) as db:
            mailbox_service.sync_configured(db, self._settings)
        self.scheduler.start()

    def shutdown(self) -> None:
        """Stop, and hand every lease back so other workers take the mailboxes over at once."""
        with self._lock:
            # From here no job touches the scheduler: APScheduler holds its job-store lock while
            # it waits for running jobs, so a job calling it would wait forever.
            self._stopping = True
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        with self._lock:
            for watcher in self._watchers.values():
                watcher.stop()
        with session_scope(self._session_factory) as db:
            leases.release_all(db, holder=self.id)

    @property
    def polled(self) -> list[str]:
        with self._lock:
            return sorted(self._polled)

    def coordinate(self) -> None:
        """Renew, give up and take leases so this worker holds its fair share of the mailboxes,
        then poll exactly those."""
        at = now()
        with session_scope(self._session_factory) as db:
            wanted = {m.name: m for m in registry.active(db, self._settings)}
            leases.acquire(
                db, leases.WORKER_PREFIX + self.id, holder=self.id, now=at, ttl=self._ttl
            )
            live = leases.live_workers(db, now=at)
            share = fair_share(len(wanted), len(live))
            counts = leases.counts_by_holder(db, prefix=leases.MAILBOX_PREFIX, now=at)
            mine = sorted(
                name.removeprefix(leases.MAILBOX_PREFIX)
                for name in leases.held(db, holder=self.id, now=at)
                if name.startswith(leases.MAILBOX_PREFIX)
            )
        keep = [n for n in mine if n in wanted][:share]
        with self._lock:
            if self._stopping:
                return
            # Stop polling what is handed over before the lease goes, so no poll of it can start
            # here once another worker may have it. One being polled right now is handed over
            # at a later round, after its poll: two workers never poll a mailbox at once.
            keep += [n for n in mine if n not in keep and n in self._polling]
            for name in set(self._polled) - set(keep):
                self._stop_polling(name)
        with session_scope(self._session_factory) as db:
            leases.release(
                db, [leases.mailbox_lease(n) for n in mine if n not in keep], holder=self.id
            )
            leases.ensure(db, [*map(leases.mailbox_lease, wanted), *SINGLETONS], now=at)
        with session_scope(self._session_factory) as db:
            held = leases.renew(
                db, map(leases.mailbox_lease, keep), holder=self.id, now=at, ttl=self._ttl
            )
            held += leases.take(
                db,
                [leases.mailbox_lease(n) for n in sorted(wanted) if n not in keep],
                holder=self.id,
                now=at,
                ttl=self._ttl,
                limit=share - len(held),
            )
            singletons = set(leases.renew(db, SINGLETONS, holder=self.id, now=at, ttl=self._ttl))
            singletons |= set(
                leases.take(
                    db,
                    set(SINGLETONS) - singletons,
                    holder=self.id,
                    now=at,
                    ttl=self._ttl,
                    limit=len(SINGLETONS),
                )
            )
        polled = [name.removeprefix(leases.MAILBOX_PREFIX) for name in held]
        with self._lock:
            if self._stopping:
                return
            for name in singletons - self._singletons:
                self.scheduler.modify_job(name, next_run_time=now())  # newly ours: run it now
            self._singletons = singletons
            self._poll_exactly({n: wanted[n] for n in polled})
            counts[self.id] = len(polled)
            # The next round comes soon while the work is not shared out yet: workers started
            # together each see the others only once they have registered, and a newcomer gets
            # its share as soon as the others give theirs up, not a whole period later.
            if self._first_round or any(counts.get(w, 0) < len(wanted) // len(live) for w in live):
                self.scheduler.modify_job("coordinate", next_run_time=now() + QUICK_ROUND)
            self._first_round = False

    def _poll_exactly(self, wanted: dict[str, MailboxSettings]) -> None:
        for name in set(self._polled) - set(wanted):
            self._stop_polling(name)
            log.info("worker %s: mailbox %s handed over", self.id, name)
        for name, mailbox in wanted.items():
            if self._polled.get(name) == mailbox:
                continue
            if name in self._polled:
                self._stop_polling(name)  # its settings changed
            self._polled[name] = mailbox
            self.scheduler.add_job(
                self._poll,
                "interval",
                seconds=mailbox.poll_seconds,
                args=[name],
                id=_poll_job_id(name),
                name=f"poll {name}",
                next_run_time=now(),
                replace_existing=True,
            )
        if self.scheduler.running:
            for name in {n for n, m in self._polled.items() if m.idle} - set(self._watchers):
                watcher = IdleWatcher(
                    self._polled[name], self._logins, on_change=partial(self.poll_now, name)
                )
                self._watchers[name] = watcher
                watcher.start()

    def _stop_polling(self, name: str) -> None:
        del self._polled[name]
        self._failures.pop(name, None)
        if self.scheduler.get_job(_poll_job_id(name)):
            self.scheduler.remove_job(_poll_job_id(name))
        watcher = self._watchers.pop(name, None)
        if watcher:
            watcher.stop()

    def poll_now(self, mailbox_name: str) -> None:
        # Moving the next run keeps polls of one mailbox one at a time (max_instances = 1).
        with self._lock:
            if not self._stopping and self.scheduler.get_job(_poll_job_id(mailbox_name)):
                self.scheduler.modify_job(_poll_job_id(mailbox_name), next_run_time=now())

    def _poll(self, name: str) -> None:
        with self._lock:
            mailbox = self._polled.get(name)
            if mailbox is None or self._stopping:
                # Handed over since this run was scheduled; or stopping: the polls still queued
                # are dropped, not run one by one before the worker can hand its leases back.
                return
            self._polling.add(name)
        try:
            report = poll_mailbox(
                self._session_factory, mailbox, sla=self._settings.sla, logins=self._logins
            )
        finally:
            with self._lock:
                self._polling.discard(name)
        if report.ok:
            self._failures.pop(name, None)
            new = sum(f.new for f in report.folders)
            if new:
                log.info("mailbox %s: %d new messages", name, new)
                self._read_new_orders(mailbox)
            return
        failures = self._failures[name] = self._failures.get(name, 0) + 1
        delay = backoff_delay(poll_seconds=mailbox.poll_seconds, failures=failures)
        log.warning("mailbox %s: next poll in %s after %d failures", name, delay, failures)
        with self._lock:
            if not self._stopping and self.scheduler.get_job(_poll_job_id(name)):
                self.scheduler.modify_job(_poll_job_id(name), next_run_time=now() + delay)

    def _read_new_orders(self, mailbox: MailboxSettings) -> None:
        """The orders of the threads a poll created, read by a job of their own: the poll is
        done (its transaction committed) and the next one never waits for Walmart."""
        if not mailbox.has_walmart_api:
            return
        with self._lock:
            if self._stopping:
                return
            self.scheduler.add_job(
                order_jobs.read_new_orders,
                args=[self._session_factory, mailbox],
                id=f"orders:{mailbox.name}",
                name=f"Walmart orders of {mailbox.name}'s new threads",
                replace_existing=True,
            )

    def _holds(self, lease: str) -> bool:
        with self._lock:
            return lease in self._singletons

    def _sweep(self) -> None:
        if self._holds(SWEEP_LEASE):
            alert_jobs.sweep(self._session_factory, self._settings, now=now())

    def _refresh_orders(self) -> None:
        if self._holds(ORDERS_LEASE):
            order_jobs.refresh_waiting(self._session_factory, self._settings, at=now())

    def _refresh_walmart_rates(self) -> None:
        if self._holds(RATE_LEASE):
            response_rate.refresh_rates(self._session_factory, self._settings, at=now())

    def _poll_order_events(self) -> None:
        if self._holds(EVENTS_LEASE):
            events_jobs.poll_events(self._session_factory, self._settings, at=now())

    def _refresh_stats(self) -> None:
        if not self._holds(STATS_LEASE):
            return
        at = now()
        thread_jobs.sample_waiting(
            read_factory=self._read_factory, write_factory=self._session_factory, now=at
        )
        thread_jobs.refresh_all(
            read_factory=self._read_factory, write_factory=self._session_factory, now=at
        )


def _poll_job_id(mailbox_name: str) -> str:
    return f"poll:{mailbox_name}"
