"""The agent's pages: sign in, the queue of waiting customers, a thread, and its reply drafts.

Server-rendered with autoescaping on: message text is shown as text, never as HTML. Every form
carries the session's CSRF token; every action goes through the same services as the API.
"""

from __future__ import annotations

import math
import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.orm import Session

from app.clock import duration_text, now
from app.deps import SessionDep, SettingsDep
from app.enums import Role
from app.errors import HttpError, LoginRequired
from app.ids import RowId
from app.ingest import repository as mailboxes
from app.mail.parse import trim_quoted_history
from app.models import Draft, User, WebSession
from app.paths import TEMPLATES_DIR
from app.replies import drafts, sending
from app.replies import repository as replies
from app.sla import WAITING_STATES
from app.threads import queries, service
from app.threads import repository as threads
from app.threads.repository import ThreadFilter
from app.web import sessions

router = APIRouter(include_in_schema=False)

pages = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR / "web"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
QUEUE_SIZE = 100


pages.filters["duration"] = duration_text


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(pages.get_template(name).render(**context), status_code=status_code)


def web_session(request: Request, db: SessionDep) -> WebSession:
    session = sessions.session_for(db, request.cookies.get(sessions.COOKIE))
    if session is None:
        raise LoginRequired
    return session


WebSessionDep = Annotated[WebSession, Depends(web_session)]


def _acting_agent(session: WebSession, csrf_token: str) -> User:
    """The user behind a form post: the CSRF token must match and the role must be agent."""
    if not sessions.csrf_ok(session.csrf_token, csrf_token):
        raise HttpError("the form expired or came from elsewhere; reload the page", status_code=403)
    if not session.user.role.allows(Role.AGENT):
        raise HttpError(f"this needs the agent role; you are {session.user.role}", status_code=403)
    return session.user


@router.get("/login")
def login_page(request: Request) -> Response:
    token = secrets.token_urlsafe(32)
    response = render("login.html", csrf_token=token, error=None)
    _set_cookie(response, request, sessions.LOGIN_CSRF_COOKIE, token, max_age=3600)
    return response


@router.post("/login")
def login(
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    username: Annotated[str, Form(max_length=100)],
    password: Annotated[str, Form(max_length=1000)],
    csrf_token: Annotated[str, Form(max_length=100)],
) -> Response:
    if not sessions.csrf_ok(request.cookies.get(sessions.LOGIN_CSRF_COOKIE), csrf_token):
        return render(
            "login.html",
            403,
            csrf_token=csrf_token,
            error="The sign-in form expired; please try again.",
        )
    address = request.client.host if request.client else None
    outcome = sessions.sign_in(
        db, name=username, password=password, address=address, auth=settings.auth
    )
    if outcome.retry_at is not None:
        wait = max(1, math.ceil((outcome.retry_at - now()).total_seconds()))
        locked = render(
            "login.html",
            429,
            csrf_token=csrf_token,
            error=(
                "Too many failed sign-ins. Try again after "
                f"{outcome.retry_at:%Y-%m-%d %H:%M:%S} UTC "
                f"(in {math.ceil(wait / 60)} min)."
            ),
        )
        locked.headers["Retry-After"] = str(wait)
        return locked
    if outcome.cookie is None:
        return render(
            "login.html", 401, csrf_token=csrf_token, error="Wrong user name or password."
        )
    response = RedirectResponse("/", status_code=303)
    _set_cookie(
        response,
        request,
        sessions.COOKIE,
        outcome.cookie,
        max_age=int(sessions.LIFETIME.total_seconds()),
    )
    response.delete_cookie(sessions.LOGIN_CSRF_COOKIE)
    return response


@router.post("/logout")
def logout(
    request: Request,
    db: SessionDep,
    session: WebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
) -> Response:
    if sessions.csrf_ok(session.csrf_token, csrf_token):
        sessions.sign_out(db, request.cookies.get(sessions.COOKIE))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(sessions.COOKIE)
    return response


def _set_cookie(response: Response, request: Request, name: str, value: str, max_age: int) -> None:
    # Secure when the site is https: behind a TLS proxy uvicorn sees http unless the proxy is
    # trusted ([server] forwarded_allow_ips), yet the browser is on https (base_url says so).
    base_url: str = request.app.state.settings.base_url
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or base_url.lower().startswith("https://"),
    )


@router.get("/")
def queue(db: SessionDep, session: WebSessionDep) -> Response:
    """The waiting customers, overdue first, with the time left."""
    at = now()
    page = queries.page_of_threads(
        db, ThreadFilter(states=frozenset(WAITING_STATES)), limit=QUEUE_SIZE, cursor=None, now=at
    )
    names = {m.id: m.name for m in mailboxes.list_mailboxes(db)}
    rows = [
        {
            "thread": t,
            "state": queries.state_of(t, at),
            "mailbox": names[t.mailbox_id],
            "left": (t.due_at - at).total_seconds() if t.due_at else None,
        }
        for t in page.threads
    ]
    return render(
        "queue.html",
        user=session.user,
        csrf_token=session.csrf_token,
        rows=rows,
        more=page.next_cursor is not None,
    )


def _thread_page(
    db: Session,
    settings: SettingsDep,
    session: WebSession,
    thread_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    thread = service.get_thread(db, thread_id)
    at = now()
    messages = [
        {"message": m, "text": trim_quoted_history(m.body_text)}
        for m in threads.messages_of(db, thread.id)
    ]
    # Viewers see no drafts, as on the API (one rule: app.replies.drafts.DRAFT_ROLE).
    see_drafts = drafts.can_see_drafts(session.user)
    draft_rows = (
        [_draft_row(d, settings) for d in replies.drafts_of(db, thread.id)] if see_drafts else []
    )
    participants, default_recipient = (
        drafts.thread_participants(db, thread=thread, settings=settings)
        if see_drafts
        else ([], None)
    )
    return render(
        "thread.html",
        status_code,
        user=session.user,
        csrf_token=session.csrf_token,
        thread=thread,
        state=queries.state_of(thread, at),
        left=(thread.due_at - at).total_seconds() if thread.due_at else None,
        messages=messages,
        drafts=draft_rows,
        participants=participants,
        default_recipient=default_recipient,
        templates=replies.list_templates(db) if see_drafts else [],
        error=error,
        can_act=see_drafts and session.user.role.allows(Role.AGENT),
    )


def _draft_row(draft: Draft, settings: SettingsDep) -> dict[str, Any]:
    lint = drafts.findings(draft, settings)
    return {
        "draft": draft,
        "envelope": drafts.envelope_of(draft),
        "body_sha256": drafts.body_hash(draft.body),
        "envelope_sha256": drafts.shown_envelope_sha256(draft),
        "lint": lint,
        "errors": [f for f in lint if f.severity == "error"],
    }


@router.get("/threads/{thread_id}")
def thread_page(
    thread_id: RowId, db: SessionDep, settings: SettingsDep, session: WebSessionDep
) -> Response:
    return _thread_page(db, settings, session, thread_id)


def _after(
    action: Any,
    *,
    db: Session,
    settings: SettingsDep,
    session: WebSession,
    thread_id: int,
    anchor: str = "",
) -> Response:
    """Run a form action; on success go back to the thread, on a refusal show why."""
    try:
        action()
    except HttpError as e:
        db.rollback()
        return _thread_page(
            db, settings, session, thread_id, error=e.message, status_code=e.status_code
        )
    return RedirectResponse(f"/threads/{thread_id}{anchor}", status_code=303)


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
    user = _acting_agent(session, csrf_token)
    thread = service.get_thread(db, thread_id)
    return _after(
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


@router.post("/drafts/{draft_id}/edit")
def edit_draft(
    draft_id: RowId,
    db: SessionDep,
    settings: SettingsDep,
    session: WebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
    body: Annotated[str, Form(max_length=drafts.MAX_BODY)],
) -> Response:
    user = _acting_agent(session, csrf_token)
    draft = drafts.get(db, draft_id)
    return _after(
        lambda: drafts.edit(
            db, draft=draft, user=user, body=body.replace("\r\n", "\n"), settings=settings
        ),
        db=db,
        settings=settings,
        session=session,
        thread_id=draft.thread_id,
        anchor=f"#draft-{draft_id}",
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
    user = _acting_agent(session, csrf_token)
    draft = drafts.get(db, draft_id)
    return _after(
        lambda: drafts.approve(
            db,
            draft=draft,
            user=user,
            settings=settings,
            override_lint=override_lint,
            body_sha256=body_sha256,
            shown_envelope_sha256=envelope_sha256,
        ),
        db=db,
        settings=settings,
        session=session,
        thread_id=draft.thread_id,
        anchor=f"#draft-{draft_id}",
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
    user = _acting_agent(session, csrf_token)
    draft = drafts.get(db, draft_id)
    return _after(
        lambda: drafts.choose_recipient(
            db, draft=draft, user=user, settings=settings, to_address=to_address
        ),
        db=db,
        settings=settings,
        session=session,
        thread_id=draft.thread_id,
        anchor=f"#draft-{draft_id}",
    )


@router.post("/drafts/{draft_id}/send")
def send_draft(
    draft_id: RowId,
    request: Request,
    db: SessionDep,
    settings: SettingsDep,
    session: WebSessionDep,
    csrf_token: Annotated[str, Form(max_length=100)],
    confirm_resend: Annotated[bool, Form()] = False,
) -> Response:
    user = _acting_agent(session, csrf_token)
    thread_id = drafts.get(db, draft_id).thread_id
    db.commit()  # sending manages its own transactions around the SMTP call
    return _after(
        lambda: sending.send(
            request.app.state.session_factory,
            draft_id=draft_id,
            user_id=user.id,
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
    user = _acting_agent(session, csrf_token)
    thread = service.get_thread(db, thread_id)
    policy_for = service.policy_for_thread(db, settings, thread)
    return _after(
        lambda: service.close(db, thread=thread, user=user, reason=reason, policy_for=policy_for),
        db=db,
        settings=settings,
        session=session,
        thread_id=thread_id,
    )


def format_time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "—"


pages.filters["utc"] = format_time
