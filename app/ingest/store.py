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
from app.ingest.rows import NewMessage, new_message, text
from app.mail.fetched import FetchedMessage
from app.models import DeadLetter, FolderCursor, Message, Thread, UnansweredFetch
from app.sla import PolicyFor, policy_lookup
from app.threads.batch import attach_batch

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    NEW = "new"
    DUPLICATE = "duplicate"  # already stored (another folder, an earlier UIDVALIDITY, a replay)
    FAILED = "failed"  # kept as a dead letter


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
    message = new_message(
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
    attach_batch(db, [message], seller_addresses=seller_addresses, policy_for=policy_for)
    (message_id,) = ingest_repository.insert_messages(db, [message])
    return db.get(Message, message_id)


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


Prepared = tuple[FetchedMessage, NewMessage]
Outcomes = list[tuple[Outcome, Classification | None]]


@dataclass(frozen=True)
class _Batch:
    """What a batch's writes share: where its messages were found and how they are threaded."""

    cursor: FolderCursor
    uidvalidity: int
    letters: dict[int, DeadLetter]
    seller_addresses: frozenset[str]
    policy_for: PolicyFor

    def prepare(self, fetched: FetchedMessage, stored_at: datetime) -> Prepared:
        return fetched, new_message(
            mailbox_id=self.cursor.mailbox_id,
            role=self.cursor.role,
            fetched=fetched,
            seller_addresses=self.seller_addresses,
            stored_at=stored_at,
        )

    def location(self, fetched: FetchedMessage) -> dict[str, int]:
        return {"cursor_id": self.cursor.id, "uidvalidity": self.uidvalidity, "uid": fetched.uid}

    def write(self, db: Session, prepared: Sequence[Prepared], known: dict[str, int]) -> Outcomes:
        """Store the messages not stored yet and the location of each, in a few multi-row
        statements; ``known`` (dedupe key -> message id) gains those stored."""
        outcomes: Outcomes = []
        new: dict[str, NewMessage] = {}
        for _, message in prepared:
            if message.dedupe_key in known or message.dedupe_key in new:
                outcomes.append((Outcome.DUPLICATE, None))  # a copy in another folder or UID
            else:
                new[message.dedupe_key] = message
                outcomes.append((Outcome.NEW, message.classification))
        stored = list(new.values())
        attach_batch(db, stored, seller_addresses=self.seller_addresses, policy_for=self.policy_for)
        ids = ingest_repository.insert_messages(db, stored)
        known.update((m.dedupe_key, message_id) for m, message_id in zip(stored, ids, strict=True))
        ingest_repository.insert_locations(
            db,
            [
                {"message_id": known[message.dedupe_key], **self.location(fetched)}
                for fetched, message in prepared
            ],
        )
        for fetched, _ in prepared:
            letter = self.letters.get(fetched.uid)
            if letter is not None:
                letter.resolved_at = now()
        db.flush()
        return outcomes


def store_batch(
    db: Session,
    *,
    cursor: FolderCursor,
    uidvalidity: int,
    fetched: Sequence[FetchedMessage],
    seller_addresses: frozenset[str],
    policy_for: PolicyFor,
) -> Outcomes:
    """Store fetched messages of one folder; one that cannot be stored becomes a dead letter.
    Returns each message's outcome, with the classification of those newly stored.

    The whole batch is written under one savepoint; only if something in it fails is it stored
    again message by message, so the failure is pinned on the one message that caused it."""
    known_uids = ingest_repository.known_uids(
        db, cursor_id=cursor.id, uidvalidity=uidvalidity, uids=[f.uid for f in fetched]
    )
    todo = [f for f in fetched if f.uid not in known_uids]
    outcomes: Outcomes = [(Outcome.DUPLICATE, None) for _ in range(len(fetched) - len(todo))]
    if not todo:
        return outcomes
    batch = _Batch(
        cursor=cursor,
        uidvalidity=uidvalidity,
        letters=ingest_repository.unresolved_dead_letters_by_uid(
            db, cursor_id=cursor.id, uidvalidity=uidvalidity
        ),
        seller_addresses=seller_addresses,
        policy_for=policy_for,
    )
    stored_at = now()
    prepared = [batch.prepare(f, stored_at) for f in todo]
    known = ingest_repository.message_ids_by_key(
        db, mailbox_id=cursor.mailbox_id, dedupe_keys=[m.dedupe_key for _, m in prepared]
    )
    try:
        with db.begin_nested():
            # A copy: the savepoint's rollback takes back what it learnt.
            return outcomes + batch.write(db, prepared, dict(known))
    except Exception as e:  # noqa: BLE001 — find the culprit below; nothing is dropped
        if database_unavailable(e):
            raise  # not this batch's fault: the poll stops, the next one retries it
        log.info("batch of %d failed; storing its messages one by one", len(todo))
    for f in todo:
        try:
            with db.begin_nested():
                outcomes += batch.write(db, [batch.prepare(f, stored_at)], known)
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
                location=batch.location(f),
                fetched=f,
                letters=batch.letters,
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
        row.reason = text(reason) or ""
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
                    error=text(f"{reason}, {row.polls} polls in a row") or "",
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
                error=text(error) or "",
            )
        )
    else:
        letter.attempts += 1
        letter.error = text(error) or ""
    db.flush()


def database_unavailable(error: BaseException) -> bool:
    """The database went away (a restart, a cut connection, a lock not granted): no message is
    at fault, so none becomes a dead letter."""
    return isinstance(error, OperationalError | InterfaceError | PendingRollbackError) or (
        isinstance(error, DBAPIError) and error.connection_invalidated
    )
