from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy.orm import Session

from app.config import Settings
from app.deps import AdminUser, AgentUser, SessionDep, SettingsDep, require_role
from app.enums import DraftState
from app.http_errors import errors
from app.ids import RowId
from app.models import Draft, ReplyTemplate, TemplateVersion, User
from app.replies import drafts, repository, sending, templates
from app.replies.render import CONTEXT_VARIABLES
from app.threads import service as thread_service

router = APIRouter(prefix="/api/v1", tags=["replies"])

# The one rule for drafts (app.replies.drafts.DRAFT_ROLE), the same on the pages.
DraftUser = Annotated[User, Depends(require_role(drafts.DRAFT_ROLE))]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$")]
Address = Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=320)]

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
    to_address: Address | None = Field(
        default=None,
        description="another participant of the thread to reply to (default: the buyer)",
    )


class DraftPatch(BaseModel):
    body: Annotated[str, StringConstraints(max_length=drafts.MAX_BODY)]


class RecipientIn(BaseModel):
    to_address: Address = Field(description="a participant of the thread (see participants)")


class ApproveIn(BaseModel):
    body_sha256: Sha256 = Field(
        description="the draft's `body_sha256` as you saw it: a text changed since is refused"
    )
    envelope_sha256: Sha256 | None = Field(
        default=None,
        description="the draft's `envelope_sha256` as you saw it (recipient and headers)",
    )
    override_lint: bool = Field(
        default=False, description="approve despite lint errors; recorded with the approval"
    )


class SendIn(BaseModel):
    confirm_resend: bool = Field(
        default=False,
        description="send again although an earlier send's outcome is unknown (audited)",
    )


class ParticipantOut(BaseModel):
    address: str
    name: str | None
    role: str = Field(description="buyer, customer, escalation, reply_to or recipient")
    default: bool = Field(description="the recipient a new draft gets")


class DraftOut(BaseModel):
    id: int
    thread_id: int
    state: DraftState
    to: str | None = Field(description="the recipient as shown: Name <address>")
    to_address: str | None
    recipient_is_default: bool = Field(description="false when a person picked the recipient")
    from_address: str | None
    subject: str | None
    in_reply_to: str | None
    references: list[str]
    body: str
    body_sha256: str = Field(description="SHA-256 of `body`: approving needs it")
    envelope_sha256: str | None
    lint: list[FindingOut]
    template_version_id: int | None
    approved_at: datetime | None
    approved_sha256: str | None = Field(description="SHA-256 over the envelope and the body")
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


