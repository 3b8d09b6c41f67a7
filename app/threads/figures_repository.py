"""The response figures' queries: the waits they are computed from, and the rows they are kept
in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.db import dialect_insert
from app.models import ResponseEpisode, ResponseFigures

FIGURE_COLUMNS = ("computed_at", "decided", "in_time", "median_seconds", "p90_seconds")


def episodes_since(
    db: Session, *, mailbox_id: int, since: datetime
) -> list[tuple[datetime, datetime | None, datetime, float | None]]:
    """(started_at, answered_at, due_at, response_seconds) of a mailbox's waits since ``since``,
    read from the covering index alone."""
    rows = db.execute(
        select(
            ResponseEpisode.started_at,
            ResponseEpisode.answered_at,
            ResponseEpisode.due_at,
            ResponseEpisode.response_seconds,
        ).where(ResponseEpisode.mailbox_id == mailbox_id, ResponseEpisode.started_at >= since)
    )
    return [tuple(row) for row in rows]  # type: ignore[misc]


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
