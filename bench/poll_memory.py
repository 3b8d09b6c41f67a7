"""Memory over many polls (run: .venv/bin/python -m bench.poll_memory [--database-url ...]), and
a poll's peak with a big message (``--largest 43``).

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

``--largest MIB [MIB ...]``: the peak RSS of a whole ``slawatch poll --once`` process (spawned as
bench.ingest spawns it, so the peak is its own) over a mailbox of 10 small messages and one of
each size given, a PDF attached (base64, as mailers send it); first over the 10 alone, whose
peak is the constant part. Printed: the peak, and (peak - constant) / the largest message's size,
the figure issue 19 measured at about 8.5 (target: at most 2.5).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from app.config import Settings, SlaSettings
from app.db import make_engine, make_session_factory
from app.ingest.poll import poll_mailbox
from app.oauth.grants import Logins
from bench.common import drop_database, fresh_database
from bench.ingest import PASSWORD_ENV, Bench, mailbox
from tests.support.dovecot import Dovecot
from tests.support.mailfactory import SELLER_ADDRESS, customer, relay_address

EVERY = 200


def rss_bytes() -> int:
    """Resident set size now (not the peak ru_maxrss): the second field of /proc/self/statm."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


def with_attachment(mib: float) -> bytes:
    """A buyer's message with a PDF of about ``mib`` MiB attached (random bytes: incompressible)."""
    msg = EmailMessage()
    msg["From"] = f"Dana <{relay_address('Dana')}>"
    msg["To"] = SELLER_ADDRESS
    msg["Subject"] = "Customer message regarding order 108829272810999"
    msg["Message-ID"] = make_msgid(domain="bench.example")
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg.set_content("The invoice you asked for is attached.\n")
    data = os.urandom(int(mib * 2**20 * 3 / 4))  # base64 makes 4 bytes of 3
    msg.add_attachment(data, maintype="application", subtype="pdf", filename="invoice.pdf")
    return msg.as_bytes()


def largest(sizes: list[float], database_url: str | None) -> None:
    """One whole poll's peak RSS per mailbox: 10 small messages, then each with one big one."""
    server = Dovecot()
    server.start()
    try:
        runs = []
        for size in [0.0, *sizes]:
            url = fresh_database(database_url)
            with tempfile.TemporaryDirectory(prefix="slawatch-memory-") as work:
                user = f"big{len(runs)}@bench.example"
                bench = Bench(server, user=user, count=10, database_url=url, work=Path(work))
                raw = with_attachment(size) if size else b""
                if raw:
                    server.deliver(user, [raw])
                poll = bench.poll()
                assert f"(INBOX): {10 + bool(raw)} new" in poll.output, poll.output
                runs.append((len(raw) / 2**20, poll.peak_mb))
            drop_database(url)
    finally:
        server.cleanup()
    (_, constant), *big = runs
    backend = "PostgreSQL" if database_url else "SQLite"
    print(f"slawatch poll --once, {backend}: peak RSS with 10 small messages {constant:.0f} MiB")
    for mib, peak in big:
        ratio = (peak - constant) / mib
        print(
            f"  and one of {mib:5.1f} MiB: peak RSS {peak:4.0f} MiB = {constant:.0f} + "
            f"{ratio:.2f} x {mib:.1f} MiB (target <= 2.5)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=2_000)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--top", type=int, default=0, help="also show the N biggest growths")
    parser.add_argument(
        "--largest", type=float, nargs="+", metavar="MIB", help="a poll's peak with a big message"
    )
    args = parser.parse_args()
    if args.largest:
        largest(args.largest, args.database_url)
        return
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
