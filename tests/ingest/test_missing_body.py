"""A server that answers FETCH without what was asked for: the folder's cursor never passes the UID
unread. It waits below it and reads it again, and after three polls keeps it as a dead letter with
the reason, so the folder reads on and its reconciliation counts it.

The server is the private Dovecot behind a real IMAP proxy on 127.0.0.1 that forwards every byte,
except that it drops one body section (a literal) from the FETCH answer for a chosen UID: imapclient
and the poller talk to it as to any server.
"""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import MailboxSettings, Settings
from app.enums import FolderRole
from app.ingest import status as ingest_status
from app.ingest.poll import FolderReport, PollReport
from app.ingest.replay import replay_dead_letters
from app.models import DeadLetter, FolderCursor, MessageLocation, UnansweredFetch
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer, message, message_id_of
from tests.support.polling import counts, poll, stored_message_ids

BODY = b"BODY[]"
SENDER = b"BODY[HEADER.FIELDS (FROM SENDER REPLY-TO)]"
LITERAL_AT_END = re.compile(rb"\{(\d+)\}\r\n$")
# The body section that ends a text segment, just before its literal.
SECTION_BEFORE_LITERAL = re.compile(rb" ?(BODY\[[^\]]*\](?:<\d+>)?) \{\d+\}\r\n$")
FETCH_OF_UID = re.compile(rb"^\* \d+ FETCH \(.*?\bUID (\d+)\b", re.DOTALL)


