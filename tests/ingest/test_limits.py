"""Bounded resources while polling: a message too big to fetch, a server that stops answering,
and memory over many polls."""

from __future__ import annotations

import gc
import re
import socket
import threading
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from email.message import EmailMessage

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings, WorkerSettings
from app.enums import Classification, FolderRole
from app.ingest import reads as ingest_reads
from app.ingest.poll import PollReport
from app.ingest.replay import replay_dead_letters
from app.models import FolderCursor, Mailbox, Message, MessageRaw, Thread
from app.sla import ThreadState
from app.threads.queries import state_of
from app.worker import Worker
from tests.support.imap import ImapAccount, closing_client
from tests.support.mailfactory import (
    SELLER_ADDRESS,
    customer,
    message,
    message_id_of,
    relay_address,
)
from tests.support.polling import (
    PATIENCE,
    all_flags,
    counts,
    poisoned,
    poll,
    stored_message_ids,
    wait_for,
)

LIMIT = 16 * 1024  # the smallest max_message_bytes allowed


def _big_customer_message(
    marker: str, subject: str = "Customer message regarding order 108829272810999"
) -> bytes:
    """A buyer's question with a ~200 KiB photo attached; ``marker`` is only in the body."""
    msg = EmailMessage()
    msg["From"] = f"Dana <{relay_address('Dana')}>"
    msg["To"] = SELLER_ADDRESS
    msg["Subject"] = subject
    msg["Message-ID"] = f"<big-{uuid.uuid4().hex}@test.example>"
    msg["Date"] = "Tue, 24 Nov 2026 12:00:00 +0000"
    msg.set_content(f"The box arrived broken, photo attached. {marker}\n")
    msg.add_attachment(
        (marker.encode() + b"\x89PNG" + bytes(range(256))) * 800,
        maintype="image",
        subtype="png",
        filename="broken-box.png",
    )
    return msg.as_bytes()


