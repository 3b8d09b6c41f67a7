"""`slawatch serve` as an operator runs it: a real process on a real port."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


def test_serve_answers_healthz_on_a_migrated_database(tmp_path: Path) -> None:
    env = cli_env(f"sqlite:///{tmp_path / 'slawatch.db'}")
    migrate = subprocess.run(
        [sys.executable, "-m", "app.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert migrate.returncode == 0, migrate.stderr
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(port)],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert wait_for_http(f"http://127.0.0.1:{port}/healthz", server) == 200
    finally:
        server.terminate()
        server.wait(timeout=60)


def test_serve_refuses_an_unmigrated_database_and_says_how_to_fix_it(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "serve", "--port", str(free_port())],
        env=cli_env(f"sqlite:///{tmp_path / 'empty.db'}"),
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "run `slawatch migrate`" in result.stderr
