"""Polling a mailbox: fetch what is new in INBOX, Junk and Sent, store it exactly once.

Each batch of messages commits together with its folder's cursor, so a process killed at any moment
neither loses a message (the cursor has not moved past it) nor stores one twice (the next poll finds
it by its dedupe key and UID). The cursor passes only UIDs that are accounted for: stored, kept as
dead letters, or skipped on a sender header that was read. A UID the server answers without its
content holds the cursor below it, and is read again by the next poll, until it is kept as a dead
letter after UNANSWERED_POLLS polls.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from email.parser import BytesHeaderParser
from email.utils import getaddresses

from imapclient.exceptions import IMAPClientError
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.clock import now
from app.config import MailboxSettings, SlaSettings
from app.db import session_scope
from app.enums import Classification, FolderRole
from app.errors import ConfigError
from app.ingest import health
from app.ingest import repository as ingest_repository
from app.ingest.store import UNANSWERED_POLLS, Outcome, Unanswered, note_unanswered, store_batch
from app.mail.classify import is_whitelisted
from app.mail.fetched import FetchedMessage
from app.mail.imap import FolderState, ImapMailbox
from app.mail.imap_errors import ImapError, did_not_answer
from app.mailboxes import repository as mailbox_repository
from app.models import FolderCursor
from app.oauth.grants import Logins
from app.sla import PolicyFor, policy_lookup

log = logging.getLogger(__name__)

BATCH_BYTES = 50 * 1024 * 1024
# Replies are stored after what they answer, so they find their thread by In-Reply-To.
FOLDER_ORDER = (FolderRole.INBOX, FolderRole.SPAM, FolderRole.SENT)


@dataclass
class FolderReport:
    role: FolderRole
    path: str | None
    new: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
    # UIDs the server answered without their content this poll, waiting to be read again: the
    # folder's cursor stays below the first of them.
    unanswered: list[int] = field(default_factory=list)
    new_by_classification: Counter[Classification] = field(default_factory=Counter)

    def count(self, outcome: Outcome, classification: Classification | None) -> None:
        if outcome == Outcome.NEW:
            self.new += 1
            if classification is not None:
                self.new_by_classification[classification] += 1
        elif outcome == Outcome.DUPLICATE:
            self.duplicates += 1
        else:
            self.failed += 1


@dataclass
class PollReport:
    mailbox: str
    folders: list[FolderReport] = field(default_factory=list)
    error: str | None = None
    error_kind: str | None = None  # auth, network, tls, folder, protocol, config

    @property
    def ok(self) -> bool:
        return self.error is None


def _batches(uids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(uids), size):
        yield list(uids[start : start + size])


def _by_bytes(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """Split a batch so no single FETCH holds more than BATCH_BYTES in memory."""
    part: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if part and total + size > BATCH_BYTES:
            yield part
            part, total = [], 0
        part.append(uid)
        total += size
    if part:
        yield part


def _fetch(
    imap: ImapMailbox, uids: list[int], sizes: dict[int, int], *, max_message_bytes: int
) -> tuple[list[FetchedMessage], dict[int, str]]:
    """The messages of ``uids`` in UID order: whole, or only the header of one over the limit,
    with a note, so no single message decides how much memory a poll needs; and the UIDs the
    server answered without them, with what it did."""
    whole = [uid for uid in uids if sizes.get(uid, 0) <= max_message_bytes]
    too_big = [uid for uid in uids if sizes.get(uid, 0) > max_message_bytes]
    fetched: list[FetchedMessage] = []
    unanswered: dict[int, str] = {}
    if whole:
        answer = imap.fetch(whole)
        fetched.extend(answer.answered.values())
        unanswered.update(answer.unanswered)
    if too_big:
        headers = imap.fetch_headers(too_big, max_bytes=max_message_bytes)
        unanswered.update(headers.unanswered)
        for header in headers.answered.values():
            note = (
                f"message of {header.size} bytes is over max_message_bytes "
                f"({max_message_bytes}); only its headers were fetched"
            )
            if len(header.raw) >= max_message_bytes:
                note += f", and of those only the first {max_message_bytes} bytes"
            fetched.append(replace(header, problems=(note,)))
    # Stored in UID order: a reply finds the message it answers already stored.
    return sorted(fetched, key=lambda m: m.uid), unanswered


def _whitelisted_uids(
    imap: ImapMailbox, uids: list[int], patterns: Sequence[str]
) -> tuple[list[int], dict[int, str]]:
    """The UIDs of Walmart mail among ``uids``, and those whose sender header the server did not
    give: neither read nor skipped, whatever they are."""
    if not uids:
        return [], {}
    headers = imap.sender_headers(uids)
    parser = BytesHeaderParser()
    keep = []
    for uid in uids:
        if uid not in headers.answered:
            continue
        header = parser.parsebytes(headers.answered[uid])
        addresses = getaddresses([str(header.get("From", ""))])
        sender = addresses[0][1].lower() if addresses else None
        if is_whitelisted(sender, patterns):
            keep.append(uid)
    return keep, {uid: reason for uid, reason in headers.unanswered.items() if uid in uids}


def _open_cursor(
    session_factory: sessionmaker[Session],
    *,
    mailbox_id: int,
    role: FolderRole,
    state: FolderState,
) -> tuple[FolderCursor, set[int]]:
    """The folder's cursor, and the UIDs above it that are accounted for already."""
    with session_scope(session_factory) as db:
        cursor = mailbox_repository.get_or_create_cursor(
            db, mailbox_id=mailbox_id, role=role, path=state.path
        )
        if cursor.uidvalidity != state.uidvalidity:
            if cursor.uidvalidity is not None:
                log.warning(
                    "mailbox %s: %s folder %r changed UIDVALIDITY %s -> %s; reading it again "
                    "(stored messages are recognised, not duplicated)",
                    mailbox_id,
                    role,
                    state.path,
                    cursor.uidvalidity,
                    state.uidvalidity,
                )
            cursor.uidvalidity = state.uidvalidity
            cursor.last_uid = 0
            cursor.skipped_count = 0
        cursor.path = state.path
        cursor.server_count = state.exists
        cursor.last_synced_at = now()
        accounted = ingest_repository.accounted_uids_above(
            db, cursor_id=cursor.id, uidvalidity=state.uidvalidity, last_uid=cursor.last_uid
        )
        return cursor, accounted