def test_a_message_over_max_message_bytes_is_stored_as_its_header_only(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    marker = f"body-{uuid.uuid4().hex}"
    big = _big_customer_message(marker)
    small = customer("Erin", order="108829272810888")
    imap_account.append("INBOX", [big, small])
    with closing_client(imap_account.client()) as client:
        client.select_folder("INBOX", readonly=True)
        server_sizes = {
            uid: data[b"RFC822.SIZE"]
            for uid, data in client.fetch(client.search(["ALL"]), ["RFC822.SIZE"]).items()
        }
        flags_before = all_flags(client)
    big_size = max(server_sizes.values())
    assert big_size > 200 * 1024
    settings = imap_account.settings(max_message_bytes=LIMIT)

    report = poll(session_factory, settings)

    assert report.ok, report.error
    (inbox,) = [f for f in report.folders if f.role == FolderRole.INBOX]
    assert (inbox.new, inbox.new_by_classification[Classification.CUSTOMER]) == (2, 2)
    with session_factory() as db:
        stored = db.scalars(
            select(Message).where(Message.message_id_header == message_id_of(big))
        ).one()
        raw = db.get(MessageRaw, stored.id)
        assert raw is not None
        assert raw.raw == big.split(b"\n\n", 1)[0].replace(b"\n", b"\r\n") + b"\r\n\r\n"
        assert stored.size_bytes == big_size
        assert stored.parse_problems == [
            f"message of {big_size} bytes is over max_message_bytes ({LIMIT}); "
            "only its headers were fetched"
        ]
        assert stored.subject == "Customer message regarding order 108829272810999"
        assert stored.from_address == relay_address("Dana").lower()
        assert stored.body_text == ""
        # Still a customer waiting for an answer: the clock runs on the header alone.
        assert stored.classification == Classification.CUSTOMER
        thread = db.get(Thread, stored.thread_id)
        assert thread is not None and thread.order_number == "108829272810999"
        assert state_of(thread, now()) == ThreadState.WAITING
        other = db.scalars(
            select(Message).where(Message.message_id_header == message_id_of(small))
        ).one()
        assert other.parse_problems == [] and "Where is my package?" in other.body_text

    # The body never crossed the wire; the header did.
    traffic = imap_account.server.traffic()
    assert marker.encode() not in traffic
    assert message_id_of(big).encode() in traffic
    # Nothing was marked read.
    with closing_client(imap_account.client()) as client:
        assert all_flags(client) == flags_before
        assert all(b"\\Seen" not in flags for flags in flags_before.values())

    again = poll(session_factory, settings)
    assert again.ok and sum(f.new + f.duplicates for f in again.folders) == 0
    assert counts(session_factory) == (2, 2)
    assert marker.encode() not in imap_account.server.traffic()


def test_a_header_only_message_that_fails_to_store_keeps_its_note_through_the_replay(
    imap_account: ImapAccount, session_factory: sessionmaker[Session], engine: Engine
) -> None:
    big = _big_customer_message("body", subject="POISON order 108829272810999 question")
    imap_account.append("INBOX", [big])
    settings = imap_account.settings(max_message_bytes=LIMIT)
    with poisoned(engine):
        report = poll(session_factory, settings)
    assert report.folders[0].failed == 1

    replayed = replay_dead_letters(
        session_factory, Settings(mailboxes=[settings], database_url=str(engine.url))
    )
    assert (replayed.resolved, replayed.still_failing) == (1, [])
    with session_factory() as db:
        stored = db.scalars(select(Message)).one()
        (note,) = stored.parse_problems
        assert note.endswith("only its headers were fetched")
        assert stored.size_bytes > LIMIT  # the whole message's size, not the header's


def test_a_batch_bigger_than_batch_bytes_is_fetched_and_committed_in_parts(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Walmart mail of ~20 KiB each in Junk, with other spam between them that is skipped.
    padding = "Photos of the damage follow. " * 700
    walmart = [customer(f"Buyer {i}", body=f"Order late. {padding}") for i in range(6)]
    spam = [
        message(sender=f"prince{i}@scam.example", subject="You won", body="Click") for i in range(6)
    ]
    imap_account.append("Junk", [m for pair in zip(walmart, spam, strict=True) for m in pair])
    monkeypatch.setattr(ingest_reads, "BATCH_BYTES", 50 * 1024)  # two or three messages a part
    commits: list[object] = []
    count_commit = commits.append
    event.listen(engine, "commit", count_commit)
    try:
        report = poll(session_factory, imap_account.settings())
    finally:
        event.remove(engine, "commit", count_commit)

    assert report.ok, report.error
    (junk,) = [f for f in report.folders if f.role == FolderRole.SPAM]
    assert (junk.new, junk.skipped, junk.failed) == (6, 6, 0)
    assert stored_message_ids(session_factory) == sorted(message_id_of(m) for m in walmart)
    # Six commits are the poll's bookkeeping (last poll, three folder cursors, reconciling,
    # health); the rest are the parts of the batch, each with the cursor moved past it.
    assert len(commits) - 6 == 3
    with session_factory() as db:
        cursor = db.scalars(select(FolderCursor).where(FolderCursor.role == FolderRole.SPAM)).one()
        assert (cursor.last_uid, cursor.skipped_count, cursor.server_count) == (12, 6, 12)
    assert "missing" not in caplog.text  # every message is stored or counted as skipped
    again = poll(session_factory, imap_account.settings())
    assert again.ok and sum(f.new + f.duplicates + f.skipped for f in again.folders) == 0


# --- a server that stops answering ---------------------------------------------------------------


class SilentImapServer:
    """A TCP server on 127.0.0.1 that hangs like a broken IMAP server: with ``greet=False`` it
    accepts connections and never says a word; otherwise it greets, answers CAPABILITY, and then
    goes silent at LOGIN. With ``trickle``, it accepts the LOGIN and then answers the next
    command one byte every 0.2 s, for ever: no single read ever times out.

    With ``hold``, a connection that reaches LOGIN is held instead of going silent: the server
    keeps saying "* OK still working" (so no read times out) until the test calls ``release()``,
    and only then goes silent, so the client times out when the test chooses, not when a busy
    machine happens to get there. Connections made after a release are held again, until
    ``release(for_good=True)``. ``held`` counts the connections held now, ``stuck`` those a
    client keeps open, and ``commands`` lists the command of every line a client sent."""

    def __init__(self, *, greet: bool, trickle: bool = False, hold: bool = False) -> None:
        self._greet = greet
        self._trickle = trickle
        self._hold = hold
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._releases = 0  # a held connection goes silent once this changes
        self.stuck = 0
        self.held = 0
        self.commands: list[bytes] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _received(self, line: bytes) -> bytes:
        _, _, rest = line.partition(b" ")
        command = (rest.split() or [b""])[0].upper()
        with self._lock:
            self.commands.append(command)
        return command

    def _serve(self, connection: socket.socket) -> None:
        with self._lock:
            self.stuck += 1
        try:
            reader = connection.makefile("rb")
            if self._greet:
                connection.sendall(b"* OK silent test server ready\r\n")
                for line in reader:
                    tag = line.partition(b" ")[0]
                    command = self._received(line)
                    if self._trickle and command == b"LOGIN":
                        connection.sendall(tag + b" OK LOGIN completed\r\n")
                        continue
                    if self._trickle and command != b"CAPABILITY":
                        while True:  # "* LIST ..." that never ends
                            connection.sendall(b"*")
                            time.sleep(0.2)
                    if command != b"CAPABILITY":
                        self._hold_until_released(connection)
                        break  # LOGIN: from here on, not another byte
                    connection.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN IDLE\r\n")
                    connection.sendall(tag + b" OK CAPABILITY completed\r\n")
            for line in reader:  # until the client gives up and closes
                self._received(line)
        except OSError:
            pass
        finally:
            with self._lock:
                self.stuck -= 1

    def _hold_until_released(self, connection: socket.socket) -> None:
        with self._lock:
            if not self._hold:
                return
            releases = self._releases
            self.held += 1
        try:
            while True:
                with self._lock:
                    if self._releases != releases:
                        return
                connection.sendall(b"* OK still working\r\n")
                time.sleep(0.2)
        finally:
            with self._lock:
                self.held -= 1

    def release(self, *, for_good: bool = False) -> None:
        """The connections held now go silent; with ``for_good``, later ones too."""
        with self._lock:
            self._releases += 1
            self._hold = self._hold and not for_good

    def mailbox(self, name: str, **overrides: object) -> MailboxSettings:
        values: dict[str, object] = {
            "name": name,
            "host": "127.0.0.1",
            "port": self.port,
            "security": "plain",
            "username": f"{name}@test.example",
            "password_env": "SLAWATCH_TEST_SILENT_PASSWORD",
            "seller_addresses": [SELLER_ADDRESS],
            "timeout_seconds": 2,
            "poll_seconds": 5,
        }
        return MailboxSettings(**{**values, **overrides})  # type: ignore[arg-type]

    def close(self) -> None:
        self.release(for_good=True)
        self._listener.close()
        with self._lock:
            for connection in self._connections:
                connection.close()


@pytest.fixture
def silent_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., SilentImapServer]]:
    monkeypatch.setenv("SLAWATCH_TEST_SILENT_PASSWORD", "unused")
    servers: list[SilentImapServer] = []

    def make(*, greet: bool, trickle: bool = False, hold: bool = False) -> SilentImapServer:
        servers.append(SilentImapServer(greet=greet, trickle=trickle, hold=hold))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def _poll_in_thread(session_factory: sessionmaker[Session], mailbox: MailboxSettings) -> PollReport:
    """``poll`` with a generous bound: a poll that never ends fails the test instead of hanging
    it."""
    reports: list[PollReport] = []
    polling = threading.Thread(
        target=lambda: reports.append(poll(session_factory, mailbox)), daemon=True
    )
    polling.start()
    polling.join(timeout=PATIENCE)
    assert reports, f"the poll of {mailbox.name} did not end within {PATIENCE} s"
    return reports[0]


