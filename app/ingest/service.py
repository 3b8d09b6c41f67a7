"""Polling a mailbox: fetch what is new in INBOX, Junk and Sent, store it exactly once.

Each batch of messages commits together with its folder's cursor, so a process killed at any moment
neither loses a message (the cursor has not moved past it) nor stores one twice (the next poll finds
it by its dedupe key and UID).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from enum import StrEnum

from imapclient.exceptions import IMAPClientError
from sqlalchemy.exc import (
    DBAPIError,
    InterfaceError,
    OperationalError,
    PendingRollbackError,
    SQLAlchemyError,
)
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.clock import now
from app.config import MailboxSettings, Settings, SlaSettings
from app.db import session_scope
from app.enums import Classification, FolderRole
from app.errors import ConfigError
from app.ingest import repository
from app.mail.classify import classify, extract_order_number, is_whitelisted
from app.mail.imap import (
    FetchedMessage,
    FolderState,
    ImapError,
    ImapMailbox,
    did_not_answer,
)
from app.mail.parse import dedupe_key, parse_message
from app.mailboxes import registry
from app.models import (
    DeadLetter,
    FolderCursor,
    Message,
    MessageLocation,
    MessageRaw,
    Thread,
)
from app.oauth.grants import Logins
from app.sla import arrival_time
from app.threads import service as threads
from app.threads.service import PolicyFor

log = logging.getLogger(__name__)

BATCH_BYTES = 50 * 1024 * 1024
# Replies are stored after what they answer, so they find their thread by In-Reply-To.
FOLDER_ORDER = (FolderRole.INBOX, FolderRole.SPAM, FolderRole.SENT)


class Outcome(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"  # already stored (another folder, an earlier UIDVALIDITY, a replay)
    FAILED = "failed"  # kept as a dead letter


@dataclass
class FolderReport:
    role: FolderRole
    path: str | None
    new: int = 0
    duplicates: int = 0
    skipped: int = 0
    failed: int = 0
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


def _text(value: str | None, limit: int | None = None) -> str | None:
    """Text fit for every database: PostgreSQL refuses NUL characters, columns have lengths."""
    if value is None:
        return None
    value = value.replace("\x00", "\ufffd")
    return value[:limit] if limit else value


def _texts(values: Sequence[str]) -> list[str]:
    return [_text(v) or "" for v in values]


def _new_message(
    *,
    mailbox_id: int,
    role: FolderRole,
    fetched: FetchedMessage,
    seller_addresses: frozenset[str],
    stored_at: datetime,
) -> tuple[Message, bool]:
    """The Message row for a raw message, and whether it reports a complaint."""
    parsed = parse_message(fetched.raw, headers_only=fetched.headers_only)
    verdict = classify(parsed, folder=role, seller_addresses=seller_addresses)
    problems = [*fetched.problems, *parsed.problems]
    if fetched.internal_date is None:
        problems.append("server gave no INTERNALDATE; arrival taken from the Date header")
    received_at = arrival_time(
        internal_date=fetched.internal_date, date_header=parsed.date, stored_at=stored_at
    )
    message = Message(
        mailbox_id=mailbox_id,
        folder=role,
        dedupe_key=dedupe_key(parsed, fetched.raw),
        message_id_header=_text(parsed.message_id, 998),
        in_reply_to=_text(parsed.in_reply_to),
        references=_texts(parsed.references),
        from_address=_text(parsed.from_address, 320),
        from_name=_text(parsed.from_name),
        reply_to=_texts(parsed.reply_to),
        to_addresses=_texts(parsed.to),
        cc_addresses=_texts(parsed.cc),
        subject=_text(parsed.subject) or "",
        date_header=parsed.date,
        internal_date=fetched.internal_date,
        received_at=received_at,
        stored_at=stored_at,
        fetch_lag_seconds=(
            (stored_at - fetched.internal_date).total_seconds() if fetched.internal_date else None
        ),
        body_text=_text(parsed.body_text) or "",
        attachment_names=_texts(parsed.attachment_names),
        classification=verdict.classification,
        classification_reason=_text(verdict.reason, 200) or "",
        order_number=extract_order_number(parsed.subject, parsed.body_text),
        parse_problems=_texts(problems),
        size_bytes=len(fetched.raw) if fetched.size is None else fetched.size,
    )
    message.raw = MessageRaw(raw=fetched.raw)
    return message, verdict.complaint


def store_message(
    db: Session,
    *,
    mailbox_id: int,
    role: FolderRole,
    raw: bytes,
    arrived_at: datetime,
    seller_addresses: frozenset[str],
    policy_for: PolicyFor,
) -> Message | None:
    """Store a message that did not come from a folder poll (a reply slawatch sent, demo data);
    None when it is stored already. A copy polled later is recognised by its dedupe key."""
    message, complaint = _new_message(
        mailbox_id=mailbox_id,
        role=role,
        fetched=FetchedMessage(uid=0, internal_date=arrived_at, raw=raw),
        seller_addresses=seller_addresses,
        stored_at=now(),
    )
    known = repository.message_ids_by_key(
        db, mailbox_id=mailbox_id, dedupe_keys=[message.dedupe_key]
    )
    if known:
        return None
    db.add(message)
    db.flush()
    threads.attach(
        db,
        message=message,
        complaint=complaint,
        seller_addresses=seller_addresses,
        policy_for=policy_for,
    )
    return message


def store_outgoing(
    db: Session, *, thread: Thread, raw: bytes, mailbox: MailboxSettings, sla: SlaSettings
) -> None:
    """Store a reply slawatch itself sent, so its thread is answered at once."""
    store_message(
        db,
        mailbox_id=thread.mailbox_id,
        role=FolderRole.SENT,
        raw=raw,
        arrived_at=now(),
        seller_addresses=frozenset(mailbox.seller_addresses),
        policy_for=threads.policy_lookup(sla, mailbox.marketplace),
    )


@dataclass
class _Prepared:
    fetched: FetchedMessage
    message: Message
    complaint: bool


def _prepare(
    cursor: FolderCursor, fetched: FetchedMessage, seller_addresses: frozenset[str]
) -> _Prepared:
    message, complaint = _new_message(
        mailbox_id=cursor.mailbox_id,
        role=cursor.role,
        fetched=fetched,
        seller_addresses=seller_addresses,
        stored_at=now(),
    )
    return _Prepared(fetched, message, complaint)


def _persist(
    db: Session,
    prepared: _Prepared,
    *,
    location: dict[str, int],
    known: dict[str, int],
    letters: dict[int, DeadLetter],
    seller_addresses: frozenset[str],
    policy_for: PolicyFor,
) -> Outcome:
    """Add a prepared message (or only its location, when its dedupe key is already stored)."""
    message = prepared.message
    existing_id = known.get(message.dedupe_key)
    if existing_id is None:
        db.add(message)
        db.flush()
        threads.attach(
            db,
            message=message,
            complaint=prepared.complaint,
            seller_addresses=seller_addresses,
            policy_for=policy_for,
        )
        known[message.dedupe_key] = message.id
    db.add(MessageLocation(message_id=existing_id or message.id, **location))
    letter = letters.get(prepared.fetched.uid)
    if letter is not None:
        letter.resolved_at = now()
    return Outcome.DUPLICATE if existing_id else Outcome.NEW


def store_batch(
    db: Session,
    *,
    cursor: FolderCursor,
    uidvalidity: int,
    fetched: Sequence[FetchedMessage],
    seller_addresses: frozenset[str],
    policy_for: PolicyFor,
) -> list[tuple[Outcome, Classification | None]]:
    """Store fetched messages of one folder; one that cannot be stored becomes a dead letter.
    Returns each message's outcome, with the classification of those newly stored.

    The whole batch is tried under one savepoint; only if something in it fails is it stored again
    message by message, so the failure is pinned on the one message that caused it."""
    known_uids = repository.known_uids(
        db, cursor_id=cursor.id, uidvalidity=uidvalidity, uids=[f.uid for f in fetched]
    )
    todo = [f for f in fetched if f.uid not in known_uids]
    outcomes: list[tuple[Outcome, Classification | None]] = [
        (Outcome.DUPLICATE, None) for _ in range(len(fetched) - len(todo))
    ]
    if not todo:
        return outcomes
    letters = repository.unresolved_dead_letters_by_uid(
        db, cursor_id=cursor.id, uidvalidity=uidvalidity
    )
    prepared = [_prepare(cursor, f, seller_addresses) for f in todo]
    known = repository.message_ids_by_key(
        db, mailbox_id=cursor.mailbox_id, dedupe_keys=[p.message.dedupe_key for p in prepared]
    )

    def location(f: FetchedMessage) -> dict[str, int]:
        return {"cursor_id": cursor.id, "uidvalidity": uidvalidity, "uid": f.uid}

    try:
        with db.begin_nested():
            batch_known = dict(known)  # rolled back with the savepoint if the batch fails
            stored = [
                (
                    _persist(
                        db,
                        p,
                        location=location(p.fetched),
                        known=batch_known,
                        letters=letters,
                        seller_addresses=seller_addresses,
                        policy_for=policy_for,
                    ),
                    p.message.classification,
                )
                for p in prepared
            ]
            db.flush()
        return outcomes + stored
    except Exception as e:  # noqa: BLE001 — find the culprit below; nothing is dropped
        if database_unavailable(e):
            raise  # not this batch's fault: the poll stops, the next one retries it
        log.info("batch of %d failed; storing its messages one by one", len(todo))
    for f in todo:
        try:
            with db.begin_nested():
                one = _prepare(cursor, f, seller_addresses)
                outcome = _persist(
                    db,
                    one,
                    location=location(f),
                    known=known,
                    letters=letters,
                    seller_addresses=seller_addresses,
                    policy_for=policy_for,
                )
                db.flush()
            outcomes.append((outcome, one.message.classification))
        except Exception as e:  # noqa: BLE001 — any failure keeps the raw message for replay
            if database_unavailable(e):
                raise
            log.exception(
                "mailbox %s: %s UID %s could not be stored; kept as a dead letter",
                cursor.mailbox_id,
                cursor.role,
                f.uid,
            )
            _dead_letter(
                db,
                location=location(f),
                fetched=f,
                letters=letters,
                error=f"{e.__class__.__name__}: {e}",
            )
            outcomes.append((Outcome.FAILED, None))
    return outcomes


def _dead_letter(
    db: Session,
    *,
    location: dict[str, int],
    fetched: FetchedMessage,
    letters: dict[int, DeadLetter],
    error: str,
) -> None:
    letter = letters.get(fetched.uid)
    if letter is None:
        db.add(
            DeadLetter(
                **location,
                internal_date=fetched.internal_date,
                raw=fetched.raw,
                fetch_problems=list(fetched.problems),
                size=fetched.size,
                headers_only=fetched.headers_only,
                error=_text(error) or "",
            )
        )
    else:
        letter.attempts += 1
        letter.error = _text(error) or ""
    db.flush()


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
) -> list[FetchedMessage]:
    """The messages of ``uids`` in UID order: whole, or only the header of one over the limit,
    with a note, so no single message decides how much memory a poll needs."""
    whole = [uid for uid in uids if sizes.get(uid, 0) <= max_message_bytes]
    too_big = [uid for uid in uids if sizes.get(uid, 0) > max_message_bytes]
    fetched = list(imap.fetch(whole)) if whole else []
    headers = imap.fetch_headers(too_big, max_bytes=max_message_bytes) if too_big else []
    for header in headers:
        note = (
            f"message of {header.size} bytes is over max_message_bytes ({max_message_bytes}); "
            "only its headers were fetched"
        )
        if len(header.raw) >= max_message_bytes:
            note += f", and of those only the first {max_message_bytes} bytes"
        fetched.append(replace(header, problems=(note,)))
    # Stored in UID order: a reply finds the message it answers already stored.
    return sorted(fetched, key=lambda m: m.uid)


def _whitelisted_uids(imap: ImapMailbox, uids: list[int], patterns: Sequence[str]) -> list[int]:
    headers = imap.sender_headers(uids)
    parser = BytesHeaderParser()
    keep = []
    for uid in uids:
        header = parser.parsebytes(headers.get(uid, b""))
        addresses = getaddresses([str(header.get("From", ""))])
        sender = addresses[0][1].lower() if addresses else None
        if is_whitelisted(sender, patterns):
            keep.append(uid)
    return keep


def _open_cursor(
    session_factory: sessionmaker[Session],
    *,
    mailbox_id: int,
    role: FolderRole,
    state: FolderState,
) -> FolderCursor:
    with session_scope(session_factory) as db:
        cursor = repository.get_or_create_cursor(
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
        return cursor


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
    cursor = _open_cursor(session_factory, mailbox_id=mailbox_id, role=role, state=state)
    if state.uidnext is not None and state.uidnext - 1 <= cursor.last_uid:
        return report  # nothing new: the cost does not depend on the folder's size
    seller_addresses = frozenset(settings.seller_addresses)
    done_up_to = cursor.last_uid
    for chunk in _batches(imap.uids_above(cursor.last_uid), settings.batch_size):
        wanted = chunk
        if role == FolderRole.SPAM:
            wanted = _whitelisted_uids(imap, chunk, settings.spam_whitelist)
            report.skipped += len(chunk) - len(wanted)
        sizes = imap.sizes(wanted) if wanted else {}
        # A message over the limit costs at most that much (of its header). Each part of at
        # most BATCH_BYTES is fetched and committed on its own: a batch of big messages is never
        # in memory at once.
        costs = {uid: min(size, settings.max_message_bytes) for uid, size in sizes.items()}
        parts = list(_by_bytes(wanted, costs)) or [[]]
        skipped = set(chunk) - set(wanted)
        for number, part in enumerate(parts, 1):
            up_to = max(chunk) if number == len(parts) else max(part)
            fetched = _fetch(imap, part, sizes, max_message_bytes=settings.max_message_bytes)
            with session_scope(session_factory) as db:
                cursor = repository.lock_cursor(db, cursor.id)
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
                cursor.last_uid = up_to
                cursor.skipped_count += sum(1 for uid in skipped if done_up_to < uid <= up_to)
            done_up_to = up_to
            if role == FolderRole.SPAM and part and settings.rescue_spam:
                imap.copy_to(part, "INBOX")
    _reconcile(session_factory, cursor_id=cursor.id, mailbox=settings.name)
    return report


def _reconcile(session_factory: sessionmaker[Session], *, cursor_id: int, mailbox: str) -> None:
    """Warn when the server holds messages that are neither stored, skipped nor dead-lettered."""
    with session_scope(session_factory) as db:
        cursor = db.get(FolderCursor, cursor_id)
        assert cursor is not None  # noqa: S101
        accounted = (
            repository.stored_count(db, cursor)
            + repository.failed_count(db, cursor)
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


def database_unavailable(error: BaseException) -> bool:
    """The database went away (a restart, a cut connection, a lock not granted): no message is
    at fault, so none becomes a dead letter."""
    return isinstance(error, OperationalError | InterfaceError | PendingRollbackError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )


def _describe_database_error(error: SQLAlchemyError) -> str:
    first_line = str(getattr(error, "orig", None) or error).strip().splitlines()
    return (
        f"database error during the poll: {first_line[0] if first_line else type(error).__name__}"
    )


def _record_health(
    session_factory: sessionmaker[Session], *, mailbox_id: int | None, report: PollReport
) -> None:
    if mailbox_id is None:
        return  # the database was not reachable even to start the poll
    try:
        _save_health(session_factory, mailbox_id=mailbox_id, report=report)
    except SQLAlchemyError as e:
        log.error(
            "mailbox %s: could not record the poll's outcome: %s",
            report.mailbox,
            _describe_database_error(e),
        )


def _save_health(
    session_factory: sessionmaker[Session], *, mailbox_id: int, report: PollReport
) -> None:
    with session_scope(session_factory) as db:
        mailbox = repository.get_mailbox(db, mailbox_id)
        if report.error is None:
            mailbox.last_success_at = now()
            mailbox.consecutive_failures = 0
        else:
            mailbox.last_error_at = now()
            mailbox.last_error, mailbox.last_error_kind = report.error, report.error_kind
            mailbox.consecutive_failures += 1


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
    policy_for = threads.policy_lookup(sla, settings.marketplace)
    started = time.monotonic()
    mailbox_id: int | None = None
    imap: ImapMailbox | None = None
    try:
        with session_scope(session_factory) as db:
            mailbox = repository.get_or_create_mailbox(db, settings.name)
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
        report.error, report.error_kind = _describe_database_error(e), "database"
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
    _record_health(session_factory, mailbox_id=mailbox_id, report=report)
    return report


@dataclass
class ReplayReport:
    resolved: int = 0
    still_failing: list[str] = field(default_factory=list)


def replay_dead_letters(session_factory: sessionmaker[Session], settings: Settings) -> ReplayReport:
    """Process every unresolved dead letter again, e.g. after a fix; each keeps its raw bytes."""
    report = ReplayReport()
    with session_scope(session_factory) as db:
        by_name = registry.all_settings(db, settings)  # API mailboxes too
        for letter in repository.unresolved_dead_letters(db):
            cursor = letter.cursor
            mailbox_settings = by_name.get(cursor.mailbox.name)
            seller_addresses = frozenset(
                mailbox_settings.seller_addresses if mailbox_settings else ()
            )
            marketplace = mailbox_settings.marketplace if mailbox_settings else "walmart"
            ((outcome, _),) = store_batch(
                db,
                cursor=cursor,
                uidvalidity=letter.uidvalidity,
                fetched=[
                    FetchedMessage(
                        uid=letter.uid,
                        internal_date=letter.internal_date,
                        raw=letter.raw,
                        headers_only=letter.headers_only,
                        size=letter.size,
                        problems=tuple(letter.fetch_problems or ()),
                    )
                ],
                seller_addresses=seller_addresses,
                policy_for=threads.policy_lookup(settings.sla, marketplace),
            )
            if outcome == Outcome.FAILED:
                report.still_failing.append(f"dead letter {letter.id}: {letter.error}")
            else:
                report.resolved += 1
    return report


@dataclass
class FolderStatus:
    path: str
    uidvalidity: int | None
    last_uid: int
    server_count: int | None
    stored_count: int
    skipped_count: int
    failed_count: int
    last_synced_at: datetime | None


@dataclass
class MailboxStatus:
    name: str
    configured: bool
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    consecutive_failures: int
    folders: dict[str, FolderStatus]


def mailbox_statuses(db: Session, *, configured: Sequence[str]) -> list[MailboxStatus]:
    """Poll health and per-folder counts of every mailbox: configured ones not yet polled too."""
    mailboxes = {m.name: m for m in repository.list_mailboxes(db)}
    result = []
    for name in sorted(set(configured) | set(mailboxes)):
        mailbox = mailboxes.get(name)
        folders = {
            cursor.role.value: FolderStatus(
                path=cursor.path,
                uidvalidity=cursor.uidvalidity,
                last_uid=cursor.last_uid,
                server_count=cursor.server_count,
                stored_count=repository.stored_count(db, cursor),
                skipped_count=cursor.skipped_count,
                failed_count=repository.failed_count(db, cursor),
                last_synced_at=cursor.last_synced_at,
            )
            for cursor in (mailbox.folders if mailbox else [])
        }
        result.append(
            MailboxStatus(
                name=name,
                configured=name in configured,
                last_poll_at=mailbox.last_poll_at if mailbox else None,
                last_success_at=mailbox.last_success_at if mailbox else None,
                last_error_at=mailbox.last_error_at if mailbox else None,
                last_error=mailbox.last_error if mailbox else None,
                consecutive_failures=mailbox.consecutive_failures if mailbox else 0,
                folders=folders,
            )
        )
    return result
