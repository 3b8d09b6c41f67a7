"""The scheduled work of `slawatch serve`: a poll job per mailbox (one at a time per mailbox) and
the SLA sweep every minute, the response figures and waiting-thread samples every five."""

from __future__ import annotations

import logging
from datetime import UTC, timedelta
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from app.alerts.service import sweep
from app.clock import now
from app.config import MailboxSettings, Settings
from app.db import make_read_session_factory, make_session_factory
from app.ingest.idle import IdleWatcher
from app.ingest.service import poll_mailbox
from app.threads import activity, stats

log = logging.getLogger(__name__)

MAX_BACKOFF = timedelta(minutes=15)
SWEEP_SECONDS = 60
STATS_SECONDS = 300


def backoff_delay(*, poll_seconds: int, failures: int) -> timedelta:
    """After ``failures`` failed polls in a row: doubling from the poll interval, at most 15 min."""
    return min(timedelta(seconds=poll_seconds * 2 ** max(failures - 1, 0)), MAX_BACKOFF)


class Jobs:
    def __init__(self, settings: Settings, engine: Engine) -> None:
        self._session_factory = make_session_factory(engine)
        self._read_factory = make_read_session_factory(engine)
        self._sla = settings.sla
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )
        self._failures: dict[str, int] = {}
        self._watchers = [
            IdleWatcher(mailbox, on_change=partial(self.poll_now, mailbox.name))
            for mailbox in settings.mailboxes
        ]
        for mailbox in settings.mailboxes:
            self.scheduler.add_job(
                self._poll,
                "interval",
                seconds=mailbox.poll_seconds,
                args=[mailbox],
                id=_poll_job_id(mailbox.name),
                name=f"poll {mailbox.name}",
                next_run_time=now(),
            )

        self.scheduler.add_job(
            self._sweep,
            "interval",
            seconds=SWEEP_SECONDS,
            args=[settings],
            id="sweep",
            name="SLA sweep",
            next_run_time=now(),
        )

        self.scheduler.add_job(
            self._refresh_stats,
            "interval",
            seconds=STATS_SECONDS,
            id="stats",
            name="response figures and waiting samples",
            next_run_time=now(),
        )

    def start(self) -> None:
        self.scheduler.start()
        for watcher in self._watchers:
            watcher.start()

    def shutdown(self) -> None:
        for watcher in self._watchers:
            watcher.stop()
        self.scheduler.shutdown(wait=True)

    def poll_now(self, mailbox_name: str) -> None:
        # Moving the next run keeps polls of one mailbox one at a time (max_instances = 1).
        self.scheduler.modify_job(_poll_job_id(mailbox_name), next_run_time=now())

    def _poll(self, mailbox: MailboxSettings) -> None:
        report = poll_mailbox(self._session_factory, mailbox, sla=self._sla)
        if report.ok:
            self._failures.pop(mailbox.name, None)
            new = sum(f.new for f in report.folders)
            if new:
                log.info("mailbox %s: %d new messages", mailbox.name, new)
            return
        failures = self._failures[mailbox.name] = self._failures.get(mailbox.name, 0) + 1
        delay = backoff_delay(poll_seconds=mailbox.poll_seconds, failures=failures)
        log.warning("mailbox %s: next poll in %s after %d failures", mailbox.name, delay, failures)
        self.scheduler.modify_job(_poll_job_id(mailbox.name), next_run_time=now() + delay)

    def _sweep(self, settings: Settings) -> None:
        sweep(self._session_factory, settings, now=now())

    def _refresh_stats(self) -> None:
        at = now()
        activity.sample_waiting(
            read_factory=self._read_factory, write_factory=self._session_factory, now=at
        )
        stats.refresh_all(
            read_factory=self._read_factory, write_factory=self._session_factory, now=at
        )


def _poll_job_id(mailbox_name: str) -> str:
    return f"poll:{mailbox_name}"
