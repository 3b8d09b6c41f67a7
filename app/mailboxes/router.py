"""Managing mailboxes through the API (admin): create, change, disable, enable, test."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.config import MailboxSettings
from app.deps import AdminUser, LoginsDep, ReadSessionDep, SessionDep, SettingsDep
from app.http_errors import errors
from app.mailboxes import connection, service
from app.models import Mailbox

router = APIRouter(prefix="/api/v1/mailboxes", tags=["mailboxes"])


class MailboxOut(BaseModel):
    name: str
    source: str = Field(description="config: defined in the config file; api: through this API")
    client: str | None
    enabled: bool
    settings: dict[str, Any] | None = Field(
        description="connection settings of an API mailbox (names of secrets, never secrets)"
    )

    @classmethod
    def of(cls, row: Mailbox) -> MailboxOut:
        return cls(
            name=row.name,
            source=row.source,
            client=row.client,
            enabled=row.enabled,
            settings=row.settings,
        )


@router.post("", status_code=201, responses=errors(409))
def create_mailbox(
    body: MailboxSettings, db: SessionDep, settings: SettingsDep, admin: AdminUser
) -> MailboxOut:
    """Start watching a mailbox, with the settings of a config file's [[mailboxes]] entry (the
    password by `password_env` or `password_file`, never itself). Workers pick it up within a
    quarter of the lease period."""
    values = body.model_dump(mode="json", exclude_unset=True)
    return MailboxOut.of(service.create(db, values, settings=settings, actor=admin))


@router.patch("/{name}", responses=errors(409))
def update_mailbox(
    name: str, body: dict[str, Any], db: SessionDep, settings: SettingsDep, admin: AdminUser
) -> MailboxOut:
    """Change some settings of an API mailbox (config mailboxes change in the config file)."""
    return MailboxOut.of(service.update(db, name, body, settings=settings, actor=admin))


@router.post("/{name}/disable", responses=errors(409))
def disable_mailbox(
    name: str, db: SessionDep, settings: SettingsDep, admin: AdminUser
) -> MailboxOut:
    """Stop polling an API mailbox; its threads and history stay."""
    return MailboxOut.of(service.set_enabled(db, name, False, settings=settings, actor=admin))


@router.post("/{name}/enable", responses=errors(409))
def enable_mailbox(
    name: str, db: SessionDep, settings: SettingsDep, admin: AdminUser
) -> MailboxOut:
    return MailboxOut.of(service.set_enabled(db, name, True, settings=settings, actor=admin))


@router.post("/{name}/test", responses=errors(409))
def test_mailbox(
    name: str, db: ReadSessionDep, settings: SettingsDep, logins: LoginsDep, _: AdminUser
) -> connection.ConnectionReport:
    """Get the credentials (refreshing an OAuth2 token), log in to IMAP, find the inbox, sent
    and spam folders and count their messages, then log in to the SMTP server replies go
    through; each step with a clear reason when it fails. Changes nothing on the servers. Only
    reads here: the token refresh writes in a unit of work of its own."""
    return connection.test(
        service.settings_of(db, name, settings), logins=logins, default_smtp=settings.smtp
    )
