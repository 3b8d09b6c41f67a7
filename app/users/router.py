from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict

from app.deps import AdminUser, SessionDep, ViewerUser
from app.enums import Role
from app.users import repository

router = APIRouter(prefix="/api/v1", tags=["users"])


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None


@router.get("/me")
def me(user: ViewerUser) -> UserOut:
    """The user the token belongs to."""
    return UserOut.model_validate(user)


@router.get("/users")
def list_users(db: SessionDep, _: AdminUser) -> list[UserOut]:
    """Every user and role (admin). Tokens are never returned: only their holders can know them."""
    return [UserOut.model_validate(u) for u in repository.list_users(db)]
