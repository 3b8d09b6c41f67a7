"""Threads as people change them: closing, reopening, marking a complaint, recording an answer
given outside the mailbox; each recomputes the thread's clock from its stored messages and
outside answers. (Messages join threads in app.threads.batch.)"""

from collections import Counter
from datetime import datetime

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.clock import as_utc, now
from app.config import Settings
from app.enums import AnswerChannel, ThreadKind
from app.errors import Conflict, HttpError, NotFound
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.models import OutsideAnswer, Thread, User
from app.sla import PolicyFor, policy_lookup, thread_state
from app.threads import batch, outside_repository, repository, summary

MAX_NOTE = 1000  # characters of an outside answer's note


def marketplace_of_thread(db: Session, settings: Settings, thread: Thread) -> str:
    """The marketplace the thread's mailbox sells on."""
    name = mailbox_repository.get_mailbox(db, thread.mailbox_id).name
    return registry.marketplace_of(db, settings, name)


def policy_for_thread(db: Session, settings: Settings, thread: Thread) -> PolicyFor:
    """The policies of the marketplace the thread's mailbox sells on."""
    return policy_lookup(settings.sla, marketplace_of_thread(db, settings, thread))


def recompute(db: Session, thread: Thread, policy_for: PolicyFor) -> None:
    """Recompute the clock from the stored messages (after close, reopen or a kind change)."""
    messages = repository.messages_of(db, thread.id)
    summary.summarize(thread, messages)
    answers = outside_repository.by_thread(db, [thread.id]).get(thread.id, [])
    found = summary.waits(thread, messages, policy_for, answers=answers)
    repository.delete_episodes(db, [thread.id])
    repository.insert_episodes(db, [batch.episode_row(thread, wait) for wait in found])
    deltas: Counter[tuple[int, ThreadKind, str]] = Counter()
    batch.move_tally(thread, deltas)
    repository.bump_tallies(db, deltas)


def get_thread(db: Session, thread_id: int) -> Thread:
    thread = db.get(Thread, thread_id)
    if thread is None:
        raise NotFound(f"no thread with id {thread_id}")
    return thread


def close(db: Session, *, thread: Thread, user: User, reason: str, policy_for: PolicyFor) -> None:
    """A person decides no response is needed; only with a reason, which the audit log keeps."""
    reason = reason.strip()
    if not reason:
        raise HttpError(
            "closing a thread needs a reason (why no response is needed)", status_code=422
        )
    if thread.closed_at is not None:
        raise Conflict(f"thread {thread.id} is already closed")
    thread.closed_at, thread.closed_reason, thread.closed_by_id = now(), reason, user.id
    thread.dismissed_until = thread.closed_at
    recompute(db, thread, policy_for)
    audit.record(db, actor=user, action="thread.close", target=thread, detail={"reason": reason})


def answer_elsewhere(
    db: Session,
    *,
    thread: Thread,
    user: User,
    channel: AnswerChannel,
    answered_at: datetime | None,
    note: str | None,
    policy_for: PolicyFor,
) -> OutsideAnswer:
    """A person answered the customer where the mailbox never sees it (Seller Center's inbox, the
    phone): the thread's wait is answered at ``answered_at`` (default now) as by a seller's reply,
    in time or late by then. The audit log keeps who, where, when and the note."""
    at = now()
    when = answered_at or at  # in UTC once checked (the ends of the calendar overflow otherwise)
    started = thread.clock_started_at
    if thread.closed_at is not None or started is None:
        state = thread_state(
            has_customer_messages=thread.has_customer_messages,
            closed=thread.closed_at is not None,
            due_at=None,
            at_risk_at=None,
            now=at,
        )
        raise Conflict(f"thread {thread.id} is not waiting for an answer (it is {state})")
    if when > at:
        raise HttpError(
            f"answered_at {when.isoformat()} is in the future (now {at:%Y-%m-%d %H:%M:%S} UTC)",
            status_code=422,
        )
    if when < started:
        raise HttpError(
            f"answered_at {when.isoformat()} is before the wait started "
            f"({started:%Y-%m-%d %H:%M:%S} UTC): it cannot answer it",
            status_code=422,
        )
    when = as_utc(when)
    note = (note or "").strip() or None
    if note is not None and len(note) > MAX_NOTE:
        raise HttpError(f"the note is longer than {MAX_NOTE} characters", status_code=422)
    answer = OutsideAnswer(
        thread_id=thread.id, answered_at=when, channel=channel, note=note, user_id=user.id
    )
    outside_repository.add(db, answer)
    recompute(db, thread, policy_for)
    audit.record(
        db,
        actor=user,
        action="thread.answered_elsewhere",
        target=thread,
        detail={"channel": channel.value, "answered_at": when.isoformat(), "note": note},
    )
    return answer


def reopen(db: Session, *, thread: Thread, user: User, policy_for: PolicyFor) -> None:
    if thread.closed_at is None:
        raise Conflict(f"thread {thread.id} is not closed")
    # A person reopening means the dismissed messages do need an answer after all.
    thread.closed_at, thread.closed_reason, thread.closed_by_id = None, None, None
    thread.dismissed_until = None
    recompute(db, thread, policy_for)
    audit.record(db, actor=user, action="thread.reopen", target=thread)


def mark_complaint(db: Session, *, thread: Thread, user: User, policy_for: PolicyFor) -> None:
    """A BBB or Attorney General complaint: Walmart allows 1 hour from its arrival."""
    if thread.kind == ThreadKind.COMPLAINT:
        raise Conflict(f"thread {thread.id} is already a complaint")
    previous = thread.kind
    thread.kind = ThreadKind.COMPLAINT
    recompute(db, thread, policy_for)
    audit.record(
        db,
        actor=user,
        action="thread.mark_complaint",
        target=thread,
        detail={"previous_kind": previous},
    )
