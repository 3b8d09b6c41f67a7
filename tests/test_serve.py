"""`slawatch serve` as an operator runs it: a real process on a real port."""

import subprocess
import sys
from pathlib import Path

from tests.support.dovecot import free_port
from tests.support.processes import cli_env, wait_for_http


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
