"""Who is behind a page: the signed-in browser (else a redirect to sign in) and, for a form
that changes something, the CSRF token and the agent role."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from app.deps import ReadSessionDep, SessionDep
from app.enums import Role
from app.errors import HttpError, LoginRequired
from app.models import User, WebSession
from app.web import sessions


def _signed_in(request: Request, db: Session) -> WebSession:
    session = sessions.session_for(db, request.cookies.get(sessions.COOKIE))
    if session is None:
        raise LoginRequired
    return session


def web_session(request: Request, db: SessionDep) -> WebSession:
    return _signed_in(request, db)


def read_web_session(request: Request, db: ReadSessionDep) -> WebSession:
    """The signed-in browser read outside the request's unit of work, for a form whose service
    manages its own transactions (sending)."""
    return _signed_in(request, db)


WebSessionDep = Annotated[WebSession, Depends(web_session)]
ReadWebSessionDep = Annotated[WebSession, Depends(read_web_session)]


def acting_agent(session: WebSession, csrf_token: str) -> User:
    """The user behind a form post: the CSRF token must match and the role must be agent."""
    if not sessions.csrf_ok(session.csrf_token, csrf_token):
        raise HttpError("the form expired or came from elsewhere; reload the page", status_code=403)
    if not session.user.role.allows(Role.AGENT):
        raise HttpError(f"this needs the agent role; you are {session.user.role}", status_code=403)
    return session.user
