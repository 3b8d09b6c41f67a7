"""The queries of answers given outside the mailbox (Seller Center's inbox, the phone)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import OutsideAnswer, User


def add(db: Session, answer: OutsideAnswer) -> None:
    db.add(answer)
    db.flush()


def by_thread(db: Session, thread_ids: Collection[int]) -> dict[int, list[OutsideAnswer]]:
    """The answers given outside the mailbox to each of the threads, oldest first."""
    if not thread_ids:
        return {}
    found: dict[int, list[OutsideAnswer]] = {}
    for answer in db.scalars(
        select(OutsideAnswer)
        .where(OutsideAnswer.thread_id.in_(thread_ids))
        .order_by(OutsideAnswer.answered_at, OutsideAnswer.id)
    ):
        found.setdefault(answer.thread_id, []).append(answer)
    return found


def of_thread(db: Session, thread_id: int) -> list[tuple[OutsideAnswer, str | None]]:
    """The thread's answers given outside the mailbox, oldest first, with who recorded each."""
    rows = db.execute(
        select(OutsideAnswer, User.name)
        .outerjoin(User, User.id == OutsideAnswer.user_id)
        .where(OutsideAnswer.thread_id == thread_id)
        .order_by(OutsideAnswer.answered_at, OutsideAnswer.id)
    )
    return [(answer, name) for answer, name in rows]