class FetchDroppingProxy:
    """An IMAP proxy in front of ``upstream``: what the client sends goes through as it is; each
    server response is read whole (with its literals) and goes through too, but while ``drop``
    names a UID and a section, that section is cut out of the UID's FETCH answer, the rest of
    the answer kept; with no section, the UID's FETCH answers are left out whole. ``dropped``
    counts what was cut."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self._upstream = upstream
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = [self._listener]
        self._drop: tuple[int, bytes | None] | None = None
        self.dropped = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def drop(self, uid: int, section: bytes | None) -> None:
        with self._lock:
            self._drop = (uid, section)

    def stop_dropping(self) -> None:
        with self._lock:
            self._drop = None

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(self._upstream, timeout=60)
            server.settimeout(None)
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._forward, args=(client, server), daemon=True).start()
            threading.Thread(target=self._answer, args=(server, client), daemon=True).start()

    def _forward(self, source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)

    def _answer(self, server: socket.socket, client: socket.socket) -> None:
        reader = server.makefile("rb")
        try:
            while line := reader.readline():
                segments = [line]  # text, literal, text, literal, ..., text
                while size := LITERAL_AT_END.search(segments[-1]):
                    segments += [reader.read(int(size.group(1))), reader.readline()]
                client.sendall(b"".join(self._rewrite(segments)))
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_WR)

    def _rewrite(self, segments: list[bytes]) -> list[bytes]:
        with self._lock:
            drop = self._drop
        texts = b"".join(segments[0::2])
        fetch = FETCH_OF_UID.match(texts)
        if drop is None or fetch is None or int(fetch.group(1)) != drop[0]:
            return segments
        if drop[1] is None:
            with self._lock:
                self.dropped += 1
            return []
        kept = [segments[0]]
        for literal, after in zip(segments[1::2], segments[2::2], strict=True):
            section = SECTION_BEFORE_LITERAL.search(kept[-1])
            if section is None or section.group(1) != drop[1]:
                kept += [literal, after]
                continue
            before = kept[-1][: section.start()]
            kept[-1] = before + (after.lstrip(b" ") if before.endswith(b"(") else after)
            with self._lock:
                self.dropped += 1
        return kept

    def close(self) -> None:
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()


@pytest.fixture
def proxy(imap_account: ImapAccount) -> Iterator[FetchDroppingProxy]:
    server = FetchDroppingProxy((imap_account.server.host, imap_account.server.port))
    yield server
    server.close()


@dataclass(frozen=True)
class Case:
    """UID 2 of a folder answered without ``section``; the others are read as usual."""

    folder: str
    role: FolderRole
    section: bytes
    messages: tuple[bytes, ...]
    stored: tuple[int, ...]  # indexes of the messages stored when UID 2 is not
    skipped: int  # non-Walmart spam, skipped on a header that was read

    def mailbox(self, account: ImapAccount, proxy: FetchDroppingProxy) -> MailboxSettings:
        return account.settings(host="127.0.0.1", port=proxy.port)


INBOX = Case(
    folder="INBOX",
    role=FolderRole.INBOX,
    section=BODY,
    messages=tuple(customer(f"Buyer {i}", order=f"10882927281{i:04d}") for i in range(5)),
    stored=(0, 2, 3, 4),
    skipped=0,
)
# In Junk, UID 2 is a Walmart buyer's: whitelisted, if only its sender header were read.
JUNK = Case(
    folder="Junk",
    role=FolderRole.SPAM,
    section=SENDER,
    messages=(
        customer("Buyer 0", order="108829272810000"),
        customer("Buyer 1", order="108829272810001"),
        message(sender="prince@scam.example", subject="You won", body="Click"),
        customer("Buyer 3", order="108829272810003"),
        customer("Buyer 4", order="108829272810004"),
    ),
    stored=(0, 3, 4),
    skipped=1,
)
CASES = pytest.mark.parametrize("case", [INBOX, JUNK], ids=["inbox-body", "junk-sender-header"])


def _folder(report: PollReport, role: FolderRole) -> FolderReport:
    assert report.ok, report.error
    (folder,) = [f for f in report.folders if f.role == role]
    return folder


def _cursor(factory: sessionmaker[Session], role: FolderRole) -> FolderCursor:
    with factory() as db:
        return db.scalars(select(FolderCursor).where(FolderCursor.role == role)).one()


def _dead_letters(factory: sessionmaker[Session]) -> list[DeadLetter]:
    with factory() as db:
        return list(db.scalars(select(DeadLetter)))


def _status(
    factory: sessionmaker[Session], settings: MailboxSettings, role: FolderRole
) -> ingest_status.FolderStatus:
    """What GET /api/v1/mailboxes says of the folder."""
    with factory() as db:
        (status,) = ingest_status.mailbox_statuses(db, configured=[settings.name])
    return status.folders[role.value]


def _stored_once(factory: sessionmaker[Session], case: Case, indexes: tuple[int, ...]) -> None:
    """Exactly the messages of ``indexes`` are stored, each once and at one UID of the folder."""
    assert stored_message_ids(factory) == sorted(message_id_of(case.messages[i]) for i in indexes)
    assert counts(factory) == (len(indexes), len(indexes))
    with factory() as db:
        uids = db.scalars(select(MessageLocation.uid).order_by(MessageLocation.uid)).all()
    assert list(uids) == [i + 1 for i in indexes]


@CASES
def test_a_uid_answered_without_its_content_holds_the_cursor_then_becomes_a_dead_letter(
    case: Case,
    imap_account: ImapAccount,
    proxy: FetchDroppingProxy,
    session_factory: sessionmaker[Session],
    database_url: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    imap_account.append(case.folder, list(case.messages))
    settings = case.mailbox(imap_account, proxy)
    proxy.drop(2, case.section)
    reason = f"the server answered FETCH without {case.section.decode()} for UID 2"

    for number in (1, 2):
        folder = _folder(poll(session_factory, settings), case.role)
        assert proxy.dropped == number
        assert folder.unanswered == [2] and folder.failed == 0
        assert folder.new == (len(case.stored) if number == 1 else 0)
        assert folder.duplicates == 0  # what was stored above the cursor is not fetched again
        # Not skipped: the sender of UID 2 was never read. Nor anything above the cursor yet.
        assert folder.skipped == 0
        cursor = _cursor(session_factory, case.role)
        assert (cursor.last_uid, cursor.skipped_count) == (1, 0)
        _stored_once(session_factory, case, case.stored)
        assert _dead_letters(session_factory) == []
        assert f"{reason} (poll {number} of 3); the cursor waits at UID 1" in caplog.text
        assert _status(session_factory, settings, case.role).waiting_uids == [2]

    caplog.clear()
    folder = _folder(poll(session_factory, settings), case.role)
    assert proxy.dropped == 3
    assert (folder.new, folder.duplicates, folder.failed, folder.unanswered) == (0, 0, 1, [])
    assert folder.skipped == case.skipped
    (letter,) = _dead_letters(session_factory)
    assert (letter.uid, letter.raw, letter.attempts) == (2, None, 3)
    assert letter.error == f"{reason}, 3 polls in a row"
    assert letter.resolved_at is None
    cursor = _cursor(session_factory, case.role)
    assert (cursor.last_uid, cursor.skipped_count) == (5, case.skipped)
    _stored_once(session_factory, case, case.stored)
    with session_factory() as db:
        assert db.scalars(select(UnansweredFetch)).all() == []
    # Every message of the folder is accounted for: the reconciliation has nothing to warn of.
    counted = _status(session_factory, settings, case.role)
    assert counted.waiting_uids == []
    assert (counted.stored_count, counted.failed_count, counted.skipped_count) == (
        len(case.stored),
        1,
        case.skipped,
    )
    assert counted.server_count == len(case.messages)
    assert "missing" not in caplog.text

    # The folder reads on; a replay cannot invent the message and says so.
    imap_account.append(case.folder, [customer("Late buyer", order="108829272819999")])
    assert _folder(poll(session_factory, settings), case.role).new == 1
    assert counts(session_factory)[0] == len(case.stored) + 1
    replayed = replay_dead_letters(
        session_factory, Settings(database_url=database_url, mailboxes=[settings])
    )
    assert replayed.resolved == 0
    (failure,) = replayed.still_failing
    assert reason in failure and "nothing to replay" in failure


@CASES
def test_a_uid_answered_again_before_the_third_poll_is_stored_as_usual(
    case: Case,
    imap_account: ImapAccount,
    proxy: FetchDroppingProxy,
    session_factory: sessionmaker[Session],
) -> None:
    imap_account.append(case.folder, list(case.messages))
    settings = case.mailbox(imap_account, proxy)
    proxy.drop(2, case.section)
    for _ in range(2):
        assert _folder(poll(session_factory, settings), case.role).unanswered == [2]
    assert _cursor(session_factory, case.role).last_uid == 1

    proxy.stop_dropping()
    folder = _folder(poll(session_factory, settings), case.role)

    assert proxy.dropped == 2
    assert (folder.new, folder.duplicates, folder.failed, folder.unanswered) == (1, 0, 0, [])
    assert folder.skipped == case.skipped
    cursor = _cursor(session_factory, case.role)
    assert (cursor.last_uid, cursor.skipped_count) == (5, case.skipped)
    _stored_once(session_factory, case, tuple(sorted((*case.stored, 1))))
    assert _dead_letters(session_factory) == []
    with session_factory() as db:
        assert db.scalars(select(UnansweredFetch)).all() == []
    again = _folder(poll(session_factory, settings), case.role)
    assert (again.new, again.duplicates, again.skipped, again.failed) == (0, 0, 0, 0)


def test_a_uid_left_out_of_every_fetch_answer_becomes_a_dead_letter_after_three_polls(
    imap_account: ImapAccount, proxy: FetchDroppingProxy, session_factory: sessionmaker[Session]
) -> None:
    imap_account.append(INBOX.folder, list(INBOX.messages))
    settings = INBOX.mailbox(imap_account, proxy)
    proxy.drop(2, None)
    for _ in range(2):
        assert _folder(poll(session_factory, settings), INBOX.role).unanswered == [2]
        assert _cursor(session_factory, INBOX.role).last_uid == 1
    folder = _folder(poll(session_factory, settings), INBOX.role)
    assert (folder.new, folder.failed, folder.unanswered) == (0, 1, [])
    (letter,) = _dead_letters(session_factory)
    assert letter.error == "the server left UID 2 out of its answer to FETCH, 3 polls in a row"
    assert _cursor(session_factory, INBOX.role).last_uid == 5
    _stored_once(session_factory, INBOX, INBOX.stored)
