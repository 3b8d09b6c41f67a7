"""Users and their API tokens over the API: who they are, and (admin) disabling and revoking."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from app.deps import AdminUser, SessionDep, SettingsDep, ViewerUser
from app.enums import Role
from app.http_errors import errors
from app.ids import RowId
from app.models import ApiToken
from app.users import repository, service

router = APIRouter(prefix="/api/v1", tags=["users"])


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None


class TokenOut(BaseModel):
    """A token as a listing shows it: never the token itself, only its first characters."""

    id: int
    user: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, token: ApiToken, *, token_days: int | None) -> TokenOut:
        return cls(
            id=token.id,
            user=token.user.name,
            prefix=token.prefix,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            expires_at=service.expires_at(token, token_days=token_days),
            revoked_at=token.revoked_at,
        )


@router.get("/me")
def me(user: ViewerUser) -> UserOut:
    """The user the token belongs to."""
    return UserOut.model_validate(user)


@router.get("/users")
def list_users(db: SessionDep, _: AdminUser) -> list[UserOut]:
    """Every user and role (admin). Tokens are never returned: only their holders can know them."""
    return [UserOut.model_validate(u) for u in repository.list_users(db)]


@router.post("/users/{name}/disable", responses=errors(409))
def disable_user(name: str, db: SessionDep, admin: AdminUser) -> UserOut:
    """Refuse the user's tokens and sign its browsers out (admin; 409 for yourself or the last
    enabled admin)."""
    return UserOut.model_validate(service.disable_user(db, name=name, actor=admin))


@router.post("/users/{name}/enable", responses=errors(409))
def enable_user(name: str, db: SessionDep, admin: AdminUser) -> UserOut:
    """Accept the user's unrevoked tokens again (admin)."""
    return UserOut.model_validate(service.enable_user(db, name=name, actor=admin))


@router.get("/users/{name}/tokens")
def user_tokens(name: str, db: SessionDep, settings: SettingsDep, _: AdminUser) -> list[TokenOut]:
    """The user's tokens: id, prefix, created, last used, expiry, revocation (admin)."""
    days = settings.auth.token_days
    return [TokenOut.of(t, token_days=days) for t in service.tokens_of(db, name=name)]


@router.post("/tokens/{token_id}/revoke", responses=errors(409))
def revoke_token(
    token_id: RowId, request: Request, db: SessionDep, settings: SettingsDep, admin: AdminUser
) -> TokenOut:
    """Refuse the token from now on, for good (admin; 409 for the token this request uses)."""
    used = request.state.api_token_id
    token = service.revoke_token(db, token_id=token_id, actor=admin, used_token_id=used)
    return TokenOut.of(token, token_days=settings.auth.token_days)
