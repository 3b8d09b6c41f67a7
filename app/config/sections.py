"""The smaller sections of the settings: replies, the status page, workers, API-made mailboxes,
the server and sign-in."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pydantic import Field, SecretStr, model_validator

from app.config.fields import EmailAddress, Section, TimeZoneName
from app.config.secrets import read_secret_env


class ReplySettings(Section):
    """What replies may contain: the seller's signature and contact details (a draft naming other
    links, addresses or phone numbers is flagged), and words the spelling check accepts."""

    signature: str = "Customer Care Team"
    contact_emails: list[EmailAddress] = Field(default_factory=list)
    contact_phones: list[str] = Field(default_factory=list)
    link_domains: list[str] = Field(default_factory=lambda: ["walmart.com"])
    allowed_words: list[str] = Field(default_factory=list)


class StatusSettings(Section):
    # The name of the environment variable holding the token Prometheus must send to /metrics
    # (Authorization: Bearer …); unset, /metrics is open, as Prometheus endpoints usually are.
    metrics_token_env: str | None = None
    # Let anyone open /status without signing in (a wall screen): counts only, subjects masked,
    # no customer addresses, order numbers, message text or error details.
    public: bool = False
    # The zone the page shows times in and in which "today" starts.
    timezone: TimeZoneName = "UTC"
    refresh_seconds: int = Field(default=60, ge=10, le=3600)

    def metrics_token(self) -> SecretStr | None:
        if not self.metrics_token_env:
            return None
        return read_secret_env(self.metrics_token_env, owner="status.metrics_token_env")


class WorkerSettings(Section):
    """How worker processes share the work (see app.worker)."""

    # A worker's mailboxes are taken over by others this long after it dies; it renews every
    # quarter of this.
    lease_seconds: int = Field(default=60, ge=4, le=3600)
    # Polls running at once in one process: a hung server holds one until its timeout.
    threads: int = Field(default=20, ge=1, le=500)
    # How often the SLA sweep records levels reached and sends the alerts due.
    sweep_seconds: int = Field(default=60, ge=5, le=3600)


class ApiMailboxSettings(Section):
    """What a mailbox created through the API may name (app.mailboxes.rules): an admin token must
    not reach the server's own secrets or its private network. Config-file mailboxes are the
    operator's and free of these rules."""

    # Only environment variables starting with this may hold an API mailbox's secrets.
    env_prefix: str = "SLAWATCH_MAILBOX_"
    # The only directory an API mailbox's secret files may lie in (symlinks followed); none: no
    # file at all.
    secrets_dir: Path | None = None
    # False: IMAP and SMTP hosts resolving to loopback, private, link-local or reserved addresses
    # are refused when saved and again before each connection.
    allow_private_hosts: bool = True


class ServerSettings(Section):
    """How `slawatch serve` runs uvicorn."""

    # Addresses (or networks) of reverse proxies whose X-Forwarded-For/-Proto are believed
    # (uvicorn's forwarded_allow_ips; "*" trusts any); empty: the loopback only, as uvicorn.
    forwarded_allow_ips: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _addresses(self) -> ServerSettings:
        for entry in self.forwarded_allow_ips:
            if entry == "*":
                continue
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(
                    f"forwarded_allow_ips: {entry!r} is not an IP address or network"
                ) from None
        return self

    def trusted_proxies(self) -> list[str]:
        return self.forwarded_allow_ips or ["127.0.0.1", "::1"]


class AuthSettings(Section):
    """API tokens and the sign-in form (see app.users)."""

    # Tokens older than this many days are refused; unset, tokens last until revoked. Counted
    # from each token's creation, so a new value applies to tokens issued before it.
    token_days: int | None = Field(default=None, ge=1, le=36500)
    # This many failed sign-ins within the window, per user name and per client address, lock
    # further attempts out: first for a minute, doubling with each lockout up to the maximum.
    sign_in_max_failures: int = Field(default=5, ge=1, le=1000)
    sign_in_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    sign_in_max_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)
