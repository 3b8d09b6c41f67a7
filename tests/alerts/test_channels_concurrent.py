"""Channels under concurrency: two sweeps at once, each with its own engine and sessions (threads on
SQLite and PostgreSQL, processes on PostgreSQL), deliver each alert to each channel exactly once;
the processes' logs, at DEBUG, never show a channel's URL."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.alerts.jobs import sweep
from app.clock import now
from app.db import make_engine, make_session_factory
from tests.alerts.channel_factories import (
    SLACK_ENV,
    WEBHOOK_ENV,
    WEBHOOK_KEY,
    WEBHOOK_SECRET_ENV,
    channel_settings,
    mailbox,
    threads,
)
from tests.support.chat_receiver import ChatReceiver
from tests.support.polling import ROOT
from tests.support.postgres import PostgresServer

THREADS = 150


def thread_ids(chat: ChatReceiver) -> dict[str, list[int]]:
    """The threads each channel was told about, one entry per message received."""
    slack = [
        int(m.json()["blocks"][-1]["elements"][0]["url"].rsplit("/", 1)[1])
        for m in chat.to(chat.slack_path)
    ]
    teams = [
        int(m.json()["attachments"][0]["content"]["body"][2]["actions"][0]["url"].rsplit("/")[-1])
        for m in chat.to(chat.teams_path)
    ]
    webhook = [m.json()["thread"]["id"] for m in chat.to(chat.webhook_path)]
    return {"slack": slack, "teams": teams, "webhook": webhook}


def test_two_sweeps_at_once_deliver_each_alert_to_each_channel_once(
    chat: ChatReceiver,
    database_url: str,
    session_factory: sessionmaker[Session],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    at = now()
    with session_factory.begin() as db:
        ids = threads(db, mailbox(db), waited_hours=40, count=THREADS, at=at)
    settings = channel_settings(database_url, chat, tmp_path, monkeypatch)
    engines = [make_engine(database_url) for _ in range(2)]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def run(factory: sessionmaker[Session]) -> None:
        start.wait()
        try:
            sweep(factory, settings, now=at)
        except BaseException as e:  # reported below, in the test's thread
            failures.append(e)

    sweeps = [threading.Thread(target=run, args=(make_session_factory(e),)) for e in engines]
    for s in sweeps:
        s.start()
    for s in sweeps:
        s.join()
    for e in engines:
        e.dispose()

    assert failures == []
    for channel, seen in thread_ids(chat).items():
        assert sorted(seen) == ids, channel


def test_two_sweep_processes_on_postgresql_deliver_once_and_never_log_a_url(
    chat: ChatReceiver, postgres: PostgresServer, tmp_path: Path
) -> None:
    url = postgres.create_database()
    migrate.upgrade(url)
    engine = make_engine(url)
    at = now()
    with make_session_factory(engine).begin() as db:
        ids = threads(db, mailbox(db), waited_hours=40, count=THREADS, at=at)
    engine.dispose()
    teams_file = tmp_path / "teams-url"
    teams_file.write_text(chat.url(chat.teams_path))
    config = tmp_path / "slawatch.toml"
    config.write_text(
        f'database_url = "{url}"\nlog_level = "DEBUG"\n'
        '[[alerts.channels]]\nkind = "slack"\n'
        f'url_env = "{SLACK_ENV}"\n'
        '[[alerts.channels]]\nkind = "teams"\n'
        f'url_file = "{teams_file}"\n'
        '[[alerts.channels]]\nkind = "webhook"\n'
        f'url_env = "{WEBHOOK_ENV}"\nsecret_env = "{WEBHOOK_SECRET_ENV}"\n'
    )
    chat.status[chat.webhook_path] = 503  # its refusals are logged: without the URL
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        SLACK_ENV: chat.url(chat.slack_path),
        WEBHOOK_ENV: chat.url(chat.webhook_path),
        WEBHOOK_SECRET_ENV: WEBHOOK_KEY,
    }
    sweeps = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "--config", str(config), "sweep", "--once"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [s.communicate(timeout=300)[0] for s in sweeps]

    assert all("channel deliveries sent:" in o for o in outputs), outputs
    assert any("answered HTTP 503" in o for o in outputs), outputs
    for output in outputs:
        assert chat.secret not in output
        assert chat.slack_path not in output and chat.webhook_path not in output
    seen = thread_ids(chat)
    assert sorted(seen["slack"]) == ids and sorted(seen["teams"]) == ids
    # The refused webhook: once per process at most, its other deliveries left for later.
    assert 1 <= len(chat.to(chat.webhook_path)) <= 2