@pytest.mark.parametrize("greet", [False, True], ids=["no-greeting", "silent-after-login"])
def test_a_poll_of_a_silent_server_ends_with_a_timeout_on_the_mailbox_health(
    silent_server: Callable[..., SilentImapServer],
    session_factory: sessionmaker[Session],
    greet: bool,
) -> None:
    server = silent_server(greet=greet)
    began = time.monotonic()
    report = _poll_in_thread(session_factory, server.mailbox("hung"))
    took = time.monotonic() - began

    assert not report.ok and report.error_kind == "network"
    assert report.error == f"127.0.0.1:{server.port} did not answer in time (no reply within 2 s)"
    assert took >= 2  # it waited the whole timeout for the server (a busy machine only adds)
    wait_for(lambda: server.stuck == 0, what="the connection closed")
    # One timeout, not one for the LOGIN and another for a LOGOUT nobody would answer: after the
    # command that went unanswered the client sent nothing, it closed the connection.
    assert server.commands == ([b"CAPABILITY", b"LOGIN"] if greet else [])
    with session_factory() as db:
        mailbox = db.scalars(select(Mailbox).where(Mailbox.name == "hung")).one()
        assert (mailbox.last_error, mailbox.consecutive_failures) == (report.error, 1)


def test_a_hung_server_does_not_stall_the_other_mailboxes_of_a_worker(
    imap_account: ImapAccount,
    silent_server: Callable[..., SilentImapServer],
    database_url: str,
    engine: Engine,
    session_factory: sessionmaker[Session],
) -> None:
    # The hung server holds each poll until the test releases it: whatever the machine's speed,
    # mail the other mailbox stores meanwhile was stored while the hung poll was waiting.
    hung = silent_server(greet=True, hold=True)
    settings = Settings(
        database_url=database_url,
        mailboxes=[imap_account.settings(), hung.mailbox("hung")],
        worker=WorkerSettings(lease_seconds=4),
    )

    def health() -> tuple[str | None, int]:
        with session_factory() as db:
            mailbox = db.scalars(select(Mailbox).where(Mailbox.name == "hung")).one_or_none()
            return (mailbox.last_error, mailbox.consecutive_failures) if mailbox else (None, 0)

    def dovecot_polled() -> bool:
        with session_factory() as db:
            mailbox = db.scalars(
                select(Mailbox).where(Mailbox.name == imap_account.settings().name)
            ).one_or_none()
            return mailbox is not None and mailbox.last_success_at is not None

    worker = Worker(settings, engine)
    worker.start()
    try:
        wait_for(dovecot_polled, what="the Dovecot mailbox's first poll")
        for failed in range(2):
            # Two connections held: the hung mailbox's IDLE watcher (one connection at a time)
            # and its poll number ``failed + 1`` (polls of a mailbox run one at a time).
            wait_for(
                lambda: hung.held >= 2 and health()[1] == failed,  # noqa: B023
                what=f"poll {failed + 1} of the hung mailbox held by its server",
            )
            arrived = customer(f"Buyer {failed}", order=f"10882927281{failed:04d}")
            imap_account.append("INBOX", [arrived])
            wait_for(
                lambda: message_id_of(arrived) in stored_message_ids(session_factory),  # noqa: B023
                what="new mail in the Dovecot mailbox stored while the hung poll waits",
            )
            assert health()[1] == failed, "the hung poll ended before it was released"
            hung.release()  # silent from now: the held poll times out
            wait_for(
                lambda: health()[1] == failed + 1,  # noqa: B023
                what=f"poll {failed + 1} of the hung mailbox failing once released",
            )
    finally:
        hung.release(for_good=True)  # the worker waits for running polls as it shuts down
        worker.shutdown()
    error, failures = health()
    assert failures >= 2
    assert error == f"127.0.0.1:{hung.port} did not answer in time (no reply within 2 s)"


