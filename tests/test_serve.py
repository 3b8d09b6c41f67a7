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


def _serve_log(tmp_path: Path, config: str) -> str:
    (tmp_path / "slawatch.toml").write_text(config)
    env = migrated(f"sqlite:///{tmp_path / 'slawatch.db'}", tmp_path)
    log = tmp_path / "serve.log"
    with serving(env, tmp_path, "--no-scheduler", log=log) as (_, base):
        assert httpx.get(f"{base}/healthz").status_code == 200
    return log.read_text()


def test_serve_without_smtp_says_once_that_replies_and_alert_emails_are_off(
    tmp_path: Path,
) -> None:
    lines = _serve_log(tmp_path, "").splitlines()
    said = [line for line in lines if "SMTP is not configured" in line]
    assert len(said) == 1, lines
    assert " INFO app.cli.server: " in said[0]
    assert "alert emails are off" in said[0] and "replies" in said[0]
    assert "chat channels still get alerts" in said[0]


def test_serve_with_smtp_says_nothing_of_it(tmp_path: Path) -> None:
    log = _serve_log(tmp_path, '[smtp]\nhost = "smtp.example.com"\n')
    assert "SMTP is not configured" not in log
