"""Mailboxes from the config file and from the API, side by side.

A config mailbox is defined by the file and changed only there; an API mailbox keeps its settings
in the database (the names of the environment variables or files that hold its secrets, never a
secret). A name belongs to one of them: the API refuses a name the config uses, and a config that
names an API mailbox refuses to start.
"""

from __future__ import annotations

import logging
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from app.audit import service as audit
from app.config import MailboxSettings, Settings, describe_problem
from app.errors import ConfigError, Conflict, HttpError, NotFound
from app.mailboxes import registry, rules
from app.mailboxes import repository as mailbox_repository
from app.models import Mailbox, User
from app.oauth import grants
from app.threads import stats
from app.threads.queries import Selection

log = logging.getLogger(__name__)

# Settings that decide where a mailbox's OAuth2 tokens are sent, and for which account.
GRANT_BOUND_KEYS = (
    "provider",
    "host",
    "port",
    "security",
    "username",
    "auth",
    "smtp_host",
    "smtp_port",
    "smtp_security",
    "oauth_provider",
    "oauth_client_id",
    "oauth_tenant",
    "oauth_token_url",
    "oauth_device_url",
    "oauth_authorize_url",
    "oauth_scopes",
)

CONFIG, API = "config", "api"


class InvalidMailbox(HttpError):
    status_code = 422


def selection_for(
    db: Session, *, mailbox: str | None = None, client: str | None = None
) -> Selection:
    """One mailbox by name, a client's mailboxes, or (neither given) all; an unknown name or
    client is a 422 saying so."""
    rows = mailbox_repository.list_mailboxes(db)
    if mailbox:
        chosen = [m for m in rows if m.name == mailbox]
        if not chosen:
            raise InvalidMailbox(f"no mailbox named {mailbox!r}")
        if client and chosen[0].client != client:
            raise InvalidMailbox(f"mailbox {mailbox!r} is not one of client {client!r}'s")
        return Selection(frozenset({chosen[0].id}), stats.scope_of(chosen[0].id))
    if client:
        ids = frozenset(m.id for m in rows if m.client == client)
        if not ids:
            raise InvalidMailbox(f"no mailbox has client {client!r}")
        return Selection(ids, stats.client_scope(client))
    return Selection(None, stats.ALL_SCOPE)


def clients(db: Session) -> list[str]:
    return sorted({m.client for m in mailbox_repository.list_mailboxes(db) if m.client})


def sync_configured(db: Session, settings: Settings) -> None:
    """Record the config file's mailboxes (and their client labels) in the database."""
    rows = mailbox_repository.get_or_create_mailboxes(db, [m.name for m in settings.mailboxes])
    for configured in settings.mailboxes:
        row = rows[configured.name]
        if row.source == API:
            raise ConfigError(
                f"mailbox {configured.name!r} is in the config file and was also created "
                "through the API; rename one of them"
            )
        row.client = configured.client


def get(db: Session, name: str) -> Mailbox:
    row = mailbox_repository.mailbox_by_name(db, name)
    if row is None:
        raise NotFound(f"no mailbox named {name!r}")
    return row


def _validated(values: dict[str, Any]) -> MailboxSettings:
    try:
        return MailboxSettings.model_validate(values)
    except ValidationError as e:
        problems = "; ".join(describe_problem(err) for err in e.errors())
        raise InvalidMailbox(problems) from None


def _within_rules(mailbox: MailboxSettings, settings: Settings) -> None:
    """[api_mailboxes]' rules: secrets by allowed names only, never slawatch's own; public
    servers only, when so configured."""
    refused = rules.problems(mailbox, settings)
    if refused:
        raise InvalidMailbox("; ".join(refused))


def _api_mailbox(db: Session, name: str, settings: Settings) -> Mailbox:
    if name in {m.name for m in settings.mailboxes}:
        raise Conflict(f"mailbox {name!r} is defined in the config file; change it there")
    row = get(db, name)
    if row.source != API:
        raise Conflict(f"mailbox {name!r} is not managed through the API")
    return row


def create(db: Session, values: dict[str, Any], *, settings: Settings, actor: User) -> Mailbox:
    mailbox = _validated(values)
    if mailbox.name in {m.name for m in settings.mailboxes}:
        raise Conflict(f"mailbox {mailbox.name!r} is defined in the config file")
    if mailbox_repository.mailbox_by_name(db, mailbox.name) is not None:
        raise Conflict(f"a mailbox named {mailbox.name!r} exists already")
    _within_rules(mailbox, settings)
    row = Mailbox(
        name=mailbox.name,
        source=API,
        client=mailbox.client,
        settings=mailbox.model_dump(mode="json"),
        enabled=True,
    )
    db.add(row)
    db.flush()
    audit.record(db, actor=actor, action="mailbox.create", target=row)
    return row


def update(
    db: Session, name: str, changes: dict[str, Any], *, settings: Settings, actor: User
) -> Mailbox:
    row = _api_mailbox(db, name, settings)
    if "name" in changes and changes["name"] != name:
        raise InvalidMailbox("a mailbox cannot be renamed (its threads and history keep its name)")
    before = row.settings or {}
    # The whole result is checked, not only the changes: a mailbox stored before the rules (or
    # before they were narrowed) is fixed by the same change.
    mailbox = _validated({**before, **changes})
    _within_rules(mailbox, settings)
    row.settings, row.client = mailbox.model_dump(mode="json"), mailbox.client
    moved = sorted(k for k in GRANT_BOUND_KEYS if row.settings.get(k) != before.get(k))
    if moved and grants.forget(db, row):
        # A stored OAuth2 grant is sent only where it was given: new servers, a new account or
        # another app need a new consent (`slawatch mailboxes authorize NAME`).
        log.warning("mailbox %s: %s changed; its OAuth2 grant was removed", name, ", ".join(moved))
    audit.record(
        db, actor=actor, action="mailbox.update", target=row, detail={"changed": sorted(changes)}
    )
    return row


def set_enabled(
    db: Session, name: str, enabled: bool, *, settings: Settings, actor: User
) -> Mailbox:
    """Stop or resume polling an API mailbox; its threads and history stay."""
    row = _api_mailbox(db, name, settings)
    row.enabled = enabled
    audit.record(
        db, actor=actor, action="mailbox.enable" if enabled else "mailbox.disable", target=row
    )
    return row


def settings_of(db: Session, name: str, settings: Settings) -> MailboxSettings:
    """The connection settings of a mailbox, from the config file or the database."""
    found = registry.settings_for(db, settings, name)
    if found is None:
        get(db, name)  # a 404 for an unknown name
        raise Conflict(f"mailbox {name!r} has no connection settings (it was removed from config)")
    return found