def sync_folder(
    session_factory: sessionmaker[Session],
    imap: ImapMailbox,
    *,
    mailbox_id: int,
    role: FolderRole,
    path: str,
    settings: MailboxSettings,
    policy_for: PolicyFor,
) -> FolderReport:
    report = FolderReport(role=role, path=path)
    state = imap.examine(path)
    cursor, accounted = _open_cursor(session_factory, mailbox_id=mailbox_id, role=role, state=state)
    if state.uidnext is not None and state.uidnext - 1 <= cursor.last_uid:
        return report  # nothing new: the cost does not depend on the folder's size
    seller_addresses = frozenset(settings.seller_addresses)
    waiting_at: int | None = None  # the first UID of this poll the cursor must not pass
    for chunk in _batches(imap.uids_above(cursor.last_uid), settings.batch_size):
        # Above a cursor that waited for an unanswered UID, what was stored is not fetched again.
        todo = [uid for uid in chunk if uid not in accounted]
        wanted, unanswered = todo, dict[int, str]()
        if role == FolderRole.SPAM:
            wanted, unanswered = _whitelisted_uids(imap, todo, settings.spam_whitelist)
        skipped = set(todo) - set(wanted) - set(unanswered)
        sizes = imap.sizes(wanted) if wanted else {}
        # A message over the limit costs at most that much (of its header). Each part of at
        # most BATCH_BYTES is fetched and committed on its own: a batch of big messages is never
        # in memory at once.
        costs = {uid: min(size, settings.max_message_bytes) for uid, size in sizes.items()}
        parts = list(_by_bytes(wanted, costs)) or [[]]
        noted: set[int] = set()
        for number, part in enumerate(parts, 1):
            up_to = max(chunk) if number == len(parts) else max(part)
            fetched, missing = _fetch(
                imap, part, sizes, max_message_bytes=settings.max_message_bytes
            )
            unanswered.update(missing)
            due = {uid: why for uid, why in unanswered.items() if uid <= up_to and uid not in noted}
            noted |= due.keys()
            with session_scope(session_factory) as db:
                cursor = mailbox_repository.lock_cursor(db, cursor.id)
                outcomes = store_batch(
                    db,
                    cursor=cursor,
                    uidvalidity=state.uidvalidity,
                    fetched=fetched,
                    seller_addresses=seller_addresses,
                    policy_for=policy_for,
                )
                for outcome, classification in outcomes:
                    report.count(outcome, classification)
                found = note_unanswered(
                    db, cursor=cursor, uidvalidity=state.uidvalidity, reasons=due
                )
                waiting = [f.uid for f in found if not f.dead_letter]
                if waiting:
                    waiting_at = min(waiting_at or waiting[0], *waiting)
                passed = up_to if waiting_at is None else min(up_to, waiting_at - 1)
                passed = max(passed, cursor.last_uid)
                passed_skipped = sum(1 for uid in skipped if cursor.last_uid < uid <= passed)
                cursor.skipped_count += passed_skipped
                cursor.last_uid = passed
                ingest_repository.forget_unanswered(
                    db,
                    cursor_id=cursor.id,
                    uidvalidity=state.uidvalidity,
                    up_to=passed,
                    read=[f.uid for f in fetched],
                )
            report.skipped += passed_skipped
            _report_unanswered(report, found, mailbox=settings.name, cursor_at=passed)
            if role == FolderRole.SPAM and fetched and settings.rescue_spam:
                imap.copy_to([f.uid for f in fetched], "INBOX")
    _reconcile(session_factory, cursor_id=cursor.id, mailbox=settings.name)
    return report