# --- memory over many polls ----------------------------------------------------------------------


def test_memory_stays_flat_over_hundreds_of_polls_that_find_nothing(
    imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    imap_account.append("INBOX", [customer(f"Buyer {i}") for i in range(20)])
    settings = imap_account.settings()

    def poll_finding_nothing() -> None:
        report = poll(session_factory, settings)
        assert report.ok and not any(f.new for f in report.folders)

    assert poll(session_factory, settings).ok  # poll 1 stores the mail
    for _ in range(49):
        poll_finding_nothing()
    # Traced from poll 50 on: what is still allocated after poll 300 was kept by those polls.
    _forget_regex_cache()
    tracemalloc.start()
    try:
        for _ in range(250):
            poll_finding_nothing()
        _forget_regex_cache()
        growth = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert growth < 256 * 1024, f"{growth} bytes more after poll 300 than after poll 50"


def _forget_regex_cache() -> None:
    # imaplib compiles a pattern with each connection's random tag prefix, and Python's re module
    # caches the last 512 patterns: bounded, so left out of the figure, which then shows what the
    # poller itself keeps.
    re.purge()
    gc.collect()


def test_a_server_answering_too_slowly_to_finish_is_stopped_at_the_poll_deadline(
    silent_server: Callable[..., SilentImapServer],
    session_factory: sessionmaker[Session],
) -> None:
    server = silent_server(greet=True, trickle=True)
    began = time.monotonic()
    report = _poll_in_thread(session_factory, server.mailbox("slow", poll_deadline_seconds=3))
    took = time.monotonic() - began

    assert not report.ok and report.error_kind == "network"
    assert report.error == (
        "127.0.0.1: the poll was stopped at its deadline of 3 s (poll_deadline_seconds): the "
        "server is too slow; what was stored stays, the next poll reads on"
    )
    # Each byte came within the 2 s timeout: not a timeout but the deadline ended the poll, and
    # not before it (a busy machine only adds). Without it the poll would never end.
    assert took >= 3
    wait_for(lambda: server.stuck == 0, what="the connection closed")
