"""Ingestion benchmark against a private Dovecot (run: .venv/bin/python -m bench.ingest).

Reports: ingest messages/second for N messages, the ratio of ingest time to a bare imapclient fetch
of the same messages (goal: at most 1.5), and the time of a poll that finds nothing new at 1,000 and
at 100,000 messages (goal: the same within noise).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from imapclient import IMAPClient

from app.config import MailboxSettings, Settings, SlaSettings
from app.db import make_engine, make_session_factory
from app.ingest.poll import poll_mailbox
from app.oauth.grants import Logins
from bench.common import fresh_database
from tests.support.dovecot import Dovecot
from tests.support.mailfactory import customer

PASSWORD_ENV = "SLAWATCH_BENCH_PASSWORD"


def append(server: Dovecot, user: str, count: int, start: int = 0) -> None:
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=60)
    client.login(user, "pw")
    for i in range(start, start + count):
        client.append("INBOX", customer(f"Buyer {i}", order=f"10882927{i:07d}"))
    client.logout()


def bare_fetch(server: Dovecot, user: str, batch: int = 500) -> float:
    """What any IMAP client must spend: fetching every message body once."""
    began = time.perf_counter()
    client = IMAPClient(server.host, port=server.port, ssl=False, timeout=60)
    client.login(user, "pw")
    client.select_folder("INBOX", readonly=True)
    uids = client.search(["ALL"])
    for i in range(0, len(uids), batch):
        client.fetch(uids[i : i + batch], ["BODY.PEEK[]", "INTERNALDATE"])
    client.logout()
    return time.perf_counter() - began


def mailbox(server: Dovecot, user: str) -> MailboxSettings:
    return MailboxSettings(
        name=user.split("@")[0],
        host=server.host,
        port=server.port,
        security="plain",
        username=user,
        password_env=PASSWORD_ENV,
        seller_addresses=["support@store.example"],
    )


def no_change_poll_ms(session_factory, settings: MailboxSettings, repeats: int = 20) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        report = poll_mailbox(
            session_factory, settings, sla=SlaSettings(), logins=Logins(session_factory, Settings())
        )
        times.append((time.perf_counter() - began) * 1000)
        assert report.ok and not any(f.new for f in report.folders), report
    return statistics.median(times)


def bare_no_change_ms(server: Dovecot, user: str, repeats: int = 20) -> float:
    """The IMAP work of a poll that finds nothing, done with bare imapclient: the server's share."""
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        client = IMAPClient(server.host, port=server.port, ssl=False, timeout=60)
        client.login(user, "pw")
        client.list_folders()
        for folder in ("INBOX", "Junk", "Sent"):
            client.select_folder(folder, readonly=True)
        client.logout()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args()
    os.environ[PASSWORD_ENV] = "pw"

    server = Dovecot()
    server.start()
    url = fresh_database(args.database_url)
    session_factory = make_session_factory(make_engine(url))
    try:
        user = "ingest@bench.example"
        server.add_user(user, "pw")
        began = time.perf_counter()
        append(server, user, args.messages)
        print(f"appended {args.messages} messages in {time.perf_counter() - began:.1f} s")
        fetch_seconds = bare_fetch(server, user)
        began = time.perf_counter()
        report = poll_mailbox(
            session_factory,
            mailbox(server, user),
            sla=SlaSettings(),
            logins=Logins(session_factory, Settings()),
        )
        ingest_seconds = time.perf_counter() - began
        assert report.ok and report.folders[0].new == args.messages, report
        print(
            f"ingest: {args.messages} messages in {ingest_seconds:.1f} s = "
            f"{args.messages / ingest_seconds:.0f} messages/s "
            f"({'SQLite' if url.startswith('sqlite') else 'PostgreSQL'})"
        )
        print(
            f"bare imapclient fetch of the same messages: {fetch_seconds:.1f} s; "
            f"ratio ingest/fetch = {ingest_seconds / fetch_seconds:.2f} (goal <= 1.5)"
        )

        for size in (args.small, args.large):
            user = f"nochange{size}@bench.example"
            server.add_user(user, "pw")
            server.deliver(
                user, (customer(f"Buyer {i}", order=f"20001141{i:07d}") for i in range(size))
            )
            settings = mailbox(server, user)
            assert poll_mailbox(
                session_factory,
                settings,
                sla=SlaSettings(),
                logins=Logins(session_factory, Settings()),
            ).ok
            ours = no_change_poll_ms(session_factory, settings)
            bare = bare_no_change_ms(server, user)
            print(
                f"no-change poll at {size} messages: median {ours:.1f} ms over 20 polls; the "
                f"same IMAP commands with bare imapclient: {bare:.1f} ms; slawatch's own share: "
                f"{ours - bare:.1f} ms"
            )
    finally:
        server.cleanup()


if __name__ == "__main__":
    main()
