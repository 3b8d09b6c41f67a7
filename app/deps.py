"""FastAPI dependencies: the request's session, settings and the authenticated user."""

from collections.abc import Callable, Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.config import Settings
from app.db import session_scope
from app.enums import Role
from app.errors import Forbidden, Unauthenticated
from app.models import User
from app.users.service import user_for_token

_bearer = HTTPBearer(auto_error=False, description="An API token from `slawatch users add`.")


def get_db(request: Request) -> Iterator[Session]:
    """The request is the unit of work: commit when the endpoint returns, roll back on error."""
    with session_scope(request.app.state.session_factory) as session:
        yield session


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionDep = Annotated[Session, Depends(get_db)]
SettingsDep = Annotated[Settings, Depends(get_settings)]


def current_user(
    db: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("missing bearer token: send 'Authorization: Bearer <token>'")
    user = user_for_token(db, credentials.credentials)
    if user is None:
        raise Unauthenticated("invalid or revoked token")
    return user


def require_role(required: Role) -> Callable[[User], User]:
    def dependency(user: Annotated[User, Depends(current_user)]) -> User:
        if not user.role.allows(required):
            raise Forbidden(f"this needs the {required} role; user {user.name!r} is {user.role}")
        return user

    return dependency


ViewerUser = Annotated[User, Depends(require_role(Role.VIEWER))]
AgentUser = Annotated[User, Depends(require_role(Role.AGENT))]
AdminUser = Annotated[User, Depends(require_role(Role.ADMIN))]
