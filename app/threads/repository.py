"""All queries that find threads and the messages they hold."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import case, delete, or_, select
from sqlalchemy.orm import Session

from app.models import Message, ResponseEpisode, Thread


def thread_of_message_ids(
    db: Session, *, mailbox_id: int, message_ids: Sequence[str]
) -> int | None:
    """The thread of the newest stored message among ``message_ids`` (In-Reply-To, References)."""
    if not message_ids:
        return None
    return db.scalar(
        select(Message.thread_id)
        .where(
            Message.mailbox_id == mailbox_id,
            Message.message_id_header.in_(message_ids),
            Message.thread_id.is_not(None),
        )
        .order_by(Message.received_at.desc())
        .limit(1)
    )


def thread_by_order(
    db: Session, *, mailbox_id: int, order_number: str, counterpart: str | None, since: datetime
) -> Thread | None:
    """A thread about the same order: the same counterpart's first, else any recent one (Walmart's
    relay address can change between a buyer's messages)."""
    same_counterpart = Thread.counterpart == counterpart
    return db.scalar(
        select(Thread)
        .where(
            Thread.mailbox_id == mailbox_id,
            Thread.order_number == order_number,
            or_(same_counterpart, Thread.last_message_at >= since),
        )
        .order_by(case((same_counterpart, 0), else_=1), Thread.last_message_at.desc())
        .limit(1)
    )


def thread_by_subject(
    db: Session, *, mailbox_id: int, counterpart: str, normalized_subject: str, since: datetime
) -> Thread | None:
    return db.scalar(
        select(Thread)
        .where(
            Thread.mailbox_id == mailbox_id,
            Thread.counterpart == counterpart,
            Thread.normalized_subject == normalized_subject,
            Thread.last_message_at >= since,
        )
        .order_by(Thread.last_message_at.desc())
        .limit(1)
    )


def messages_of(db: Session, thread_id: int) -> list[Message]:
    return list(
        db.scalars(
            select(Message).where(Message.thread_id == thread_id).order_by(Message.received_at)
        )
    )


def delete_episodes(db: Session, thread_id: int) -> None:
    db.execute(delete(ResponseEpisode).where(ResponseEpisode.thread_id == thread_id))
