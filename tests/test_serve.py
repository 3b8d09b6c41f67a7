"""`slawatch serve` as an operator runs it: a real process on a real port."""

import subprocess
import sys
from pathlib import Path

import httpx

from tests.support.dovecot import free_port
from tests.support.processes import cli_env, migrated, serving


def test_serve_answers_healthz_on_a_migrated_database(tmp_path: Path) -> None:
    env = migrated(f"sqlite:///{tmp_path / 'slawatch.db'}", tmp_path)
    with serving(env, tmp_path) as (_, base):
        assert httpx.get(f"{base}/healthz").json()["status"] == "ok"


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
