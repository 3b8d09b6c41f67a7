"""`slawatch serve`'s scheduled work in a child `slawatch worker` process.

Polls, the sweep and the figures job are CPU work in Python: in the process that answers requests
they would hold the interpreter while a request waits (a figures run at a million threads held
the API's p99 at 670 ms). So `serve` answers requests only and supervises a worker process beside
it, at a lower CPU priority: restarted after a crash with a growing pause, stopped with `serve`.
The worker's standard input is a pipe from `serve`: when `serve` ends in any way (even SIGKILL)
the pipe closes and the worker hands its leases back and exits.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

log = logging.getLogger(__name__)

NICENESS = 10  # below the API: a request never waits for a job's CPU
FIRST_PAUSE, MAX_PAUSE = 1.0, 60.0  # seconds before a restart, doubling after each quick crash
STEADY_SECONDS = 60.0  # a worker that ran this long crashed for a new reason: pause from the start
STOP_SECONDS = 60.0  # a worker hands its leases back on stop; past this it is killed


def worker_command(config: str | None) -> list[str]:
    """The child's command line: this interpreter, the same config file."""
    options = ["--config", config] if config else []
    command = ["worker", "--nice", str(NICENESS), "--until-stdin-closes"]
    return [sys.executable, "-m", "app.cli", *options, *command]


class WorkerProcess:
    """Runs ``command`` until stopped; restarts it whenever it exits on its own."""

    def __init__(self, command: Sequence[str], *, env: dict[str, str] | None = None) -> None:
        self._command = list(command)
        self._env = env
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._supervise, name="worker-process", daemon=True)
        self.starts = 0

    @property
    def pid(self) -> int | None:
        with self._lock:
            return self._process.pid if self._process else None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Close the worker's standard input (it stops cleanly), then wait for it."""
        self._stopping.set()
        with self._lock:
            process = self._process
        if process is not None:
            _close(process)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                log.warning(
                    "worker process %d did not stop in %.0f s: killed", process.pid, STOP_SECONDS
                )
                process.kill()
                process.wait()
        self._thread.join()

    def _supervise(self) -> None:
        pause = FIRST_PAUSE
        while not self._stopping.is_set():
            began = time.monotonic()
            with self._lock:
                if self._stopping.is_set():
                    return
                # Its own session: a terminal's Ctrl-C reaches `serve`, which stops it in order.
                self._process = subprocess.Popen(
                    self._command, stdin=subprocess.PIPE, env=self._env, start_new_session=True
                )
                self.starts += 1
            log.info("worker process %d started", self._process.pid)
            code = self._process.wait()
            if self._stopping.is_set():
                return
            if time.monotonic() - began >= STEADY_SECONDS:
                pause = FIRST_PAUSE
            log.warning(
                "worker process %d exited with %s; restarting in %.0f s",
                self._process.pid,
                code,
                pause,
            )
            _close(self._process)
            if self._stopping.wait(pause):
                return
            pause = min(pause * 2, MAX_PAUSE)


def _close(process: subprocess.Popen[bytes]) -> None:
    if process.stdin is not None and not process.stdin.closed:
        with contextlib.suppress(OSError):  # the worker is gone already
            process.stdin.close()


def lower_priority(niceness: int) -> None:
    """Run this process below the API's CPU priority (a no-op where that is not allowed)."""
    try:
        os.nice(niceness)
    except OSError as e:
        log.warning("could not lower the worker's priority: %s", e)


def stop_when_stdin_closes(stop: threading.Event) -> None:
    """Set ``stop`` once standard input ends: the supervising `serve` is gone or stopping."""

    def wait() -> None:
        while sys.stdin.buffer.read(65536):
            pass
        stop.set()

    threading.Thread(target=wait, name="stdin-watch", daemon=True).start()
