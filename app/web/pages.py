"""The agent's pages: sign in, the queue of waiting customers (filtered by the link's query:
app.web.queue_filter), and a thread.

Server-rendered with autoescaping on: message text is shown as text, never as HTML. Every form
carries the session's CSRF token; every action goes through the same services as the API (the
thread page's forms: app.web.actions).
"""

from __future__ import annotations

import math
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from app.clock import now
from app.deps import OrderReadsDep, SessionDep, SettingsDep
from app.ids import RowId
from app.mailboxes import repository as mailbox_repository
from app.mailboxes import service as mailbox_service
from app.threads import queue as thread_queue
from app.web import sessions
from app.web.auth import WebSessionDep
from app.web.queue_filter import InvalidFilter, QueueQueryDep, thread_filter
from app.web.rendering import render, render_thread

router = APIRouter(include_in_schema=False)


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
def queue_page(db: SessionDep, session: WebSessionDep, query: QueueQueryDep) -> Response:
    """The waiting customers, most urgent first, as the filters in the link select them."""
    shown: dict[str, Any] = {
        "user": session.user,
        "csrf_token": session.csrf_token,
        "query": query,
        "mailboxes": [m.name for m in mailbox_repository.list_mailboxes(db)],
        "clients": mailbox_service.clients(db),
    }
    try:
        selected = thread_filter(db, query)
    except InvalidFilter as e:
        return render("queue.html", status_code=e.status_code, queue=None, error=e.message, **shown)
    return render("queue.html", queue=thread_queue.queue(db, selected, now=now()), **shown)


@router.get("/threads/{thread_id}")
def thread_page(
    thread_id: RowId,
    db: SessionDep,
    settings: SettingsDep,
    session: WebSessionDep,
    reads: OrderReadsDep,
    query: QueueQueryDep,
) -> Response:
    return render_thread(db, settings, session, thread_id, reads=reads, query=query)
