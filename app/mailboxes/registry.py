"""The one answer to "what are mailbox X's settings": the config file's mailboxes, then those
created through the API (settings stored in the database), given as ApiMailbox so their secrets
and servers are used only within [api_mailboxes]' rules (app.mailboxes.rules)."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.config import MailboxSettings, Settings
from app.mailboxes import repository as mailbox_repository
from app.mailboxes.rules import ApiMailbox
from app.sla import DEFAULT_MARKETPLACE

log = logging.getLogger(__name__)


def _stored(db: Session, settings: Settings, *, enabled_only: bool) -> list[MailboxSettings]:
    """The API mailboxes whose stored settings still load. One that no longer does (a rule of a
    newer version) is left out with an error in the log, never a reason to stop the others."""
    found: list[MailboxSettings] = []
    for row in mailbox_repository.api_mailboxes(db):
        if row.settings is None or (enabled_only and not row.enabled):
            continue
        try:
            found.append(ApiMailbox.load(row.settings, settings))
        except ValidationError as e:
            log.error("API mailbox %r: its stored settings are no longer valid: %s", row.name, e)
    return found


def all_settings(db: Session, settings: Settings) -> dict[str, MailboxSettings]:
    """Every mailbox with settings, enabled or not, by name (a config name wins)."""
    found = {m.name: m for m in _stored(db, settings, enabled_only=False)}
    found.update({m.name: m for m in settings.mailboxes})
    return found


def active(db: Session, settings: Settings) -> list[MailboxSettings]:
    """Every mailbox to poll: the config file's, then the enabled API ones."""
    configured = {m.name for m in settings.mailboxes}
    return list(settings.mailboxes) + [
        m for m in _stored(db, settings, enabled_only=True) if m.name not in configured
    ]


def settings_for(db: Session, settings: Settings, name: str) -> MailboxSettings | None:
    for configured in settings.mailboxes:
        if configured.name == name:
            return configured
    row = mailbox_repository.mailbox_by_name(db, name)
    if row is None or row.settings is None:
        return None
    try:
        return ApiMailbox.load(row.settings, settings)
    except ValidationError as e:
        log.error("API mailbox %r: its stored settings are no longer valid: %s", name, e)
        return None


def marketplaces(db: Session, settings: Settings) -> dict[int, str]:
    """The marketplace whose SLA policies apply, by mailbox id (Walmart unless configured)."""
    by_name = {name: m.marketplace for name, m in all_settings(db, settings).items()}
    return {
        mailbox.id: by_name.get(mailbox.name, DEFAULT_MARKETPLACE)
        for mailbox in mailbox_repository.list_mailboxes(db)
    }


def rate_targets(db: Session, settings: Settings) -> dict[int, float]:
    """The response rate each mailbox's marketplace holds the seller to, by mailbox id."""
    return {
        mailbox_id: settings.sla.response_rate_target(marketplace)
        for mailbox_id, marketplace in marketplaces(db, settings).items()
    }


def marketplace_of(db: Session, settings: Settings, name: str) -> str:
    found = settings_for(db, settings, name)
    return found.marketplace if found else DEFAULT_MARKETPLACE
