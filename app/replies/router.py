from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field, StringConstraints

from app.deps import AdminUser, AgentUser, SessionDep, SettingsDep
from app.enums import DraftState
from app.ids import RowId
from app.models import Draft, ReplyTemplate, TemplateVersion
from app.replies import drafts, repository, templates
from app.replies.render import CONTEXT_VARIABLES
from app.threads import service as threads

router = APIRouter(prefix="/api/v1", tags=["replies"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Category = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
TemplateBody = Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class TemplateIn(BaseModel):
    name: Name
    category: Category
    body: TemplateBody


class TemplatePatch(BaseModel):
    name: Name | None = None
    category: Category | None = None
    body: TemplateBody | None = None


class TemplateOut(BaseModel):
    id: int
    name: str
    category: str
    version: int
    body: str
    variables: list[str] = Field(description="what a body may use, e.g. {{ customer_name }}")


class FindingOut(BaseModel):
    code: str
    severity: str
    message: str
    excerpt: str | None


class DraftIn(BaseModel):
    template_id: RowId | None = None
    body: Annotated[str, StringConstraints(max_length=drafts.MAX_BODY)] | None = None


class DraftPatch(BaseModel):
    body: Annotated[str, StringConstraints(max_length=drafts.MAX_BODY)]


class ApproveIn(BaseModel):
    override_lint: bool = Field(
        default=False, description="approve despite lint errors; recorded with the approval"
    )


class DraftOut(BaseModel):
    id: int
    thread_id: int
    state: DraftState
    body: str
    lint: list[FindingOut]
    template_version_id: int | None
    approved_at: datetime | None
    lint_overridden: bool
    message_id: str | None
    sent_at: datetime | None
    failure_reason: str | None
    sent_copy_error: str | None


def _template_out(template: ReplyTemplate, version: TemplateVersion) -> TemplateOut:
    return TemplateOut(
        id=template.id,
        name=template.name,
        category=template.category,
        version=version.version,
        body=version.body,
        variables=list(CONTEXT_VARIABLES),
    )


def _draft_out(draft: Draft, settings: SettingsDep) -> DraftOut:
    return DraftOut(
        id=draft.id,
        thread_id=draft.thread_id,
        state=draft.state,
        body=draft.body,
        lint=[FindingOut(**vars(f)) for f in drafts.findings(draft, settings)],
        template_version_id=draft.template_version_id,
        approved_at=draft.approved_at,
        lint_overridden=draft.lint_overridden,
        message_id=draft.outgoing_message_id,
        sent_at=draft.sent_at,
        failure_reason=draft.failure_reason,
        sent_copy_error=draft.sent_copy_error,
    )


@router.get("/templates")
def list_templates(db: SessionDep, _: AgentUser) -> list[TemplateOut]:
    return [_template_out(t, v) for t, v in repository.list_templates(db)]


@router.get("/templates/{template_id}")
def get_template(template_id: RowId, db: SessionDep, _: AgentUser) -> TemplateOut:
    return _template_out(*templates.get(db, template_id))


@router.post("/templates", status_code=201)
def create_template(body: TemplateIn, db: SessionDep, user: AdminUser) -> TemplateOut:
    """A Jinja2 body rendered in a sandbox with the thread's context (see `variables`)."""
    return _template_out(
        *templates.create(db, name=body.name, category=body.category, body=body.body, user=user)
    )


@router.patch("/templates/{template_id}")
def update_template(
    template_id: RowId, body: TemplatePatch, db: SessionDep, user: AdminUser
) -> TemplateOut:
    """A new body is a new version; drafts keep the version they started from."""
    return _template_out(
        *templates.update(
            db,
            template_id=template_id,
            user=user,
            name=body.name,
            category=body.category,
            body=body.body,
        )
    )


@router.delete("/templates/{template_id}", status_code=204)
def archive_template(template_id: RowId, db: SessionDep, user: AdminUser) -> None:
    templates.archive(db, template_id=template_id, user=user)


@router.post("/threads/{thread_id}/drafts", status_code=201)
def create_draft(
    thread_id: RowId, body: DraftIn, db: SessionDep, settings: SettingsDep, user: AgentUser
) -> DraftOut:
    """Start a reply from a template (`template_id`) or from free text (`body`)."""
    thread = threads.get_thread(db, thread_id)
    draft = drafts.create(
        db,
        thread=thread,
        user=user,
        settings=settings,
        template_id=body.template_id,
        body=body.body,
    )
    return _draft_out(draft, settings)


@router.get("/threads/{thread_id}/drafts")
def list_drafts(
    thread_id: RowId, db: SessionDep, settings: SettingsDep, _: AgentUser
) -> list[DraftOut]:
    threads.get_thread(db, thread_id)
    return [_draft_out(d, settings) for d in repository.drafts_of(db, thread_id)]


@router.get("/drafts/{draft_id}")
def get_draft(draft_id: RowId, db: SessionDep, settings: SettingsDep, _: AgentUser) -> DraftOut:
    return _draft_out(drafts.get(db, draft_id), settings)


@router.patch("/drafts/{draft_id}")
def edit_draft(
    draft_id: RowId, body: DraftPatch, db: SessionDep, settings: SettingsDep, user: AgentUser
) -> DraftOut:
    """Edit the text; an approved draft goes back to needing approval."""
    draft = drafts.edit(db, draft=drafts.get(db, draft_id), user=user, body=body.body)
    return _draft_out(draft, settings)


@router.post("/drafts/{draft_id}/approve")
def approve_draft(
    draft_id: RowId, body: ApproveIn, db: SessionDep, settings: SettingsDep, user: AgentUser
) -> DraftOut:
    """Approve this exact text (its SHA-256 is recorded with the approver and the time)."""
    draft = drafts.approve(
        db,
        draft=drafts.get(db, draft_id),
        user=user,
        settings=settings,
        override_lint=body.override_lint,
    )
    return _draft_out(draft, settings)


@router.post("/drafts/{draft_id}/send")
def send_draft(
    draft_id: RowId, request: Request, settings: SettingsDep, user: AgentUser
) -> DraftOut:
    """Send an approved draft to the customer, once: repeating the call sends nothing more. A
    refused send leaves the draft `failed` with the reason (502); sending it again retries."""
    # Sending commits in phases around the SMTP call, so it manages its own sessions.
    session_factory = request.app.state.session_factory
    drafts.send(
        session_factory,
        draft_id=draft_id,
        user_id=user.id,
        settings=settings,
        logins=request.app.state.logins,
    )
    with session_factory() as db:
        return _draft_out(drafts.get(db, draft_id), settings)
