"""Logging: a worker's log holds what an operator acts on, not a line for every job run."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator

import pytest
from apscheduler.schedulers.background import BackgroundScheduler

from app.logs import configure_logging


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append((record.levelname, record.getMessage()))


@pytest.fixture
def records() -> Iterator[Records]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    handler = Records()
    yield handler
    root.handlers[:], root.level = saved
    logging.getLogger("apscheduler.executors").setLevel(logging.NOTSET)


def run_jobs(records: Records) -> None:
    logging.getLogger().addHandler(records)
    done = threading.Event()

    def fails() -> None:
        try:
            raise RuntimeError("the job broke")
        finally:
            done.set()

    scheduler = BackgroundScheduler()
    scheduler.add_job(lambda: None, id="quiet")
    scheduler.add_job(fails, id="broken")
    scheduler.start()
    try:
        assert done.wait(120)
        # One-shot jobs leave the scheduler once run: stopping it before it removed them races
        # its own loop (JobLookupError in its thread).
        deadline = time.monotonic() + 120
        while scheduler.get_jobs() and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        scheduler.shutdown(wait=True)


def test_job_runs_are_not_logged_but_failures_are(records: Records) -> None:
    configure_logging("INFO")
    run_jobs(records)
    messages = [message for _, message in records.lines]
    assert not any(m.startswith("Running job") or "executed successfully" in m for m in messages)
    assert any(level == "ERROR" and "raised an exception" in m for level, m in records.lines)


def test_debug_shows_every_job_run(records: Records) -> None:
    configure_logging("DEBUG")
    run_jobs(records)
    assert any(message.startswith("Running job") for _, message in records.lines)
