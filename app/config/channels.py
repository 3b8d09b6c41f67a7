"""Chat and webhook channels alerts go to beside email (``[[alerts.channels]]``): Slack, Microsoft
Teams and a generic JSON webhook.

A channel's URL is a secret (anyone holding a Slack or Teams webhook URL can post to the team): it
is named by ``url_env`` or ``url_file``, read when it is used, and never put in a log, an error or
the database."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, SecretStr, model_validator

from app.config.fields import Section, insecure_url_problem
from app.config.secrets import read_secret_env, read_secret_file
from app.errors import ConfigError

ChannelKind = Literal["slack", "teams", "webhook"]

# The alert kinds (app.alerts) a channel may ask for; warnings and reminders by their level.
EVENTS = frozenset(
    {
        "at_risk",
        "overdue",
        "escalation",
        "complaint",
        "cancel_request",
        "mailbox_down",
        "mailbox_recovered",
        "rate_at_line",
    }
)
LEVEL_EVENT = re.compile(r"(warn|remind)_\d+(\.\d+)?h")


class AlertChannel(Section):
    """One channel: where (a secret URL), which alerts (``events``, ``mailboxes``, ``clients``)."""

    kind: ChannelKind
    # Names the channel in the database, the API and the logs; default: kind and the secret's
    # variable or file, e.g. "slack:SLACK_WEBHOOK".
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url_env: str | None = None
    url_file: str | None = None
    # webhook: the HMAC-SHA256 key signing each body (X-Slawatch-Signature).
    secret_env: str | None = None
    secret_file: str | None = None
    events: list[str] | None = None  # None: every alert
    mailboxes: list[str] = Field(default_factory=list)
    clients: list[str] = Field(default_factory=list)
    timeout_seconds: float = Field(default=10, gt=0, le=120)

    @model_validator(mode="after")
    def _one_source_each(self) -> AlertChannel:
        if bool(self.url_env) == bool(self.url_file):
            raise ValueError(
                "give url_env (an environment variable's name) or url_file (a file's path), "
                "exactly one: the URL itself never goes in the config"
            )
        if self.secret_env and self.secret_file:
            raise ValueError("give secret_env or secret_file, not both")
        if (self.secret_env or self.secret_file) and self.kind != "webhook":
            raise ValueError(f"secret_env and secret_file sign webhooks only, not {self.kind}")
        unknown = [e for e in self.events or [] if e not in EVENTS and not LEVEL_EVENT.fullmatch(e)]
        if unknown:
            raise ValueError(
                f"unknown events {unknown}; known: {', '.join(sorted(EVENTS))}, warn_<N>h, "
                "remind_<N>h"
            )
        return self

    @property
    def key(self) -> str:
        return self.name or f"{self.kind}:{self.url_env or self.url_file}"

    def url(self) -> SecretStr:
        """The channel's URL, read now; a ConfigError names the channel, never the URL."""
        owner = f"alert channel {self.key!r}"
        url = (
            read_secret_env(self.url_env, owner=owner, key="url_env")
            if self.url_env
            else read_secret_file(str(self.url_file), owner=owner, key="url_file")
        )
        problem = insecure_url_problem(url.get_secret_value())
        if problem:
            source = f"url_env {self.url_env}" if self.url_env else f"url_file {self.url_file}"
            raise ConfigError(f"{owner}: the URL in {source} {problem}")
        return url

    def secret(self) -> SecretStr | None:
        owner = f"alert channel {self.key!r}"
        if self.secret_env:
            return read_secret_env(self.secret_env, owner=owner, key="secret_env")
        if self.secret_file:
            return read_secret_file(self.secret_file, owner=owner, key="secret_file")
        return None

    def wants(self, *, event: str, mailbox: str | None, client: str | None) -> bool:
        """Whether an alert of kind ``event`` about ``mailbox`` (of ``client``) goes here: its
        event is listed (or no list), and its mailbox or client is (or neither list is given)."""
        if self.events is not None and event not in self.events:
            return False
        if not (self.mailboxes or self.clients):
            return True
        return mailbox in self.mailboxes or (client is not None and client in self.clients)
