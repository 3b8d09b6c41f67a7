"""`slawatch serve` runs its scheduled work in a child `slawatch worker` process, so a job never
holds the interpreter a request waits for: the child runs the jobs at a lower priority, is
restarted when it dies, and ends with `serve` however `serve` ends."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
from sqlalchemy import select

from app.clock import now
from app.db import make_engine, make_session_factory
from app.leases import WORKER_PREFIX, live_workers
from app.models import Lease, ResponseFigures
from app.worker_process import NICENESS
from tests.support.processes import ROOT, migrated, serving

T = TypeVar("T")
DEADLINE = 120.0


def _eventually(check: Callable[[], T | None], what: str) -> T:
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {DEADLINE:.0f} s: {what}")


def _alive(pid: int) -> bool:
    """Running, not exited (an orphan's zombie waits for a reaper that may never come)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def _worker_child(serve: subprocess.Popen[str]) -> int | None:
    children = []
    for task in Path(f"/proc/{serve.pid}/task").iterdir():
        children += [int(p) for p in (task / "children").read_text().split()]
    workers = [
        pid
        for pid in children
        if _alive(pid) and b"worker" in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    ]
    assert len(workers) <= 1, f"more than one worker process: {workers}"
    return workers[0] if workers else None


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], str]]:
    url = f"sqlite:///{tmp_path / 'slawatch.db'}"
    with serving(migrated(url, tmp_path), tmp_path, stop_within=DEADLINE) as (server, _):
        yield server, url


def _workers_alive(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as db:
            return live_workers(db, now=now())
    finally:
        engine.dispose()


def _rows(url: str, model: type) -> list[object]:
    engine = make_engine(url)
    try:
        with make_session_factory(engine)() as db:
            return list(db.scalars(select(model)))
    finally:
        engine.dispose()


def test_serve_runs_the_jobs_in_a_lower_priority_worker_it_restarts(
    serve: tuple[subprocess.Popen[str], str],
) -> None:
    server, url = serve
    first = _eventually(lambda: _worker_child(server), "serve starts a worker process")
    _eventually(
        lambda: _niceness(first) == _niceness(server.pid) + NICENESS, "the worker yields the CPU"
    )
    # The figures job ran, in the worker: the API process has no scheduler.
    _eventually(lambda: _rows(url, ResponseFigures), "the worker computes the figures")

    os.kill(first, signal.SIGKILL)
    second = _eventually(
        lambda: (pid := _worker_child(server)) != first and pid, "serve restarts its worker"
    )
    assert _alive(second) and not _alive(first)

    server.terminate()
    assert server.wait(timeout=DEADLINE) == 0
    _eventually(lambda: not _alive(second), "the worker stops with serve")
    # It handed its leases back (the killed one's expire in their time).
    assert [w for w in _workers_alive(url) if f":{second}:" in w] == []


def test_the_worker_stops_when_serve_is_killed(serve: tuple[subprocess.Popen[str], str]) -> None:
    server, url = serve
    child = _eventually(lambda: _worker_child(server), "serve starts a worker process")
    _eventually(lambda: _workers_alive(url), "the worker takes its heartbeat lease")
    server.kill()  # no chance to stop it: the closed pipe tells it
    server.wait(timeout=DEADLINE)
    _eventually(lambda: not _alive(child), "the orphaned worker exits")
    assert _workers_alive(url) == []
    released = [lease for lease in _rows(url, Lease) if lease.name.startswith(WORKER_PREFIX)]
    assert released and all(lease.holder is None for lease in released)


def test_the_worker_loads_no_web_framework(tmp_path: Path) -> None:
    """The worker polls and sweeps: it imports neither FastAPI nor uvicorn."""
    env = migrated(f"sqlite:///{tmp_path / 'slawatch.db'}", tmp_path)
    probe = (
        "import atexit, json, sys\n"
        "from app.cli import main\n"
        "heavy = ('fastapi', 'starlette', 'uvicorn')\n"
        "atexit.register(lambda: print(json.dumps([m for m in heavy if m in sys.modules])))\n"
        "sys.exit(main(['worker', '--until-stdin-closes']))\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", probe],
        env={**env, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = env["SLAWATCH_DATABASE_URL"]
    _eventually(lambda: _workers_alive(url), "the worker starts")
    out, err = worker.communicate(input="", timeout=DEADLINE)  # closes its standard input
    assert worker.returncode == 0, err
    assert json.loads(out.strip().splitlines()[-1]) == []
    assert _workers_alive(url) == []
