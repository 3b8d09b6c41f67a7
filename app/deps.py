"""FastAPI dependencies: the request's session, settings and the authenticated user (whose
token's use is recorded in a short write of its own)."""

import logging
from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings
from app.db import session_scope
from app.enums import Role
from app.errors import Forbidden, Unauthenticated
from app.models import User
from app.oauth.grants import Logins
from app.users import repository as user_repository
from app.users.service import authenticate
from app.walmart.opening import OrderReads

log = logging.getLogger(__name__)

_bearer = HTTPBearer(auto_error=False, description="An API token from `slawatch users add`.")


def get_db(request: Request) -> Iterator[Session]:
    """The request is the unit of work: commit when the endpoint returns, roll back on error.
    GET requests only read, so they never wait for a writer."""
    reads_only = request.method in ("GET", "HEAD")
    state = request.app.state
    with session_scope(state.read_session_factory if reads_only else state.session_factory) as db:
        yield db


def get_read_db(request: Request) -> Iterator[Session]:
    """A session that only reads, whatever the request's method (authentication uses it, so it
    never holds the write lock a state-changing request needs)."""
    with request.app.state.read_session_factory() as db:
        yield db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


# scope="function": the commit happens before the response is sent, so a client never gets a
# success for a change that then fails to commit, nor races its own change.
SessionDep = Annotated[Session, Depends(get_db, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_db, scope="function")]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def get_read_session_factory(request: Request) -> sessionmaker[Session]:
    """For a response streamed after the endpoint returned (and its session closed): the stream
    reads through a session of its own."""
    factory: sessionmaker[Session] = request.app.state.read_session_factory
    return factory


ReadSessionFactoryDep = Annotated[sessionmaker[Session], Depends(get_read_session_factory)]


def get_logins(request: Request) -> Logins:
    logins: Logins = request.app.state.logins
    return logins


LoginsDep = Annotated[Logins, Depends(get_logins)]


def get_order_reads(request: Request) -> OrderReads:
    reads: OrderReads = request.app.state.order_reads
    return reads


OrderReadsDep = Annotated[OrderReads, Depends(get_order_reads)]


def note_token_use(session_factory: sessionmaker[Session], token_id: int) -> None:
    """Record a token's use in its own short write; bookkeeping that is skipped when the database
    is busy (``session_factory`` waits only briefly for a lock), never a reason to fail or hold
    up the request."""
    try:
        with session_scope(session_factory) as db:
            user_repository.mark_token_used(db, token_id, at=now())
    except OperationalError as e:
        log.debug("token %s: last use not recorded: %s", token_id, e)


def current_user(
    request: Request,
    db: ReadSessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
    use = authenticate(db, token=credentials.credentials, token_days=settings.auth.token_days)
    # Which token this request came with: revoking it over the API is refused (users/router.py).
    request.state.api_token_id = use.token_id
    if use.stale:
        note_token_use(request.app.state.bookkeeping_factory, use.token_id)
    return use.user


def require_role(required: Role) -> Callable[[User], User]:
    def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.role.allows(required):
            raise Forbidden(f"this needs the {required} role; user {user.name!r} is {user.role}")
        return user

    return dependency


ViewerUser = Annotated[User, Depends(require_role(Role.VIEWER))]
AgentUser = Annotated[User, Depends(require_role(Role.AGENT))]
AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]
