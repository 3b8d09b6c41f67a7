"""Status page benchmark: GET /status with 1,000,000 threads in the database.

Run: .venv/bin/python -m bench.status_page [--threads 1000000] [--database-url postgresql://...]
Fills the database as bench.threads_api does (60 days of threads over 5 mailboxes), adds the hourly
activity and waiting samples those threads imply, runs the real figures job, starts
`slawatch serve`, signs in and times the page for each range, for all mailboxes and for one.
Goal: under 300 ms.
"""

from __future__ import annotations

import argparse
import math
import re
import statistics
import time
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import insert, select

from app.db import make_engine, make_read_session_factory, make_session_factory, session_scope
from app.enums import Role
from app.models import HourlyActivity, ResponseEpisode
from app.threads import activity
from app.threads import jobs as thread_jobs
from app.users.service import create_user, set_password
from bench.common import fresh_database, serving
from bench.threads_api import fill, pct

PASSWORD = "bench password"
AT_RISK = timedelta(hours=12)


def fill_activity(url: str, now: datetime) -> int:
    """Hourly rows for every mailbox and hour of the last 60 days, as ingestion and the sampling
    job would have left them: customers in by start, replies out by answer, and the waiting,
    at-risk and overdue counts at each hour (difference arrays over the waits)."""
    engine = make_engine(url)
    first = activity.hour_of(now - timedelta(days=60))
    hours = int((activity.hour_of(now) - first) / activity.HOUR) + 1

    def index(moment: datetime) -> int:
        return int((activity.hour_of(moment) - first) / activity.HOUR)

    counts: dict[int, dict[str, list[int]]] = defaultdict(
        lambda: {k: [0] * (hours + 1) for k in ("in", "out", "waiting", "at_risk", "overdue")}
    )

    def open_during(series: list[int], start: datetime, end: datetime) -> None:
        # Sampled at the end of each hour: hour i counts a wait open over [start, end) if
        # start <= end of hour i < end.
        a, b = max(_ends_after(start), 0), min(_ends_after(end), hours)
        if a < b:
            series[a] += 1
            series[b] -= 1

    def _ends_after(moment: datetime) -> int:
        """The first hour whose end is at or after ``moment``."""
        return math.ceil((moment - first) / activity.HOUR) - 1

    with engine.connect() as connection:
        rows = connection.execute(
            select(
                ResponseEpisode.mailbox_id,
                ResponseEpisode.started_at,
                ResponseEpisode.answered_at,
                ResponseEpisode.due_at,
            )
        )
        for mailbox_id, started, answered, due in rows:
            c = counts[mailbox_id]
            c["in"][index(started)] += 1
            if answered and answered <= now:
                c["out"][index(answered)] += 1
            end = min(answered or now + activity.HOUR, now + activity.HOUR)
            open_during(c["waiting"], started, min(due - AT_RISK, end))
            open_during(c["at_risk"], due - AT_RISK, min(due, end))
            open_during(c["overdue"], due, end)
    values = []
    for mailbox_id, c in counts.items():
        running = {k: 0 for k in ("waiting", "at_risk", "overdue")}
        for i in range(hours):
            for k in running:
                running[k] += c[k][i]
            values.append(
                {
                    "mailbox_id": mailbox_id,
                    "hour": first + i * activity.HOUR,
                    "customer_in": c["in"][i],
                    "replies_out": c["out"][i],
                    "spam_found": c["in"][i] // 20,
                    **running,
                }
            )
    with engine.begin() as connection:
        connection.execute(insert(HourlyActivity), values)
    engine.dispose()
    return len(values)


def sign_in(base: str) -> httpx.Client:
    client = httpx.Client(base_url=base, timeout=30)
    form = client.get("/login").text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf, "no sign-in form"
    client.post(
        "/login",
        data={"username": "owner", "password": PASSWORD, "csrf_token": csrf.group(1)},
    )
    return client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=1_000_000)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--settle", type=float, default=30, help="seconds to wait after start")
    args = parser.parse_args()
    url = fresh_database(args.database_url)
    began = time.perf_counter()
    fill(url, args.threads)
    now = datetime.now(UTC)
    rows = fill_activity(url, now)
    engine = make_engine(url)
    writer, reader = make_session_factory(engine), make_read_session_factory(engine)
    job = time.perf_counter()
    thread_jobs.refresh_all(read_factory=reader, write_factory=writer, now=now)
    job = time.perf_counter() - job
    with session_scope(writer) as db:
        create_user(db, name="owner", role=Role.VIEWER, actor="bench")
        set_password(db, name="owner", password=PASSWORD, actor="bench")
    engine.dispose()
    print(
        f"filled {args.threads} threads and {rows} hourly rows in "
        f"{time.perf_counter() - began:.0f} s ({engine.dialect.name}); "
        f"figures job {job:.1f} s"
    )

    with serving(url) as base:
        # `serve` starts with the sweep and the figures job (10 s at a million threads on two
        # cores); time the page once they are done, as it is served most of the time.
        time.sleep(args.settle)
        client = sign_in(base)
        for path in (
            "/status?range=24h",
            "/status?range=7d",
            "/status?range=30d",
            "/status?range=30d&mailbox=store-1",
        ):
            response = client.get(path)
            assert response.status_code == 200 and "data-tile" in response.text, path
            values = []
            for _ in range(args.requests):
                start = time.perf_counter()
                client.get(path).raise_for_status()
                values.append((time.perf_counter() - start) * 1000)
            print(
                f"GET {path}: median {statistics.median(values):.1f} ms, "
                f"p99 {pct(values, 0.99):.1f} ms, {len(response.content) / 1024:.0f} KiB"
            )


if __name__ == "__main__":
    main()
