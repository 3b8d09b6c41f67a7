"""All queries on mailboxes' OAuth2 grants."""

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import OAuthGrant


def grant_of(db: Session, mailbox_id: int) -> OAuthGrant | None:
    return db.get(OAuthGrant, mailbox_id)


def all_grants(db: Session) -> list[OAuthGrant]:
    return list(db.scalars(select(OAuthGrant)))
