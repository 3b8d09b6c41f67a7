"""Turning fetched messages into rows: each message, its location and its thread, exactly once.

Nothing here commits: the caller owns the transaction (a poll's batch with its folder's cursor, a
replay, a reply slawatch sent). A message that cannot be stored is kept as a dead letter, under a
savepoint, so the rest of its batch is stored all the same.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, PendingRollbackError
from sqlalchemy.orm import Session

from app.clock import now
from app.config import MailboxSettings, SlaSettings
from app.enums import Classification, FolderRole
from app.ingest import repository as ingest_repository
from app.mail.classify import classify, extract_order_number
from app.mail.fetched import FetchedMessage
from app.mail.parse import dedupe_key, parse_message
from app.models import (
    DeadLetter,
    FolderCursor,
    Message,
    MessageLocation,
    MessageRaw,
    Thread,
    UnansweredFetch,
)
from app.sla import PolicyFor, arrival_time, policy_lookup
from app.threads import service as thread_service

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"  # already stored (another folder, an earlier UIDVALIDITY, a replay)
    FAILED = "failed"  # kept as a dead letter


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
    known = ingest_repository.message_ids_by_key(
        db, mailbox_id=mailbox_id, dedupe_keys=[message.dedupe_key]
    )
    if known:
        return None
    db.add(message)
    db.flush()
    thread_service.attach(
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
        policy_for=policy_lookup(sla, mailbox.marketplace),
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
        thread_service.attach(
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
    known_uids = ingest_repository.known_uids(
        db, cursor_id=cursor.id, uidvalidity=uidvalidity, uids=[f.uid for f in fetched]
    )
    todo = [f for f in fetched if f.uid not in known_uids]
    outcomes: list[tuple[Outcome, Classification | None]] = [
        (Outcome.DUPLICATE, None) for _ in range(len(fetched) - len(todo))
    ]
    if not todo:
        return outcomes
    letters = ingest_repository.unresolved_dead_letters_by_uid(
        db, cursor_id=cursor.id, uidvalidity=uidvalidity
    )
    prepared = [_prepare(cursor, f, seller_addresses) for f in todo]
    known = ingest_repository.message_ids_by_key(
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


# Polls in a row in which the server answered a UID without its content before it is kept as a
# dead letter: enough to ride out a server's passing fault, few enough not to hold the folder back.
UNANSWERED_POLLS = 3


@dataclass(frozen=True)
class Unanswered:
    """A UID the server answered without its content in this poll, and what became of it."""

    uid: int
    reason: str
    polls: int  # in a row, this one included
    dead_letter: bool  # kept as one now: the cursor may pass it


def note_unanswered(
    db: Session, *, cursor: FolderCursor, uidvalidity: int, reasons: dict[int, str]
) -> list[Unanswered]:
    """Count one more poll for each UID of ``reasons`` (UID -> what the server did); one found so
    for the UNANSWERED_POLLS-th time becomes a dead letter without a message, with the reason."""
    rows = ingest_repository.unanswered_by_uid(
        db, cursor_id=cursor.id, uidvalidity=uidvalidity, uids=list(reasons)
    )
    noted = []
    for uid, reason in sorted(reasons.items()):
        row = rows.get(uid)
        if row is None:
            row = UnansweredFetch(cursor_id=cursor.id, uidvalidity=uidvalidity, uid=uid, polls=0)
            db.add(row)
        row.polls += 1
        row.reason = _text(reason) or ""
        row.last_at = now()
        kept = row.polls >= UNANSWERED_POLLS
        if kept:
            db.add(
                DeadLetter(
                    cursor_id=cursor.id,
                    uidvalidity=uidvalidity,
                    uid=uid,
                    raw=None,
                    attempts=row.polls,
                    error=_text(f"{reason}, {row.polls} polls in a row") or "",
                )
            )
            if row.id is None:
                db.expunge(row)  # never flushed
            else:
                db.delete(row)
        noted.append(Unanswered(uid=uid, reason=reason, polls=row.polls, dead_letter=kept))
    db.flush()
    return noted


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


def database_unavailable(error: BaseException) -> bool:
    """The database went away (a restart, a cut connection, a lock not granted): no message is
    at fault, so none becomes a dead letter."""
    return isinstance(error, OperationalError | InterfaceError | PendingRollbackError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )
