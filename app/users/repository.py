"""All queries on users and their tokens."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import ApiToken, User


def get_by_name(db: Session, name: str) -> User | None:
    return db.scalar(select(User).where(User.name == name))


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.name)))


def find_token(db: Session, token_hash: str) -> ApiToken | None:
    return db.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash))
