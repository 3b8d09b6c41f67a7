"""Scale-out benchmark: 500 mailboxes on one Dovecot polled by 1, 2 and 4 `slawatch worker`
processes on PostgreSQL; then the API's throughput with 1 and 2 `serve --no-scheduler` replicas.

Run: .venv/bin/python -m bench.workers --database-url postgresql://postgres@127.0.0.1:5432/test
     [--mailboxes 500] [--messages 10] [--steady 30]

For each worker count, on a fresh database: the time until every mailbox's first poll has stored
its messages (a full round with mail to read), then, polling every 5 s with nothing new, the polls
completed per second and the CPU they cost (the workers' user + system time from /proc).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import func, select, text

from app import leases
from app.db import make_engine, make_session_factory, session_scope
from app.enums import Role
from app.models import Lease, Mailbox, Message
from app.users.service import create_user
from bench.common import ROOT, drop_database, fresh_database, serving
from bench.threads_api import fill, throughput
from tests.support.dovecot import Dovecot
from tests.support.mailfactory import customer

PASSWORD_ENV = "SLAWATCH_BENCH_PASSWORD"
POLL_SECONDS = 5
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def config(path: Path, *, dovecot: Dovecot, database_url: str, mailboxes: int) -> None:
    lines = [
        f'database_url = "{database_url}"',
        'log_level = "INFO"',
        "[worker]",
        "lease_seconds = 20",
        "threads = 20",
    ]
    for i in range(mailboxes):
        lines += [
            "[[mailboxes]]",
            f'name = "b{i:03d}"',
            f'host = "{dovecot.host}"',
            f"port = {dovecot.port}",
            'security = "plain"',
            f'username = "b{i:03d}@bench.example"',
            f'password_env = "{PASSWORD_ENV}"',
            'seller_addresses = ["support@store.example"]',
            f"poll_seconds = {POLL_SECONDS}",
            "idle = false",  # 500 IDLE connections per worker would measure Dovecot, not us
        ]
    path.write_text("\n".join(lines) + "\n")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / CLOCK_TICKS


def polls_done(dovecot: Dovecot) -> int:
    """Polls so far, counted by the server: each poll (IDLE off) logs in once. (APScheduler's
    line for each job run is off unless log_level is DEBUG.)"""
    log = (dovecot.base / "dovecot.log").read_bytes()
    return len(re.findall(rb"imap-login: Info: Login: user=<b\d+@bench.example>", log))


def run_workers(
    count: int, *, dovecot: Dovecot, admin_url: str, mailboxes: int, expected: int, steady: float
) -> None:
    url = fresh_database(admin_url)
    work = Path(tempfile.mkdtemp(prefix="slawatch-workers-"))
    config(work / "w.toml", dovecot=dovecot, database_url=url, mailboxes=mailboxes)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SLAWATCH_CONFIG": str(work / "w.toml"),
        PASSWORD_ENV: "pw",
    }
    logs = [work / f"worker-{n}.log" for n in range(count)]
    engine = make_engine(url)
    factory = make_session_factory(engine)
    began = time.perf_counter()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env=env,
            cwd=work,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        for log in logs
    ]
    pids = [w.pid for w in workers]
    logins_before = polls_done(dovecot)
    first_stored = all_holding = None  # seconds after the start
    try:
        while True:
            with factory() as db:
                polled = db.scalar(
                    select(func.count())
                    .select_from(Mailbox)
                    .where(Mailbox.last_success_at.is_not(None))
                )
                stored = db.scalar(select(func.count()).select_from(Message))
                holding = db.scalar(
                    select(func.count(Lease.holder.distinct())).where(
                        Lease.name.startswith(leases.MAILBOX_PREFIX), Lease.holder.is_not(None)
                    )
                )
            if first_stored is None and stored:
                first_stored = time.perf_counter() - began
            if all_holding is None and holding == count:
                all_holding = time.perf_counter() - began
            if polled == mailboxes and stored == expected:
                break
            time.sleep(0.2)
        first_round = time.perf_counter() - began
        polls_before, cpu_before = polls_done(dovecot), cpu_seconds(pids)
        with engine.connect() as connection:  # counted by PostgreSQL, flushed within a second
            sessions = connection.scalar(
                text("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
            )
        print(
            f"{count} worker(s), first round: a first message stored at {first_stored or 0:.1f} s, "
            f"every worker holding mailboxes at {all_holding or 0:.1f} s; "
            f"{polls_before - logins_before} polls for {mailboxes} mailboxes; the workers' CPU "
            f"{cpu_before:.1f} s ({1000 * cpu_before / max(expected, 1):.1f} ms a message); "
            f"{sessions} database connections opened"
        )
        time.sleep(steady)
        polls = polls_done(dovecot) - polls_before
        cpu = cpu_seconds(pids) - cpu_before
        print(
            f"{count} worker(s): first round (every mailbox polled, {expected} messages stored) "
            f"{first_round:.1f} s; then {polls / steady:.1f} polls/s with nothing new "
            f"(one round of {mailboxes} every {mailboxes / max(polls / steady, 0.01):.1f} s), "
            f"{1000 * cpu / max(polls, 1):.1f} ms CPU per mailbox poll"
        )
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=120)
        engine.dispose()
        drop_database(url)


def run_replicas(admin_url: str, threads: int) -> None:
    url = fresh_database(admin_url)
    fill(url, threads)
    with session_scope(make_session_factory(make_engine(url))) as db:
        token = create_user(db, name="bench", role=Role.VIEWER, actor="bench").token
    with contextlib.ExitStack() as stack:
        bases = [stack.enter_context(serving(url, "--no-scheduler")) for _ in range(2)]
        for path in ("/api/v1/threads?state=overdue&limit=50", "/api/v1/summary"):
            one = throughput(bases[:1], token, path)
            two = throughput(bases, token, path)
            print(
                f"GET {path} with {threads} threads, 8 clients: 1 replica {one:.0f} requests/s, "
                f"2 replicas {two:.0f} requests/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", required=True, help="PostgreSQL: workers share it")
    parser.add_argument("--mailboxes", type=int, default=500)
    parser.add_argument("--messages", type=int, default=10, help="per mailbox, read in round 1")
    parser.add_argument("--steady", type=float, default=30, help="seconds of no-change polling")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--threads", type=int, default=100_000, help="for the replicas part")
    parser.add_argument("--replicas", action=argparse.BooleanOptionalAction, default=True)
    args = parser.parse_args()

    dovecot = Dovecot()
    dovecot.start()
    try:
        for i in range(args.mailboxes):
            user = f"b{i:03d}@bench.example"
            dovecot.add_user(user, "pw")
            dovecot.deliver(
                user,
                [customer(f"Buyer {i}-{n}", subject=f"Order {n}") for n in range(args.messages)],
            )
        for count in (int(n) for n in args.workers.split(",")):
            run_workers(
                count,
                dovecot=dovecot,
                admin_url=args.database_url,
                mailboxes=args.mailboxes,
                expected=args.mailboxes * args.messages,
                steady=args.steady,
            )
    finally:
        dovecot.cleanup()
    if args.replicas:
        run_replicas(args.database_url, args.threads)


if __name__ == "__main__":
    main()
