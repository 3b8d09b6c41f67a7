"""All queries of templates and drafts."""

from datetime import datetime

from sqlalchemy import ColumnElement, func, select, update
from sqlalchemy.orm import Session

from app.clock import now
from app.enums import DraftState
from app.models import Draft, ReplyTemplate, TemplateVersion


def list_templates(db: Session) -> list[tuple[ReplyTemplate, TemplateVersion]]:
    """Active templates with their current (highest) version, by category and name."""
    latest = (
        select(TemplateVersion.template_id, func.max(TemplateVersion.version).label("version"))
        .group_by(TemplateVersion.template_id)
        .subquery()
    )
    rows = db.execute(
        select(ReplyTemplate, TemplateVersion)
        .join(latest, latest.c.template_id == ReplyTemplate.id)
        .join(
            TemplateVersion,
            (TemplateVersion.template_id == ReplyTemplate.id)
            & (TemplateVersion.version == latest.c.version),
        )
        .where(ReplyTemplate.archived_at.is_(None))
        .order_by(ReplyTemplate.category, ReplyTemplate.name)
    )
    return [(template, version) for template, version in rows]


def get_template(db: Session, template_id: int) -> ReplyTemplate | None:
    return db.get(ReplyTemplate, template_id)


def template_by_name(db: Session, name: str) -> ReplyTemplate | None:
    return db.scalar(select(ReplyTemplate).where(ReplyTemplate.name == name))


def current_version(db: Session, template_id: int) -> TemplateVersion | None:
    return db.scalar(
        select(TemplateVersion)
        .where(TemplateVersion.template_id == template_id)
        .order_by(TemplateVersion.version.desc())
        .limit(1)
    )


def count_templates(db: Session) -> int:
    return db.scalar(select(func.count(ReplyTemplate.id))) or 0


def get_draft(db: Session, draft_id: int) -> Draft | None:
    return db.get(Draft, draft_id)


def drafts_of(db: Session, thread_id: int) -> list[Draft]:
    return list(db.scalars(select(Draft).where(Draft.thread_id == thread_id).order_by(Draft.id)))


def claim_for_sending(
    db: Session,
    *,
    draft_id: int,
    from_states: tuple[DraftState, ...],
    sending_started_at: datetime | None = None,
) -> bool:
    """Move a draft to `sending` only if it is still in one of ``from_states``: of two send
    requests racing, exactly one wins (a conditional UPDATE, on SQLite and PostgreSQL alike).
    Taking over an interrupted `sending` also needs its start time unchanged, so two people
    confirming at once still send once."""
    condition: ColumnElement[bool] = Draft.state.in_(from_states)
    if DraftState.SENDING in from_states:
        condition &= Draft.sending_started_at == sending_started_at
    result = db.execute(
        update(Draft)
        .where(Draft.id == draft_id, condition)
        .values(state=DraftState.SENDING, sending_started_at=now(), failure_reason=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
