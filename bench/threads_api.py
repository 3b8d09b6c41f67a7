"""Threads API benchmark: 1,000,000 threads, the overdue list and the summary, under load.

Run: .venv/bin/python -m bench.threads_api [--threads 1000000] [--database-url postgresql://...]
Times the figures job alone, then starts `slawatch serve` on the filled database and measures the
median and p99 latency of `GET /api/v1/threads?state=overdue&limit=50` one request at a time
twice: right after start, while its worker runs the sweep and the figures job (--busy seconds),
and once settled. Then the same for `GET /api/v1/summary`, and requests/second with concurrent
clients in a second process. Goals (issue 16): the list's p99 under 50 ms while the jobs run,
within 1.5x of its settled p99.
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import statistics
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import func, insert, select, text

from app.db import make_engine, make_read_session_factory, make_session_factory, session_scope
from app.enums import Role, ThreadKind, ThreadSource
from app.models import Mailbox, ResponseEpisode, ResponseFigures, Thread
from app.threads import jobs as thread_jobs
from app.threads.repository import rebuild_tallies
from app.users.service import create_user
from bench.common import fresh_database, serving

MAILBOXES = 5
CHUNK = 20_000


def fill(url: str, count: int) -> None:
    """``count`` threads over 60 days: most answered, ~3% waiting, a few hundred overdue."""
    rng = random.Random(1)
    at = datetime.now(UTC)
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(
            insert(Mailbox), [{"name": f"store-{i}", "created_at": at} for i in range(MAILBOXES)]
        )
        mailbox_ids = [row[0] for row in connection.execute(text("SELECT id FROM mailboxes"))]
    next_id = 1
    for start in range(0, count, CHUNK):
        threads, episodes = [], []
        for _ in range(min(CHUNK, count - start)):
            started = at - timedelta(hours=rng.uniform(0, 60 * 24))
            roll = rng.random()
            waiting = roll < 0.03
            answered_at = None if waiting else started + timedelta(hours=rng.uniform(0.1, 60))
            if waiting:  # 1 in 100 waiting threads is overdue (0 to 24 h past its deadline)
                hours = rng.uniform(48, 72) if roll < 0.0003 else rng.uniform(0, 47.9)
                started = at - timedelta(hours=hours)
            due = started + timedelta(hours=48)
            mailbox_id = rng.choice(mailbox_ids)
            threads.append(
                {
                    "id": next_id,
                    "mailbox_id": mailbox_id,
                    "kind": ThreadKind.CUSTOMER,
                    "source": ThreadSource.INBOX,
                    "subject": f"Order question {next_id}",
                    "normalized_subject": f"order question {next_id}",
                    "counterpart": f"{uuid.UUID(int=next_id).hex.upper()}@relay.walmart.com",
                    "order_number": f"{108829272810000 + next_id}",
                    "has_customer_messages": True,
                    "clock_started_at": started if waiting else None,
                    "due_at": due if waiting else None,
                    "at_risk_at": due - timedelta(hours=12) if waiting else None,
                    "last_customer_at": started,
                    "last_seller_at": answered_at,
                    "last_message_at": answered_at or started,
                    "message_count": 2,
                    "created_at": started,
                    "updated_at": answered_at or started,
                }
            )
            episodes.append(
                {
                    "thread_id": next_id,
                    "mailbox_id": mailbox_id,
                    "kind": ThreadKind.CUSTOMER,
                    "started_at": started,
                    "due_at": due,
                    "answered_at": answered_at,
                    "response_seconds": (answered_at - started).total_seconds()
                    if answered_at
                    else None,
                }
            )
            next_id += 1
        with engine.begin() as connection:
            connection.execute(insert(Thread), threads)
            connection.execute(insert(ResponseEpisode), episodes)
    with session_scope(make_session_factory(engine)) as db:
        rebuild_tallies(db)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            # As autovacuum leaves a live database: statistics and the visibility map, without
            # which PostgreSQL cannot answer from an index alone.
            connection.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("VACUUM ANALYZE")
            )
    else:
        with engine.begin() as connection:
            connection.execute(text("ANALYZE"))
    engine.dispose()


def latencies(base: str, token: str, path: str, n: int, *, for_seconds: float = 0) -> list[float]:
    """Milliseconds of ``n`` requests one at a time, or of as many as ``for_seconds`` allows."""
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
        client.get(path).raise_for_status()  # warm up
        result: list[float] = []
        stop = time.monotonic() + for_seconds
        while len(result) < n if not for_seconds else time.monotonic() < stop:
            began = time.perf_counter()
            client.get(path).raise_for_status()
            result.append((time.perf_counter() - began) * 1000)
    return result


def figures_job(url: str) -> tuple[float, float]:
    """The figures job once, in this process: its wall and CPU seconds (the database's share is
    the difference, for SQLite in this process too)."""
    engine = make_engine(url)
    wall, cpu = time.perf_counter(), time.process_time()
    thread_jobs.refresh_all(
        read_factory=make_read_session_factory(engine),
        write_factory=make_session_factory(engine),
        now=datetime.now(UTC),
    )
    result = time.perf_counter() - wall, time.process_time() - cpu
    with engine.begin() as connection:  # as before the first run: serve's worker computes them
        connection.execute(ResponseFigures.__table__.delete())
    engine.dispose()
    return result


def figures_computed_since(url: str, since: datetime) -> bool:
    engine = make_engine(url)
    with make_read_session_factory(engine)() as db:
        last = db.scalar(select(func.max(ResponseFigures.computed_at)))
    engine.dispose()
    return last is not None and last.replace(tzinfo=UTC) >= since


def report(label: str, values: list[float]) -> float:
    p99 = pct(values, 0.99)
    print(
        f"    {label}: median {statistics.median(values):.1f} ms, p99 {p99:.1f} ms "
        f"over {len(values)} requests"
    )
    return p99


def _load_worker(
    bases: list[str],
    token: str,
    path: str,
    seconds: float,
    clients: int,
    out: multiprocessing.Queue,  # type: ignore[type-arg]
) -> None:
    done = [0] * clients
    stop = time.monotonic() + seconds

    def run(i: int) -> None:
        base = bases[i % len(bases)]  # clients spread over the replicas
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}) as client:
            while time.monotonic() < stop:
                client.get(path).raise_for_status()
                done[i] += 1

    workers = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    out.put(sum(done) / seconds)


def throughput(
    bases: list[str], token: str, path: str, seconds: float = 10, clients: int = 8
) -> float:
    """Requests per second from a second process holding ``clients`` keep-alive connections,
    spread over the servers at ``bases``."""
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    process = multiprocessing.Process(
        target=_load_worker, args=(bases, token, path, seconds, clients, queue)
    )
    process.start()
    process.join()
    return float(queue.get())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(q * len(ordered)), len(ordered) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument(
        "--busy", type=float, default=45, help="seconds measured right after start (jobs run)"
    )
    args = parser.parse_args()
    url = fresh_database(args.database_url)
    began = time.perf_counter()
    fill(url, args.threads)
    print(
        f"filled {args.threads} threads in {time.perf_counter() - began:.0f} s "
        f"({make_engine(url).dialect.name})"
    )
    wall, cpu = figures_job(url)
    print(f"figures job alone: {wall:.2f} s ({cpu:.2f} s of CPU in the job's process)")
    with session_scope(make_session_factory(make_engine(url))) as db:
        token = create_user(db, name="bench", role=Role.VIEWER, actor="bench").token

    overdue = "/api/v1/threads?state=overdue&limit=50"
    started = datetime.now(UTC)
    with serving(url) as base:
        print(f"GET {overdue}:")
        busy = report(
            f"first {args.busy:.0f} s after start (worker sweeping and computing figures)",
            latencies(base, token, overdue, 0, for_seconds=args.busy),
        )
        ran = figures_computed_since(url, started)
        print(f"    (the figures job {'ran' if ran else 'did NOT run'} in that time)")
        settled = report("settled", latencies(base, token, overdue, args.requests))
        print(f"    while the jobs run / settled: {busy / settled:.2f}x (target <= 1.5x)")
        rate = throughput([base], token, overdue)
        print(f"    under load (8 clients, second process): {rate:.0f} requests/s")
        summary = "/api/v1/summary"
        print(f"GET {summary}:")
        report("settled", latencies(base, token, summary, args.requests))
        rate = throughput([base], token, summary)
        print(f"    under load (8 clients, second process): {rate:.0f} requests/s")


if __name__ == "__main__":
    main()
