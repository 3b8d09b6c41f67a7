"""The response figures' queries: every scope's and window's figures computed by the database in
one statement, and the rows they are kept in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import String, and_, case, cast, delete, func, literal, or_, select, union_all
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.models import Mailbox, ResponseEpisode, ResponseFigures

FIGURE_COLUMNS = ("computed_at", "decided", "in_time", "median_seconds", "p90_seconds")


def window_figures(
    db: Session,
    *,
    since_by_days: Mapping[int, datetime],
    now: datetime,
    bucket_bounds: Sequence[float],
) -> list[dict[str, Any]]:
    """Per scope (``mailbox:<id>``, ``client:<name>``, ``all``) and window (days): the waits started
    since the window's start that are decided (answered, or past their deadline), answered in
    time, the nearest-rank median and 90th percentile of their first-response seconds, and how
    many fall in each bucket of ``bucket_bounds`` (upper bounds in seconds, the last open-ended),
    plus unanswered ones past their deadline, under ``"buckets"``. Scopes with no wait in a window
    have no row."""
    episode, mailbox = ResponseEpisode.__table__, Mailbox.__table__
    waits = union_all(
        *(
            select(
                episode.c.mailbox_id,
                mailbox.c.client,
                literal(days).label("days"),
                episode.c.answered_at,
                episode.c.due_at,
                episode.c.response_seconds,
            )
            .join_from(episode, mailbox, episode.c.mailbox_id == mailbox.c.id)
            .where(episode.c.started_at >= since)
            for days, since in since_by_days.items()
        )
    ).subquery("waits")
    facts = (waits.c.days, waits.c.answered_at, waits.c.due_at, waits.c.response_seconds)
    scoped = union_all(
        select(("mailbox:" + cast(waits.c.mailbox_id, String)).label("scope"), *facts),
        select(("client:" + waits.c.client).label("scope"), *facts).where(
            waits.c.client.is_not(None)
        ),
        select(literal("all").label("scope"), *facts),
    ).subquery("scoped")
    seconds = scoped.c.response_seconds
    # Answered waits ranked by response time within their scope and window, for the quantiles.
    group = (scoped.c.scope, scoped.c.days, seconds.is_(None))
    ranked = select(
        scoped,
        func.row_number().over(partition_by=group, order_by=seconds).label("rank"),
        func.count().over(partition_by=group).label("n"),
    ).subquery("ranked")
    answered = ranked.c.answered_at.is_not(None)
    rank, n, seconds = ranked.c.rank, ranked.c.n, ranked.c.response_seconds
    lower = [0.0, *bucket_bounds[:-1]]
    buckets = [
        and_(seconds >= low, seconds < high) if i < len(bucket_bounds) - 1 else seconds >= low
        for i, (low, high) in enumerate(zip(lower, bucket_bounds, strict=True))
    ]
    buckets.append(and_(seconds.is_(None), ranked.c.due_at <= now))

    def count(condition: Any) -> Any:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    def nearest_rank(numerator: int, denominator: int) -> Any:
        # ceil(q * n) in integers, the same on both backends
        wanted = (n * numerator + denominator - 1) // denominator
        return func.max(case((and_(seconds.is_not(None), rank == wanted), seconds)))

    statement = select(
        ranked.c.scope,
        ranked.c.days,
        count(or_(answered, ranked.c.due_at <= now)).label("decided"),
        count(and_(answered, ranked.c.answered_at <= ranked.c.due_at)).label("in_time"),
        nearest_rank(1, 2).label("median_seconds"),
        nearest_rank(9, 10).label("p90_seconds"),
        *(count(condition).label(f"bucket_{i}") for i, condition in enumerate(buckets)),
    ).group_by(ranked.c.scope, ranked.c.days)
    return [
        {
            "scope": row.scope,
            "days": row.days,
            "decided": int(row.decided),
            "in_time": int(row.in_time),
            "median_seconds": row.median_seconds,
            "p90_seconds": row.p90_seconds,
            "distribution": [int(row[f"bucket_{i}"]) for i in range(len(buckets))],
        }
        for row in db.execute(statement).mappings()
    ]


def all_figures(db: Session) -> list[ResponseFigures]:
    return list(db.scalars(select(ResponseFigures).execution_options(populate_existing=True)))


def save_figures(db: Session, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert or replace windows' figures in one statement (two processes may refresh at once)."""
    if not rows:
        return
    statement = dialect_insert(db)(ResponseFigures)
    db.execute(
        statement.on_conflict_do_update(
            index_elements=["scope", "days"],
            set_={name: statement.excluded[name] for name in (*FIGURE_COLUMNS, "distribution")},
        ),
        rows,
    )


def delete_figures_except(db: Session, scopes: set[str]) -> None:
    """Drop the figures of mailboxes and clients that are gone."""
    db.execute(delete(ResponseFigures).where(ResponseFigures.scope.not_in(scopes)))
