"""Slawatch in a process of its own, as an operator runs it: the project root, the environment the
CLI runs with, and waiting until the server answers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.dovecot import free_port

ROOT = Path(__file__).parents[2]


def wait_for_http(url: str, process: subprocess.Popen[str], timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback)
                return int(response.status)
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


def cli_env(database_url: str) -> dict[str, str]:
    return {**os.environ, "SLAWATCH_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}


def migrated(database_url: str, cwd: Path) -> dict[str, str]:
    """Run `slawatch migrate` on ``database_url``; the CLI environment pointing at it."""
    env = cli_env(database_url)
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return env


@contextmanager
def serving(
    env: dict[str, str], cwd: Path, *args: str, log: Path | None = None, stop_within: float = 120
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`slawatch serve [args]` on a free port, once it answers; its output to ``log`` if given.
    Yields the process and its base URL; stops it afterwards unless the test already did."""
    port = free_port()
    with log.open("wb") if log else open(os.devnull, "wb") as sink:
        server = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", *args, "--port", str(port)],
            env=env,
            cwd=cwd,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for_http(f"{base}/healthz", server) == 200
        yield server, base
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=stop_within)
