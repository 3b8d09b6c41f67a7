"""Slawatch in a process of its own, as an operator runs it: the project root, the environment the
CLI runs with, and waiting until the server answers."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

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
