"""The one answer to "what are mailbox X's settings": the config file's mailboxes, then those
created through the API (settings stored in the database), given as ApiMailbox so their secrets
and servers are used only within [api_mailboxes]' rules (app.mailboxes.rules)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.config import MailboxSettings, Settings
from app.ingest import repository
from app.mailboxes.rules import ApiMailbox

DEFAULT_MARKETPLACE = "walmart"


def all_settings(db: Session, settings: Settings) -> dict[str, MailboxSettings]:
    """Every mailbox with settings, enabled or not, by name (a config name wins)."""
    found: dict[str, MailboxSettings] = {
        row.name: ApiMailbox.load(row.settings, settings)
        for row in repository.api_mailboxes(db)
        if row.settings is not None
    }
    found.update({m.name: m for m in settings.mailboxes})
    return found


def active(db: Session, settings: Settings) -> list[MailboxSettings]:
    """Every mailbox to poll: the config file's, then the enabled API ones."""
    configured = {m.name for m in settings.mailboxes}
    return list(settings.mailboxes) + [
        ApiMailbox.load(row.settings, settings)
        for row in repository.api_mailboxes(db)
        if row.enabled and row.settings is not None and row.name not in configured
    ]


def settings_for(db: Session, settings: Settings, name: str) -> MailboxSettings | None:
    for configured in settings.mailboxes:
        if configured.name == name:
            return configured
    row = repository.mailbox_by_name(db, name)
    if row is None or row.settings is None:
        return None
    return ApiMailbox.load(row.settings, settings)


def marketplaces(db: Session, settings: Settings) -> dict[str, str]:
    """The marketplace whose SLA policies apply, by mailbox name (Walmart unless configured)."""
    return {name: m.marketplace for name, m in all_settings(db, settings).items()}


def marketplace_of(db: Session, settings: Settings, name: str) -> str:
    found = settings_for(db, settings, name)
    return found.marketplace if found else DEFAULT_MARKETPLACE
