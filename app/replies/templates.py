"""Reply templates: versioned, validated, seeded with good starting texts on first run."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.audit import service as audit
from app.clock import now
from app.errors import Conflict, HttpError, NotFound
from app.models import ReplyTemplate, TemplateVersion, User
from app.replies import repository
from app.replies.render import template_problems
from app.replies.seeds import SEED_DIRECTORY, load_seed_templates


class InvalidTemplate(HttpError):
    status_code = 422


def _check(body: str) -> None:
    problems = template_problems(body)
    if problems:
        raise InvalidTemplate("template body: " + "; ".join(problems))


def get(db: Session, template_id: int) -> tuple[ReplyTemplate, TemplateVersion]:
    template = repository.get_template(db, template_id)
    version = repository.current_version(db, template_id) if template else None
    if template is None or version is None or template.archived_at is not None:
        raise NotFound(f"no template with id {template_id}")
    return template, version


def create(
    db: Session, *, name: str, category: str, body: str, user: User | None, actor: str | None = None
) -> tuple[ReplyTemplate, TemplateVersion]:
    _check(body)
    if repository.template_by_name(db, name):
        raise Conflict(f"a template named {name!r} exists already")
    template = ReplyTemplate(name=name, category=category)
    db.add(template)
    db.flush()
    version = TemplateVersion(
        template_id=template.id, version=1, body=body, created_by_id=user.id if user else None
    )
    db.add(version)
    db.flush()
    audit.record(db, actor=user or actor or "slawatch", action="template.create", target=template)
    return template, version


def update(
    db: Session,
    *,
    template_id: int,
    user: User,
    name: str | None = None,
    category: str | None = None,
    body: str | None = None,
) -> tuple[ReplyTemplate, TemplateVersion]:
    """A new body becomes a new version; drafts keep the version they were made from."""
    template, version = get(db, template_id)
    if name is not None and name != template.name:
        if repository.template_by_name(db, name):
            raise Conflict(f"a template named {name!r} exists already")
        template.name = name
    if category is not None:
        template.category = category
    if body is not None and body != version.body:
        _check(body)
        version = TemplateVersion(
            template_id=template.id, version=version.version + 1, body=body, created_by_id=user.id
        )
        db.add(version)
    db.flush()
    audit.record(
        db,
        actor=user,
        action="template.update",
        target=template,
        detail={"version": version.version},
    )
    return template, version


def archive(db: Session, *, template_id: int, user: User) -> None:
    template, _ = get(db, template_id)
    template.archived_at = now()
    audit.record(db, actor=user, action="template.archive", target=template)


def seed_on_first_run(db: Session) -> int:
    """Load the starting templates when there are none at all; returns how many were added."""
    if repository.count_templates(db):
        return 0
    seeds = load_seed_templates(SEED_DIRECTORY)
    for seed in seeds:
        create(
            db,
            name=seed.name,
            category=seed.category,
            body=seed.body,
            user=None,
            actor="slawatch (starting templates)",
        )
    return len(seeds)
