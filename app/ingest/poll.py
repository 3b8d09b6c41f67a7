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
from contextlib import closing
from dataclasses import dataclass, field

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
from app.ingest.reads import one_ahead, reads
from app.ingest.store import UNANSWERED_POLLS, Outcome, Unanswered, note_unanswered, store_batch
from app.mail.imap import FolderState, ImapMailbox
from app.mail.imap_errors import ImapError, did_not_answer
from app.mailboxes import repository as mailbox_repository
from app.models import FolderCursor
from app.oauth.grants import Logins
from app.sla import PolicyFor, policy_lookup

log = logging.getLogger(__name__)

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


def _open_cursor(
    session_factory: sessionmaker[Session],
    *,
    mailbox_id: int,
    role: FolderRole,
    state: FolderState,
) -> tuple[FolderCursor, set[int] | None]:
    """The folder's cursor, and the UIDs above it that are accounted for already; None when the
    server has no UID above the cursor (a poll finding nothing new asks no more)."""
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
        if state.uidnext is not None and state.uidnext - 1 <= cursor.last_uid:
            return cursor, None
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
    if accounted is None:
        return report  # nothing new: the cost does not depend on the folder's size
    seller_addresses = frozenset(settings.seller_addresses)
    waiting_at: int | None = None  # the first UID of this poll the cursor must not pass
    folder_reads = reads(
        imap, imap.uids_above(cursor.last_uid), accounted, role=role, settings=settings
    )
    # Copying rescued spam uses the connection between reads: then nothing is read ahead.
    rescuing = role == FolderRole.SPAM and settings.rescue_spam
    with closing(folder_reads if rescuing else one_ahead(folder_reads)) as parts:
        for read in parts:
            with session_scope(session_factory) as db:
                cursor = mailbox_repository.lock_cursor(db, cursor.id)
                outcomes = store_batch(
                    db,
                    cursor=cursor,
                    uidvalidity=state.uidvalidity,
                    fetched=read.fetched,
                    seller_addresses=seller_addresses,
                    policy_for=policy_for,
                )
                for outcome, classification in outcomes:
                    report.count(outcome, classification)
                found = note_unanswered(
                    db, cursor=cursor, uidvalidity=state.uidvalidity, reasons=read.unanswered
                )
                waiting = [f.uid for f in found if not f.dead_letter]
                if waiting:
                    waiting_at = min(waiting_at or waiting[0], *waiting)
                passed = read.up_to if waiting_at is None else min(read.up_to, waiting_at - 1)
                passed = max(passed, cursor.last_uid)
                passed_skipped = sum(1 for uid in read.skipped if cursor.last_uid < uid <= passed)
                cursor.skipped_count += passed_skipped
                cursor.last_uid = passed
                ingest_repository.forget_unanswered(
                    db,
                    cursor_id=cursor.id,
                    uidvalidity=state.uidvalidity,
                    up_to=passed,
                    read=[f.uid for f in read.fetched],
                )
            report.skipped += passed_skipped
            _report_unanswered(report, found, mailbox=settings.name, cursor_at=passed)
            if rescuing and read.fetched:
                imap.copy_to([f.uid for f in read.fetched], "INBOX")
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
