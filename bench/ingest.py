"""Ingestion as a user meets it: whole processes against a private Dovecot (issue 16).

Run: .venv/bin/python -m bench.ingest [--messages 20000] [--database-url postgresql://…]
     .venv/bin/python -m bench.ingest --first-import 50000 [--database-url …]

N messages of about 1 KB, each from a new buyer (its own relay address, order and subject, so its
own thread), are delivered into INBOX (not timed). Each figure is a process timed from spawn to
exit, with its own peak RSS:
- the reference: a bare imapclient process (bench/bare_imap.py) fetching every body, INTERNALDATE
  and RFC822.SIZE in batches of slawatch's batch_size, after one untimed run warms Dovecot's index;
- `slawatch poll --once` on a fresh migrated database, then a count of the stored messages and
  threads (exactly N of each, or the figure is not printed);
- a poll that finds nothing new against a bare process's login, LIST and three EXAMINEs;
- `slawatch --help` against `python -c "import sqlalchemy, imapclient"`.
``--first-import N`` measures only the first import of an N-message mailbox (reference and poll).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from pathlib import Path

from sqlalchemy import func, select

from app.config import MailboxSettings
from app.db import make_engine
from app.models import Message, Thread
from bench.common import ROOT, drop_database, fresh_database
from bench.processes import Run, median_run, run
from tests.support.dovecot import Dovecot
from tests.support.mailfactory import SELLER_ADDRESS, message, relay_address

PASSWORD_ENV = "SLAWATCH_BENCH_PASSWORD"
PASSWORD = "pw"
BATCH = MailboxSettings.model_fields["batch_size"].default  # what a poll fetches at once
BARE = str(ROOT / "bench" / "bare_imap.py")
REPEATS = 10
# Targets (issue 16): the poll's time over the bare fetch's, per backend; the others.
POLL_RATIO = {"SQLite": 3.0, "PostgreSQL": 4.0}
PEAK_MB, NO_CHANGE_RATIO, HELP_RATIO = 150, 2.0, 1.5


def buyer_message(i: int) -> bytes:
    """About 1 KB, shaped as Walmart's relay writes it; buyer ``i`` and its order are new."""
    buyer, order = f"Buyer{i} Shopper", f"10882927{i:07d}"
    ref = hashlib.md5(f"ref {i}".encode()).hexdigest().upper()  # noqa: S324 (an identifier)
    body = (
        f"{buyer} wants to connect with you regarding the following order:\n\n"
        f"Sales Order ID: {order}\nItem ID: {500000000 + i}\n"
        "Item: Stainless Steel Insulated Water Bottle, 32 oz, Leak Proof Lid\n"
        "Message: Hello, I ordered this over a week ago and the tracking number has\n"
        "not updated since it was created. Could you tell me when it will ship, or\n"
        "cancel the order if it cannot arrive before Friday? Thank you.\n\n"
        "Please respond to the customer within 48 hours. Reply to this email to answer;\n"
        "replies go through Walmart's relay, so keep the RefID below.\n\n"
        f"Thank you,\nWalmart Customer Service Team\n\nRefID: {ref}\n"
    )
    return message(
        sender=f"{buyer} <{relay_address(buyer)}>",
        subject=f"Customer message regarding order {order}",
        body=body,
    )


def mailbox(server: Dovecot, user: str) -> MailboxSettings:
    """The mailbox as in-process benchmarks (poll_memory, oauth_poll) configure it."""
    return MailboxSettings(
        name=user.split("@")[0],
        host=server.host,
        port=server.port,
        security="plain",
        username=user,
        password_env=PASSWORD_ENV,
        seller_addresses=[SELLER_ADDRESS],
    )


class Bench:
    """One Dovecot mailbox of ``count`` buyers' messages and one database, and the commands that
    run on them, each as a process."""

    def __init__(
        self, server: Dovecot, *, user: str, count: int, database_url: str, work: Path
    ) -> None:
        self.count, self.url, self.work = count, database_url, work
        server.add_user(user, PASSWORD)
        server.deliver(user, (buyer_message(i) for i in range(count)))
        config = self.work / "slawatch.toml"
        config.write_text(
            f'database_url = "{database_url}"\n\n[[mailboxes]]\nname = "{user.split("@")[0]}"\n'
            f'host = "{server.host}"\nport = {server.port}\nsecurity = "plain"\n'
            f'username = "{user}"\npassword_env = "{PASSWORD_ENV}"\n'
            f'seller_addresses = ["{SELLER_ADDRESS}"]\n'
        )
        # The benchmark's own environment, without any SLAWATCH_* setting that would win over
        # the config file, and with bytecode cached as an installed package has it (compiled
        # once here, not by the first timed process).
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("SLAWATCH_") and k != "PYTHONDONTWRITEBYTECODE"
        }
        self.env |= {PASSWORD_ENV: PASSWORD, "PYTHONPATH": str(ROOT)}
        run([sys.executable, "-m", "compileall", "-q", str(ROOT / "app")], env=self.env)
        self.slawatch = [sys.executable, "-m", "app.cli", "--config", str(config)]
        self.bare = [sys.executable, BARE]
        self.login = [server.host, str(server.port), user, PASSWORD]

    def bare_fetch(self) -> Run:
        fetch = [*self.bare, "fetch", *self.login, str(BATCH)]
        run(fetch, env=self.env, cwd=self.work)  # untimed: Dovecot indexes the new mail
        reference = median_run(fetch, repeats=3, env=self.env, cwd=self.work)
        verify(reference.output.split()[-1] == str(self.count), reference.output)
        return reference

    def poll(self, repeats: int = 1) -> Run:
        command = [*self.slawatch, "poll", "--once"]
        return median_run(command, repeats=repeats, env=self.env, cwd=self.work)

    def stored(self) -> tuple[int, int]:
        engine = make_engine(self.url)
        with engine.connect() as connection:
            messages = connection.scalar(select(func.count()).select_from(Message)) or 0
            threads = connection.scalar(select(func.count()).select_from(Thread)) or 0
        engine.dispose()
        return messages, threads


