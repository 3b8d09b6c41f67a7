"""The thread page's forms: a reply draft written, edited, approved, given a recipient and sent,
the thread closed or answered elsewhere (Seller Center's inbox, the phone). Each goes through the
same service as the API; on a refusal the thread page is shown again with the reason."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from app.config import Settings
from app.deps import ReadSessionDep, SessionDep, SettingsDep
from app.enums import AnswerChannel
from app.errors import HttpError
from app.ids import RowId
from app.models import Draft, WebSession
from app.replies import drafts, sending
from app.threads import service as thread_service
from app.web.auth import ReadWebSessionDep, WebSessionDep, acting_agent
from app.web.rendering import after

router = APIRouter(include_in_schema=False)


@router.post("/threads/{thread_id}/drafts")
def new_draft(
    thread_id: RowId,
    db: SessionDep,
    settings: SettingsDep,
    session: WebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
    template_id: Annotated[RowId | None, Form()] = None,
    body: Annotated[str | None, Form(max_length=drafts.MAX_BODY)] = None,
) -> Response:
    user = acting_agent(session, csrf_token)
    thread = thread_service.get_thread(db, thread_id)
    return after(
        lambda: drafts.create(
            db,
            thread=thread,
            user=user,
            settings=settings,
            template_id=template_id,
            body=None if template_id else body or "",
        ),
        db=db,
        settings=settings,
        session=session,
        thread_id=thread_id,
        anchor="#drafts",
    )


def _on_draft(
    db: Session,
    settings: Settings,
    session: WebSession,
    draft_id: int,
    change: Callable[[Draft], object],
) -> Response:
    """Change the draft, then back to it on its thread's page (or the page with the refusal)."""
    draft = drafts.get(db, draft_id)
    return after(
        lambda: change(draft),
        db=db,
        settings=settings,
        session=session,
        thread_id=draft.thread_id,
        anchor=f"#draft-{draft_id}",
    )


@router.post("/drafts/{draft_id}/edit")
def edit_draft(
    draft_id: RowId,
    db: SessionDep,
    settings: SettingsDep,
    session: WebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
    body: Annotated[str, Form(max_length=drafts.MAX_BODY)],
) -> Response:
    user = acting_agent(session, csrf_token)
    text = body.replace("\r\n", "\n")
    return _on_draft(
        db,
        settings,
        session,
        draft_id,
        lambda draft: drafts.edit(db, draft=draft, user=user, body=text, settings=settings),
    )


@router.post("/drafts/{draft_id}/approve")
def approve_draft(
    draft_id: RowId,
    db: SessionDep,
    settings: SettingsDep,
    session: WebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
    body_sha256: Annotated[str, Form(max_length=64)],
    envelope_sha256: Annotated[str, Form(max_length=64)],
    override_lint: Annotated[bool, Form()] = False,
) -> Response:
    """Approve the text and envelope the page showed (their hashes come with the form)."""
    user = acting_agent(session, csrf_token)
    return _on_draft(
        db,
        settings,
        session,
        draft_id,
        lambda draft: drafts.approve(
            db,
            draft=draft,
            user=user,
            settings=settings,
            override_lint=override_lint,
            body_sha256=body_sha256,
            shown_envelope_sha256=envelope_sha256,
        ),
    )


@router.post("/drafts/{draft_id}/recipient")
def choose_recipient(
    draft_id: RowId,
    db: SessionDep,
    settings: SettingsDep,
    session: WebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
    to_address: Annotated[str, Form(max_length=320)],
) -> Response:
    user = acting_agent(session, csrf_token)
    return _on_draft(
        db,
        settings,
        session,
        draft_id,
        lambda draft: drafts.choose_recipient(
            db, draft=draft, user=user, settings=settings, to_address=to_address
        ),
    )


@router.post("/drafts/{draft_id}/send")
def send_draft(
    draft_id: RowId,
    request: Request,
    db: ReadSessionDep,
    settings: SettingsDep,
    session: ReadWebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
    confirm_resend: Annotated[bool, Form()] = False,
) -> Response:
    # Sending commits in phases around the SMTP call, so it manages its own sessions: this route
    # only reads (the browser's session, the draft's thread), and ends its read before sending.
    user_id = acting_agent(session, csrf_token).id
    thread_id = drafts.get(db, draft_id).thread_id
    db.rollback()
    return after(
        lambda: sending.send(
            request.app.state.session_factory,
            draft_id=draft_id,
            user_id=user_id,
            settings=settings,
            logins=request.app.state.logins,
            confirm_resend=confirm_resend,
        ),
        db=db,
        settings=settings,
        session=session,
        thread_id=thread_id,
        anchor=f"#draft-{draft_id}",
    )


@router.post("/threads/{thread_id}/close")
def close_thread(
    thread_id: RowId,
    db: SessionDep,
    settings: SettingsDep,
    session: WebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    user = acting_agent(session, csrf_token)
    thread = thread_service.get_thread(db, thread_id)
    policy_for = thread_service.policy_for_thread(db, settings, thread)
    return after(
        lambda: thread_service.close(
            db, thread=thread, user=user, reason=reason, policy_for=policy_for
        ),
        db=db,
        settings=settings,
        session=session,
        thread_id=thread_id,
    )


@router.post("/threads/{thread_id}/answered-elsewhere")
def answered_elsewhere(
    thread_id: RowId,
    db: SessionDep,
    settings: SettingsDep,
    session: WebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
    channel: Annotated[AnswerChannel, Form()],
    answered_at: Annotated[str, Form(max_length=40)] = "",
    note: Annotated[str, Form(max_length=thread_service.MAX_NOTE)] = "",
) -> Response:
    """The page's time is UTC (the page says so); empty means now."""
    user = acting_agent(session, csrf_token)
    thread = thread_service.get_thread(db, thread_id)
    policy_for = thread_service.policy_for_thread(db, settings, thread)
    return after(
        lambda: thread_service.answer_elsewhere(
            db,
            thread=thread,
            user=user,
            channel=channel,
            answered_at=_utc_time(answered_at),  # a refusal shows on the page too
            note=note,
            policy_for=policy_for,
        ),
        db=db,
        settings=settings,
        session=session,
        thread_id=thread_id,
    )


def _utc_time(text: str) -> datetime | None:
    """The form's date and time (``2026-12-01T14:30``, UTC unless it names a zone), or None."""
    if not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise HttpError(
            f"{text!r} is not a date and time; use 2026-12-01T14:30 (UTC)", status_code=422
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
