"""Memory over many polls (run: .venv/bin/python -m bench.poll_memory [--database-url ...]).

Polls one mailbox of a private Dovecot (a few hundred messages, nothing new after the first poll)
N times in one process, as a long-running worker does, and prints the process's RSS and the size
tracemalloc traces every 200 polls, then the growth from poll 200 to poll N and over the second
half (goal: flat).

It runs itself under ``python -X tracemalloc``: traced from the start, a table allocated at import
time and replaced later (the interned strings' dict is rebuilt now and then) counts once, not as
a new block of a megabyte or two whose predecessor was never traced. The RSS so includes
tracemalloc's own records (some 55 MiB); ``--top N`` also keeps a snapshot (some 80 MiB more).
Expect some 250 KiB of growth up to poll ~520: imaplib compiles a pattern with each connection's
random tag, and Python's re module caches the last 512 patterns.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path

from app.config import Settings, SlaSettings
from app.db import make_engine, make_session_factory
from app.ingest.poll import poll_mailbox
from app.oauth.grants import Logins
from bench.common import fresh_database
from bench.ingest import PASSWORD_ENV, mailbox
from tests.support.dovecot import Dovecot
from tests.support.mailfactory import customer

EVERY = 200


def rss_bytes() -> int:
    """Resident set size now (not the peak ru_maxrss): the second field of /proc/self/statm."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=2_000)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--top", type=int, default=0, help="also show the N biggest growths")
    args = parser.parse_args()
    if not tracemalloc.is_tracing():
        command = [sys.executable, "-X", "tracemalloc", "-m", "bench.poll_memory", *sys.argv[1:]]
        os.execv(sys.executable, command)  # noqa: S606 — the same benchmark, traced from start
    os.environ[PASSWORD_ENV] = "pw"

    server = Dovecot()
    server.start()
    url = fresh_database(args.database_url)
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    try:
        user = "memory@bench.example"
        server.add_user(user, "pw")
        server.deliver(
            user, (customer(f"Buyer {i}", order=f"30001141{i:07d}") for i in range(args.messages))
        )
        settings = mailbox(server, user)
        logins = Logins(session_factory, Settings())  # one for the process, as a worker has
        first = poll_mailbox(session_factory, settings, sla=SlaSettings(), logins=logins)
        assert first.ok and first.folders[0].new == args.messages, first
        backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
        print(f"{args.messages} messages stored; {args.polls} polls that find nothing ({backend})")

        figures: dict[int, tuple[int, int]] = {}
        snapshot = None
        began = time.perf_counter()
        for count in range(1, args.polls + 1):
            report = poll_mailbox(session_factory, settings, sla=SlaSettings(), logins=logins)
            assert report.ok and not any(f.new for f in report.folders), report
            if count % EVERY == 0 or count == args.polls:
                gc.collect()
                figures[count] = (rss_bytes(), tracemalloc.get_traced_memory()[0])
                rss, traced = figures[count]
                print(
                    f"poll {count:>6}: RSS {rss / 2**20:7.1f} MiB, "
                    f"tracemalloc current {traced / 2**10:8.1f} KiB"
                )
                if count == EVERY and args.top:
                    snapshot = tracemalloc.take_snapshot()
        seconds = time.perf_counter() - began
        if snapshot is not None:
            for stat in tracemalloc.take_snapshot().compare_to(snapshot, "lineno")[: args.top]:
                print(f"  {stat}")
        tracemalloc.stop()

        print(f"{seconds / args.polls * 1000:.1f} ms a poll under tracemalloc")
        first_figure = EVERY if EVERY in figures else min(figures)
        half = max(first_figure, args.polls // 2 // EVERY * EVERY)
        for start in dict.fromkeys((first_figure, half)):
            (rss_0, traced_0), (rss_n, traced_n) = figures[start], figures[args.polls]
            print(
                f"growth from poll {start} to poll {args.polls}: "
                f"RSS {(rss_n - rss_0) / 2**10:+.0f} KiB, "
                f"tracemalloc {(traced_n - traced_0) / 2**10:+.1f} KiB "
                f"({(traced_n - traced_0) / max(args.polls - start, 1):+.1f} bytes a poll)"
            )
    finally:
        engine.dispose()
        server.cleanup()


if __name__ == "__main__":
    main()