def verify(ok: bool, otherwise: str) -> None:
    """No figure without the work done: stop, showing what happened instead."""
    if not ok:
        raise SystemExit(f"not measured: {otherwise[-3000:]}")


def line(label: str, r: Run, rate: str = "") -> str:
    return (
        f"  {label:<44} {r.seconds:>7.2f} s {rate:>12}  CPU {r.cpu_seconds:>6.2f} s"
        f"  peak RSS {r.peak_mb:>4.0f} MB"
    )


def verdict(ratio: float, goal: float) -> str:
    return f"{ratio:.1f}x (target <= {goal:g}x: {'met' if ratio <= goal else 'NOT MET'})"


def first_import(bench: Bench, backend: str) -> None:
    """The reference fetch, then one poll storing the whole mailbox, checked row by row."""
    reference = bench.bare_fetch()
    poll = bench.poll()
    messages, threads = bench.stored()
    verify(f"(INBOX): {bench.count} new" in poll.output, poll.output)
    verify(messages == threads == bench.count, f"stored {messages} messages, {threads} threads")
    print(line("bare imapclient fetch (median of 3)", reference))
    print(line("slawatch poll --once", poll, f"{bench.count / poll.seconds:,.0f} msg/s"))
    print(f"    stored and counted: {messages:,} messages, {threads:,} threads")
    ratio = poll.seconds / reference.seconds
    print(f"    poll / bare fetch: {verdict(ratio, POLL_RATIO[backend])}")
    fits = "met" if poll.peak_mb < PEAK_MB else "NOT MET"
    print(f"    poll's peak RSS: {poll.peak_mb:.0f} MB (target < {PEAK_MB} MB: {fits})")


def no_change(bench: Bench) -> None:
    ours = bench.poll(repeats=REPEATS)
    verify("(INBOX): 0 new" in ours.output, ours.output)
    bare = median_run([*bench.bare, "nochange", *bench.login], repeats=REPEATS, env=bench.env)
    print(line(f"poll finding nothing new (median of {REPEATS})", ours))
    print(line("bare login, LIST, 3 EXAMINEs (median)", bare))
    print(f"    ratio: {verdict(ours.seconds / bare.seconds, NO_CHANGE_RATIO)}")


def help_text(bench: Bench) -> None:
    ours = median_run([sys.executable, "-m", "app.cli", "--help"], repeats=REPEATS, env=bench.env)
    imports = [sys.executable, "-c", "import sqlalchemy, imapclient"]
    bare = median_run(imports, repeats=REPEATS, env=bench.env)
    print(line(f"slawatch --help (median of {REPEATS})", ours))
    print(line('python -c "import sqlalchemy, imapclient"', bare))
    print(f"    ratio: {verdict(ours.seconds / bare.seconds, HELP_RATIO)}")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__)
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--messages", type=int, default=20_000, help="default: 20,000")
    parser.add_argument(
        "--first-import", type=int, metavar="N", help="measure only the first import of N messages"
    )
    parser.add_argument("--database-url", help="PostgreSQL (a new database beside it is used)")
    args = parser.parse_args()
    count = args.first_import or args.messages
    backend = "PostgreSQL" if args.database_url else "SQLite"

    server = Dovecot()
    server.start()
    url = fresh_database(args.database_url)
    work = tempfile.TemporaryDirectory(prefix="slawatch-ingest-")
    try:
        bench = Bench(
            server, user="ingest@bench.example", count=count, database_url=url, work=Path(work.name)
        )
        size = sum(len(buyer_message(i)) for i in range(100)) / 100
        print(
            f"{'first import' if args.first_import else 'ingestion'}: whole processes, {backend}, "
            f"{count:,} messages of ~{size:,.0f} bytes, each a new buyer, private Dovecot; "
            f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start"
        )
        first_import(bench, backend)
        if not args.first_import:
            no_change(bench)
            help_text(bench)
    finally:
        server.cleanup()
        drop_database(url)
        work.cleanup()


if __name__ == "__main__":
    main()