def _report_unanswered(
    report: FolderReport, found: list[Unanswered], *, mailbox: str, cursor_at: int
) -> None:
    """Name each UID the server answered without its content: in the report, and in the log."""
    for unanswered in found:
        if unanswered.dead_letter:
            report.failed += 1
            log.error(
                "mailbox %s: %s folder %r: %s, %d polls in a row; kept as a dead letter "
                "without its message, and the folder reads on",
                mailbox,
                report.role,
                report.path,
                unanswered.reason,
                unanswered.polls,
            )
            continue
        report.unanswered.append(unanswered.uid)
        log.warning(
            "mailbox %s: %s folder %r: %s (poll %d of %d); the cursor waits at UID %d, the "
            "next poll reads it again",
            mailbox,
            report.role,
            report.path,
            unanswered.reason,
            unanswered.polls,
            UNANSWERED_POLLS,
            cursor_at,
        )


def _reconcile(session_factory: sessionmaker[Session], *, cursor_id: int, mailbox: str) -> None:
    """Warn when the server holds messages that are neither stored, skipped nor dead-lettered."""
    with session_scope(session_factory) as db:
        cursor = db.get(FolderCursor, cursor_id)
        assert cursor is not None  # noqa: S101
        accounted = (
            ingest_repository.stored_count(db, cursor)
            + ingest_repository.failed_count(db, cursor)
            + cursor.skipped_count
        )
        if cursor.server_count is not None and accounted < cursor.server_count:
            log.warning(
                "mailbox %s: %s folder %r holds %d messages, %d are accounted for (stored, "
                "skipped or failed): %d missing",
                mailbox,
                cursor.role,
                cursor.path,
                cursor.server_count,
                accounted,
                cursor.server_count - accounted,
            )


def poll_mailbox(
    session_factory: sessionmaker[Session],
    settings: MailboxSettings,
    *,
    sla: SlaSettings,
    logins: Logins,
) -> PollReport:
    """Poll INBOX, Junk and Sent of one mailbox. Failures are reported, recorded on the mailbox's
    health and logged; they never raise, so one broken mailbox cannot stop the others."""
    report = PollReport(mailbox=settings.name)
    policy_for = policy_lookup(sla, settings.marketplace)
    started = time.monotonic()
    mailbox_id: int | None = None
    imap: ImapMailbox | None = None
    try:
        with session_scope(session_factory) as db:
            mailbox = mailbox_repository.get_or_create_mailbox(db, settings.name)
            mailbox.last_poll_at = now()
            mailbox_id = mailbox.id
        imap = ImapMailbox.for_settings(
            settings, logins.for_mailbox(settings), deadline=settings.poll_deadline_seconds
        )
        with imap:
            paths = imap.locate_folders(settings)
            for role in FOLDER_ORDER:
                path = paths.get(role)
                if path is None:
                    report.folders.append(FolderReport(role=role, path=None))
                    continue
                report.folders.append(
                    sync_folder(
                        session_factory,
                        imap,
                        mailbox_id=mailbox_id,
                        role=role,
                        path=path,
                        settings=settings,
                        policy_for=policy_for,
                    )
                )
    except ImapError as e:
        report.error, report.error_kind = e.reason, e.kind
    except ConfigError as e:
        report.error, report.error_kind = str(e), "config"
    except TimeoutError:
        host, port, timeout = settings.host, settings.imap_port, settings.timeout_seconds
        report.error = did_not_answer(host, port, timeout=timeout, during="during the poll")
        report.error_kind = "network"
    except (IMAPClientError, OSError) as e:
        report.error = f"{settings.host}: connection lost during the poll: {e}"
        report.error_kind = "network"
    except SQLAlchemyError as e:
        # What was committed stays; the batch in flight is read again by the next poll.
        report.error, report.error_kind = health.describe_database_error(e), "database"
    if imap is not None and imap.deadline_passed and report.error_kind == "network":
        report.error = (
            f"{settings.host}: the poll was stopped at its deadline of "
            f"{settings.poll_deadline_seconds:g} s (poll_deadline_seconds): the server is too "
            "slow; what was stored stays, the next poll reads on"
        )
    if report.error:
        log.error("mailbox %s: poll failed: %s", settings.name, report.error)
        metrics.POLL_FAILURES.labels(settings.name, report.error_kind or "unknown").inc()
    metrics.POLL_SECONDS.labels(settings.name).observe(time.monotonic() - started)
    for folder in report.folders:
        for classification, count in folder.new_by_classification.items():
            metrics.MESSAGES_INGESTED.labels(settings.name, folder.role, classification).inc(count)
    health.record(
        session_factory,
        mailbox_id=mailbox_id,
        mailbox=settings.name,
        error=report.error,
        error_kind=report.error_kind,
    )
    return report