def _draft_out(db: Session, draft: Draft, settings: Settings) -> DraftOut:
    envelope = drafts.envelope_of(draft)
    return DraftOut(
        id=draft.id,
        thread_id=draft.thread_id,
        state=draft.state,
        to=envelope.to if envelope else None,
        to_address=draft.to_address,
        recipient_is_default=draft.recipient_chosen_by_id is None,
        from_address=draft.from_address,
        subject=draft.subject,
        in_reply_to=draft.in_reply_to,
        references=list(draft.references or ()),
        body=draft.body,
        body_sha256=drafts.body_hash(draft.body),
        envelope_sha256=drafts.shown_envelope_sha256(draft),
        lint=[FindingOut(**vars(f)) for f in drafts.findings(db, draft, settings)],
        template_version_id=draft.template_version_id,
        approved_at=draft.approved_at,
        approved_sha256=draft.approved_sha256,
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


@router.post("/templates", status_code=201, responses=errors(409))
def create_template(body: TemplateIn, db: SessionDep, user: AdminUser) -> TemplateOut:
    """A Jinja2 body rendered in a sandbox with the thread's context (see `variables`)."""
    return _template_out(
        *templates.create(db, name=body.name, category=body.category, body=body.body, user=user)
    )


@router.patch("/templates/{template_id}", responses=errors(409))
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


@router.get("/threads/{thread_id}/participants")
def list_participants(
    thread_id: RowId, db: SessionDep, settings: SettingsDep, _: DraftUser
) -> list[ParticipantOut]:
    """Who a reply on this thread could go to, the buyer first."""
    found, default = drafts.thread_participants(
        db, thread=thread_service.get_thread(db, thread_id), settings=settings
    )
    return [
        ParticipantOut(
            address=p.address, name=p.name, role=p.role, default=p.address.lower() == default
        )
        for p in found
    ]


@router.post("/threads/{thread_id}/drafts", status_code=201, responses=errors(409))
def create_draft(
    thread_id: RowId, body: DraftIn, db: SessionDep, settings: SettingsDep, user: DraftUser
) -> DraftOut:
    """Start a reply from a template (`template_id`) or from free text (`body`). Its envelope is
    fixed now: to the thread's buyer, or to `to_address` (another participant; recorded)."""
    thread = thread_service.get_thread(db, thread_id)
    draft = drafts.create(
        db,
        thread=thread,
        user=user,
        settings=settings,
        template_id=body.template_id,
        body=body.body,
        to_address=body.to_address,
    )
    return _draft_out(db, draft, settings)


@router.get("/threads/{thread_id}/drafts")
def list_drafts(
    thread_id: RowId, db: SessionDep, settings: SettingsDep, _: DraftUser
) -> list[DraftOut]:
    thread_service.get_thread(db, thread_id)
    return [_draft_out(db, d, settings) for d in repository.drafts_of(db, thread_id)]


@router.get("/drafts/{draft_id}")
def get_draft(draft_id: RowId, db: SessionDep, settings: SettingsDep, _: DraftUser) -> DraftOut:
    return _draft_out(db, drafts.get(db, draft_id), settings)


@router.patch("/drafts/{draft_id}", responses=errors(409))
def edit_draft(
    draft_id: RowId, body: DraftPatch, db: SessionDep, settings: SettingsDep, user: DraftUser
) -> DraftOut:
    """Edit the text; an approved draft goes back to needing approval."""
    draft = drafts.edit(
        db, draft=drafts.get(db, draft_id), user=user, body=body.body, settings=settings
    )
    return _draft_out(db, draft, settings)


@router.post("/drafts/{draft_id}/recipient", responses=errors(409))
def choose_recipient(
    draft_id: RowId, body: RecipientIn, db: SessionDep, settings: SettingsDep, user: DraftUser
) -> DraftOut:
    """Reply to another participant of the thread (recorded); the draft needs approving again."""
    draft = drafts.choose_recipient(
        db, draft=drafts.get(db, draft_id), user=user, settings=settings, to_address=body.to_address
    )
    return _draft_out(db, draft, settings)


@router.post("/drafts/{draft_id}/approve", responses=errors(409))
def approve_draft(
    draft_id: RowId, body: ApproveIn, db: SessionDep, settings: SettingsDep, user: DraftUser
) -> DraftOut:
    """Approve the text you saw (`body_sha256`) for the envelope the draft shows; the SHA-256
    over both is recorded with the approver and the time. A text changed meanwhile is a 409."""
    draft = drafts.approve(
        db,
        draft=drafts.get(db, draft_id),
        user=user,
        settings=settings,
        override_lint=body.override_lint,
        body_sha256=body.body_sha256,
        shown_envelope_sha256=body.envelope_sha256,
    )
    return _draft_out(db, draft, settings)


@router.post("/drafts/{draft_id}/send", responses=errors(409, 502))
def send_draft(
    draft_id: RowId,
    request: Request,
    settings: SettingsDep,
    user: DraftUser,
    body: SendIn | None = None,
) -> DraftOut:
    """Send an approved draft to the recipient it shows, once: repeating the call sends nothing
    more. A refusal leaves the draft `failed` (502; sending again retries). A connection lost
    after the message was handed over leaves it `unknown` (502): the server may have accepted
    it, and sending again needs `{"confirm_resend": true}`."""
    # Sending commits in phases around the SMTP call, so it manages its own sessions.
    session_factory = request.app.state.session_factory
    sending.send(
        session_factory,
        draft_id=draft_id,
        user_id=user.id,
        settings=settings,
        logins=request.app.state.logins,
        confirm_resend=body.confirm_resend if body else False,
    )
    with session_factory() as db:
        return _draft_out(db, drafts.get(db, draft_id), settings)
