"""The command line starts quickly: `slawatch --help` loads neither the settings, the ORM nor the
web framework, and `poll` and `sweep` load no web framework (each command imports what it uses
when it runs; the worker's own test is in tests/test_worker_process.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.processes import ROOT

ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
WEB = ("fastapi", "starlette", "uvicorn")
HEAVY = ("sqlalchemy", *WEB, "pydantic", "app.config", "app.db")


def test_help_imports_no_heavy_module() -> None:
    code, loaded, output = _loaded_by(["--help"], HEAVY, ENV)
    assert code == 0
    assert "poll" in output and "users" in output  # the help itself
    assert loaded == []


def test_a_command_still_loads_what_it_uses(tmp_path: Path) -> None:
    config = tmp_path / "slawatch.toml"
    config.write_text(f'database_url = "sqlite:///{tmp_path / "x.db"}"\n')
    checked = subprocess.run(
        [sys.executable, "-m", "app.cli", "--config", str(config), "check-config"],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert checked.returncode == 0, checked.stderr
    assert "configuration OK" in checked.stdout
    missing = subprocess.run(
        [sys.executable, "-m", "app.cli", "--config", str(tmp_path / "no.toml"), "check-config"],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def _loaded_by(
    argv: list[str], modules: tuple[str, ...], env: dict[str, str]
) -> tuple[int, list[str], str]:
    """Run ``slawatch ARGV`` in a fresh interpreter: its exit code, which of ``modules`` it
    imported, and its output."""
    probe = (
        "import json, sys\n"
        "from app.cli import main\n"
        "try:\n"
        f"    code = main({argv!r})\n"
        "except SystemExit as e:\n"
        "    code = e.code\n"
        f"print(json.dumps([code, [m for m in {modules!r} if m in sys.modules]]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    code, loaded = json.loads(result.stdout.strip().splitlines()[-1])
    return code, loaded, result.stdout + result.stderr


def _migrated_config(tmp_path: Path) -> Path:
    config = tmp_path / "slawatch.toml"
    config.write_text(
        f'database_url = "sqlite:///{tmp_path / "x.db"}"\n'
        "[[mailboxes]]\n"
        'name = "shop"\nhost = "127.0.0.1"\nport = 1\nsecurity = "plain"\n'
        'username = "shop@example.com"\npassword_env = "SHOP_PASSWORD"\n'
        "timeout_seconds = 5\n"
    )
    migrated = subprocess.run(
        [sys.executable, "-m", "app.cli", "--config", str(config), "migrate"],
        env=ENV,
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert migrated.returncode == 0, migrated.stderr
    return config


def test_a_poll_loads_no_web_framework_and_no_http_client(tmp_path: Path) -> None:
    """`slawatch poll --once` from cron starts often: it imports what polling needs, not the
    API's framework, nor the HTTP client only OAuth2 mailboxes use."""
    config = _migrated_config(tmp_path)
    code, loaded, output = _loaded_by(
        ["--config", str(config), "poll", "--once"],
        (*WEB, "httpx", "jinja2"),
        {**ENV, "SHOP_PASSWORD": "pw"},
    )
    assert code != 0 and "shop" in output  # the poll ran, and failed
    assert loaded == []


def test_a_sweep_loads_no_web_framework(tmp_path: Path) -> None:
    config = _migrated_config(tmp_path)
    code, loaded, output = _loaded_by(["--config", str(config), "sweep", "--once"], WEB, ENV)
    assert code == 0 and "SLA transitions recorded" in output
    assert loaded == []
