"""Threads as people change them: closing, reopening, marking a complaint; each recomputes the
thread's clock from its stored messages. (Messages join threads in app.threads.batch.)"""

from collections import Counter

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.clock import now
from app.config import Settings
from app.enums import ThreadKind
from app.errors import Conflict, HttpError, NotFound
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.models import Thread, User
from app.sla import PolicyFor, policy_lookup
from app.threads import batch, repository, summary


def policy_for_thread(db: Session, settings: Settings, thread: Thread) -> PolicyFor:
    """The policies of the marketplace the thread's mailbox sells on."""
    name = mailbox_repository.get_mailbox(db, thread.mailbox_id).name
    return policy_lookup(settings.sla, registry.marketplace_of(db, settings, name))


def recompute(db: Session, thread: Thread, policy_for: PolicyFor) -> None:
    """Recompute the clock from the stored messages (after close, reopen or a kind change)."""
    messages = repository.messages_of(db, thread.id)
    summary.summarize(thread, messages)
    found = summary.waits(thread, messages, policy_for(thread.kind))
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
