"""Three `slawatch worker` processes on one PostgreSQL share 50 Dovecot mailboxes while mail keeps
arriving; one is SIGKILLed midway. Every message must end up stored once and every alert due
delivered once."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from app import leases, migrate
from app.db import make_engine, make_session_factory
from app.enums import AlertState
from app.models import Alert, Lease, Mailbox, Message, Thread
from app.sla import ThreadState
from tests.support.dovecot import Dovecot
from tests.support.imap import closing_client
from tests.support.mailfactory import customer
from tests.support.postgres import PostgresServer
from tests.support.smtp import SmtpServer

ROOT = Path(__file__).parents[1]
MAILBOXES = 50
LEASE_SECONDS = 6
PATIENCE = 120  # for what must happen, on a shared machine under load


def _config(path: Path, *, dovecot: Dovecot, smtp: SmtpServer, database_url: str) -> None:
    lines = [
        f'database_url = "{database_url}"',
        'log_level = "INFO"',
        "[worker]",
        f"lease_seconds = {LEASE_SECONDS}",
        "sweep_seconds = 5",
        "threads = 10",
        "[smtp]",
        f'host = "{smtp.host}"',
        f"port = {smtp.port}",
        'security = "plain"',
        'from_address = "slawatch@store.example"',
        "[alerts]",
        'recipients = ["team@store.example"]',
    ]
    for i in range(MAILBOXES):
        lines += [
            "[[mailboxes]]",
            f'name = "m{i:02d}"',
            f'client = "client-{i % 5}"',
            f'host = "{dovecot.host}"',
            f"port = {dovecot.port}",
            'security = "plain"',
            f'username = "m{i:02d}@workers.example"',
            f'password_env = "SLAWATCH_TEST_WORKER_PW_{i:02d}"',
            'seller_addresses = ["support@store.example"]',
            "poll_seconds = 5",
            "timeout_seconds = 20",
        ]
    path.write_text("\n".join(lines) + "\n")


def _append(dovecot: Dovecot, mailbox: int, raw: bytes, when: datetime) -> None:
    from imapclient import IMAPClient

    client = IMAPClient(dovecot.host, port=dovecot.port, ssl=False, timeout=30)
    client.login(f"m{mailbox:02d}@workers.example", f"pw-{mailbox}")
    with closing_client(client):
        client.append("INBOX", raw, msg_time=when)


def _mailboxes_held_by(factory: sessionmaker[Session], pid: int) -> list[str]:
    with factory() as db:
        return list(
            db.scalars(
                select(Lease.name).where(
                    Lease.name.startswith("mailbox:"),
                    Lease.holder.contains(f":{pid}:"),
                    Lease.expires_at > datetime.now(UTC),
                )
            )
        )


def _holders(factory: sessionmaker[Session], names: list[str]) -> dict[str, str]:
    with factory() as db:
        return leases.holders(db, names, now=datetime.now(UTC))


def _last_polled(factory: sessionmaker[Session]) -> datetime:
    """When the mailbox polled least recently last finished a poll."""
    with factory() as db:
        oldest = db.scalar(select(func.min(Mailbox.last_success_at)))
        count = db.scalar(select(func.count()).select_from(Mailbox))
    assert oldest is not None and count == MAILBOXES
    return oldest


def _counts(db: Session) -> tuple[int, int, int]:
    stored = db.scalar(select(func.count()).select_from(Message)) or 0
    distinct = db.scalar(select(func.count(func.distinct(Message.message_id_header)))) or 0
    unsent = (
        db.scalar(select(func.count()).select_from(Alert).where(Alert.state != AlertState.SENT))
        or 0
    )
    return stored, distinct, unsent


def test_three_workers_one_killed_store_everything_once_and_alert_once(
    dovecot: Dovecot, postgres: PostgresServer, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    url = postgres.create_database()
    migrate.upgrade(url)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SLAWATCH_CONFIG": str(tmp_path / "w.toml")}
    for i in range(MAILBOXES):
        dovecot.add_user(f"m{i:02d}@workers.example", f"pw-{i}")
        env[f"SLAWATCH_TEST_WORKER_PW_{i:02d}"] = f"pw-{i}"
    _config(tmp_path / "w.toml", dovecot=dovecot, smtp=smtp_server, database_url=url)

    rng = random.Random(8)
    now = datetime.now(UTC)
    sent: list[str] = []

    def arrive(i: int, hours_ago: float) -> None:
        raw = customer(f"Buyer {i}-{len(sent)}", subject=f"Order question {len(sent)}")
        _append(dovecot, i, raw, now - timedelta(hours=hours_ago))
        sent.append(message_from_bytes(raw)["Message-ID"])

    for i in range(MAILBOXES):  # before the workers start: one overdue, one waiting each
        arrive(i, 50)
        arrive(i, 2)

    logs = [tmp_path / f"worker-{n}.log" for n in range(3)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            cwd=tmp_path,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    engine = make_engine(url)
    factory = make_session_factory(engine)
    try:
        began = time.monotonic()
        killed_at = None
        for round_ in range(10):  # mail keeps arriving for about 20 s
            for i in rng.sample(range(MAILBOXES), 8):
                arrive(i, 49.5 if round_ % 3 == 0 else 0.1)
            if round_ == 4:
                # Kill it once it polls its share (three workers starting on a busy machine may
                # need a few rounds to even out).
                waited = time.monotonic()
                while len(orphans := _mailboxes_held_by(factory, workers[0].pid)) < 10:
                    assert time.monotonic() - waited < PATIENCE, logs[0].read_text()[-3000:]
                    time.sleep(0.2)
                workers[0].send_signal(signal.SIGKILL)
                workers[0].wait()
                killed_at = time.monotonic()
                # Taken over once its leases expire: one lease period and the survivors' next
                # round on a quiet machine, later on a busy one (how much later is not the point).
                while any(
                    f":{workers[0].pid}:" in (holder or "")
                    for holder in _holders(factory, orphans).values()
                ) or len(_holders(factory, orphans)) < len(orphans):
                    assert time.monotonic() - killed_at < PATIENCE, (
                        f"the killed worker's mailboxes were not taken over within {PATIENCE} s"
                    )
                    time.sleep(0.2)
            time.sleep(2)
        assert killed_at is not None

        deadline = time.monotonic() + PATIENCE
        while True:
            with factory() as db:
                stored, distinct, unsent = _counts(db)
                overdue = db.scalar(
                    select(func.count()).select_from(Thread).where(Thread.due_at <= func.now())
                )
                alerted = db.scalar(select(func.count()).select_from(Alert))
            if stored >= len(sent) and unsent == 0 and alerted and alerted >= overdue:
                break
            assert time.monotonic() < deadline, (
                f"after {time.monotonic() - began:.0f} s: {stored}/{len(sent)} stored, "
                f"{alerted} alerts for {overdue} overdue threads, {unsent} not sent yet"
            )
            time.sleep(1)
        # One more poll of every mailbox (and sweeps meanwhile): nothing doubles later.
        polled_from, deadline = datetime.now(UTC), time.monotonic() + PATIENCE
        while _last_polled(factory) <= polled_from:
            assert time.monotonic() < deadline, "the mailboxes were not all polled again"
            time.sleep(1)
    finally:
        for worker in workers[1:]:
            worker.send_signal(signal.SIGTERM)
        for worker, log in zip(workers[1:], logs[1:], strict=True):
            try:
                worker.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.send_signal(signal.SIGUSR1)  # the worker prints its threads' stacks
                time.sleep(1)
                worker.kill()
                raise AssertionError(f"worker did not stop:\n{log.read_text()[-6000:]}") from None

    with factory() as db:
        stored, distinct, unsent = _counts(db)
        alerts = list(db.scalars(select(Alert)))
        overdue_threads = db.scalars(
            select(Thread.id).where(Thread.due_at <= func.now(), Thread.closed_at.is_(None))
        ).all()
        holders = set(db.scalars(select(Lease.holder).where(Lease.expires_at > datetime.now(UTC))))
    engine.dispose()

    assert stored == distinct == len(sent)  # every message once
    assert unsent == 0
    # Every overdue thread alerted, each alert delivered exactly once.
    alerted_threads = {a.thread_id for a in alerts if a.kind == ThreadState.OVERDUE.value}
    assert set(overdue_threads) <= alerted_threads and len(overdue_threads) >= MAILBOXES
    delivered = Counter(
        message_from_bytes(raw)["Message-ID"] for _, raw in smtp_server.recorder.messages
    )
    assert sorted(delivered) == sorted(a.message_id for a in alerts)
    assert set(delivered.values()) == {1}
    # The survivors stopped cleanly and handed their leases back; only the killed worker's own
    # heartbeat is left, expired.
    assert holders <= {None}
    for worker, log in zip(workers[1:], logs[1:], strict=True):
        assert worker.returncode == 0, log.read_text()[-3000:]
        assert "Traceback" not in log.read_text(), log.read_text()[-3000:]
