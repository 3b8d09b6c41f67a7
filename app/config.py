"""All of slawatch's settings, in one place.

Settings come from a TOML file (``slawatch.toml`` in the working directory, or the path in
``SLAWATCH_CONFIG``) and from ``SLAWATCH_*`` environment variables, which win over the file
(nested keys use ``__``: ``SLAWATCH_SLA__RESPONSE_HOURS=24``). Secrets are never stored here:
a password is given as the *name* of an environment variable and read only when it is used.
"""

from __future__ import annotations

import ipaddress
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from datetime import time
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "SLAWATCH_"
CONFIG_ENV_VAR = "SLAWATCH_CONFIG"
DEFAULT_CONFIG_FILE = "slawatch.toml"

Security = Literal["ssl", "starttls", "plain"]
AuthMethod = Literal["password", "oauth2"]
OAuthProviderName = Literal["google", "microsoft", "custom"]

# Walmart publishes no list of its senders; these cover the relay (buyers, payments) and
# corporate domains seen in real mail. A guess, hence configurable per mailbox.
DEFAULT_SPAM_WHITELIST = [
    "*@relay.walmart.com",
    "*@*.relay.walmart.com",
    "*@walmart.com",
    "*@*.walmart.com",
    "*@wal-mart.com",
]


# --- mail providers: what is known about the big ones, so a seller types only the address ---

ProviderName = Literal["google", "microsoft"]

# The flows `slawatch mailboxes authorize` can run: RFC 8628's device code (a code typed on any
# device) or the authorization code with PKCE and a loopback redirect.
AuthorizeFlow = Literal["device", "browser"]


@dataclass(frozen=True)
class ProviderPreset:
    imap_host: str
    imap_port: int
    imap_security: Security
    smtp_host: str
    smtp_port: int
    smtp_security: Security
    sent_folder: str
    spam_folder: str
    # The provider saves a copy of what its SMTP server sends: another would show twice.
    saves_sent_copy: bool
    token_url: str
    device_url: str | None
    authorize_url: str
    scopes: tuple[str, ...]
    # Google's device flow admits only a few scopes, not mail: it takes the browser flow.
    authorize_flow: AuthorizeFlow


GOOGLE = ProviderPreset(
    imap_host="imap.gmail.com",
    imap_port=993,
    imap_security="ssl",
    smtp_host="smtp.gmail.com",
    smtp_port=465,
    smtp_security="ssl",
    sent_folder="[Gmail]/Sent Mail",
    spam_folder="[Gmail]/Spam",
    saves_sent_copy=True,
    token_url="https://oauth2.googleapis.com/token",
    device_url=None,
    authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
    scopes=("https://mail.google.com/",),
    authorize_flow="browser",
)

MICROSOFT_LOGIN = "https://login.microsoftonline.com/{tenant}/oauth2/v2.0"

MICROSOFT = ProviderPreset(
    imap_host="outlook.office365.com",
    imap_port=993,
    imap_security="ssl",
    smtp_host="smtp.office365.com",
    smtp_port=587,
    smtp_security="starttls",
    sent_folder="Sent Items",
    spam_folder="Junk Email",
    saves_sent_copy=True,
    token_url=MICROSOFT_LOGIN + "/token",
    device_url=MICROSOFT_LOGIN + "/devicecode",
    authorize_url=MICROSOFT_LOGIN + "/authorize",
    scopes=(
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        "https://outlook.office.com/SMTP.Send",
        "offline_access",
    ),
    authorize_flow="device",
)

PRESETS: dict[str, ProviderPreset] = {"google": GOOGLE, "microsoft": MICROSOFT}

# "organizations": any work or school account; a tenant id or domain pins one organisation.
DEFAULT_MICROSOFT_TENANT = "organizations"


class ConfigError(Exception):
    """A configuration problem a person must fix; the CLI prints it and exits with code 2."""


def _check_address(value: str) -> str:
    _, address = parseaddr(value)
    local, at, domain = address.rpartition("@")
    if not (at and local and "." in domain) or address != value.strip():
        raise ValueError(f"{value!r} is not an email address")
    return address.lower()


EmailAddress = Annotated[str, AfterValidator(_check_address)]

_HOST_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")


def _check_host(host: str) -> str:
    """An IP address or a host name the resolver can take (IDN allowed): anything else would
    only fail later, inside a poll."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise ValueError(f"{host!r} is not a valid host name") from None
    labels = ascii_host.removesuffix(".").split(".")
    if len(ascii_host) > 253 or not all(_HOST_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid host name")
    return host


HostName = Annotated[str, AfterValidator(_check_host)]


def _check_oauth_url(url: str) -> str:
    """An endpoint that tokens may be sent to: https, or http only on this machine (tests)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        raise ValueError(f"{url!r} is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not host:
        raise ValueError(f"{url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(host):
        raise ValueError(f"{url!r}: tokens go only over https (http only to a loopback address)")
    return url


OAuthUrl = Annotated[str, AfterValidator(_check_oauth_url)]


# Far above any CA bundle (the system's is ~200 KB): a bigger file is a wrong path.
MAX_CA_FILE_BYTES = 10 * 1024 * 1024


def _check_ca_file(path: str, validation: ValidationInfo) -> str:
    """A readable PEM file of CA certificates (it is loaded when a connection first needs it).
    Only a regular file is opened: a FIFO would block the read and a device never end it.
    Settings stored by the API were checked when saved; reading them back (context "stored")
    does not check again, so a file gone since fails that mailbox's connections, not every
    reading of the mailbox list."""
    if validation.context and validation.context.get("stored"):
        return path
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"the CA file {path} is not a regular file")
        if info.st_size > MAX_CA_FILE_BYTES:
            raise ValueError(f"the CA file {path} is too big ({info.st_size} bytes) for one")
        content = Path(path).read_bytes()
    except OSError as e:
        raise ValueError(f"cannot read the CA file {path}: {e.strerror}") from None
    if b"-----BEGIN CERTIFICATE-----" not in content:
        raise ValueError(f"{path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)")
    return path


# The CA certificates (PEM) to verify a server against instead of the system's: for a server
# whose certificate a private CA signed. Verification itself is never turned off.
CaFile = Annotated[str, Field(min_length=1), AfterValidator(_check_ca_file)]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_secret_env(var_name: str, *, owner: str, key: str = "password_env") -> SecretStr:
    """The secret held by environment variable ``var_name``; ``owner`` names who needs it and
    ``key`` the setting that names the variable."""
    value = os.environ.get(var_name)
    if not value:
        raise ConfigError(f"{owner}: environment variable {var_name} ({key}) is not set")
    return SecretStr(value)


def read_secret_file(path: str, *, owner: str, key: str = "password_file") -> SecretStr:
    """The secret in file ``path`` (a Docker or Kubernetes secret), without its final newline."""
    try:
        value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as e:
        raise ConfigError(f"{owner}: cannot read {key} {path}: {e.strerror}") from None
    if not value:
        raise ConfigError(f"{owner}: {key} {path} is empty")
    return SecretStr(value)


def read_password(env: str | None, file: str | None, *, owner: str) -> SecretStr | None:
    """The password named by ``password_env`` or ``password_file`` (never written in config)."""
    if env:
        return read_secret_env(env, owner=owner)
    if file:
        return read_secret_file(file, owner=owner)
    return None


def _one_password_source(env: str | None, file: str | None, *, required: bool) -> None:
    if env and file:
        raise ValueError("give password_env or password_file, not both")
    if required and not (env or file):
        raise ValueError(
            "a password is needed: password_env (an environment variable's name) or "
            "password_file (a file's path); the password itself never goes in the config"
        )


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FolderOverrides(_Section):
    """Server paths of the folders, when SPECIAL-USE and the usual names do not find them."""

    inbox: str = "INBOX"
    sent: str | None = None
    spam: str | None = None


def _apply_preset(values: dict[str, Any]) -> dict[str, Any]:
    """Fill what a provider preset knows into the keys a mailbox leaves out (explicit keys win).
    Folder names are not fixed here: the preset's are hints, after SPECIAL-USE (app.mail.imap)."""
    provider = values.get("provider")
    preset = PRESETS.get(provider) if isinstance(provider, str) else None
    if preset is None:
        return values
    defaults: dict[str, Any] = {"host": preset.imap_host, "security": preset.imap_security}
    if values.get("security", preset.imap_security) == preset.imap_security:
        defaults["port"] = preset.imap_port  # another security keeps its own default port
    if "smtp_host" not in values:
        # The provider's SMTP server files a copy of what it sends; a relay of one's own doesn't.
        defaults |= {
            "smtp_host": preset.smtp_host,
            "smtp_port": preset.smtp_port,
            "smtp_security": preset.smtp_security,
            "append_sent_copy": not preset.saves_sent_copy,
        }
    filled = {**defaults, **values}
    if filled.get("auth") == "oauth2":
        filled.setdefault("oauth_provider", provider)
    return filled


class MailboxSettings(_Section):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    # A preset for Gmail / Google Workspace or Microsoft 365: servers, ports, folders and OAuth2
    # endpoints filled in, so only the address (username) is needed.
    provider: ProviderName | None = None
    host: HostName
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security = "ssl"
    username: str = Field(min_length=1)
    auth: AuthMethod = "password"
    password_env: str | None = Field(default=None, min_length=1)
    password_file: str | None = Field(default=None, min_length=1)
    # OAuth2 (auth = "oauth2"): the app registered with the provider. The refresh token is not
    # configured: `slawatch mailboxes authorize NAME` obtains it and keeps it encrypted.
    oauth_provider: OAuthProviderName | None = None
    oauth_client_id: str | None = Field(default=None, min_length=1)
    oauth_client_secret_env: str | None = Field(default=None, min_length=1)
    oauth_client_secret_file: str | None = Field(default=None, min_length=1)
    oauth_tenant: str = Field(
        default=DEFAULT_MICROSOFT_TENANT, min_length=1, pattern=r"^[A-Za-z0-9.-]+$"
    )
    oauth_token_url: OAuthUrl | None = None
    oauth_device_url: OAuthUrl | None = None
    oauth_authorize_url: OAuthUrl | None = None
    oauth_scopes: list[str] | None = None
    # The SMTP server replies from this mailbox go through, logged in as the mailbox (password or
    # OAuth2); unset, replies use the global [smtp] server.
    smtp_host: HostName | None = None
    smtp_port: int | None = Field(default=None, ge=1, le=65535)
    smtp_security: Security = "starttls"
    # A private CA of this mailbox's IMAP server and its own SMTP server (not [smtp]'s).
    tls_ca_file: CaFile | None = None
    # Who the mailbox belongs to, for an agency watching many sellers: pages, API and metrics
    # filter by it.
    client: str | None = Field(default=None, min_length=1, max_length=100)
    # The seller's own addresses (replies from them stop the clock); default: the username, when
    # it is an address.
    seller_addresses: list[EmailAddress] = Field(min_length=1)
    folders: FolderOverrides = FolderOverrides()
    spam_whitelist: list[str] = Field(default_factory=lambda: list(DEFAULT_SPAM_WHITELIST))
    rescue_spam: bool = False
    # Put a copy of each reply slawatch sends into Sent; turn off where the SMTP server saves one
    # itself (Gmail, Microsoft 365), or the Sent folder shows every reply twice.
    append_sent_copy: bool = True
    poll_seconds: int = Field(default=60, ge=5)
    # Keep an IMAP IDLE connection open on INBOX so new mail is read within seconds; off, mail
    # waits for the next poll (for servers that limit connections per account).
    idle: bool = True
    timeout_seconds: float = Field(default=60, gt=0)
    # A whole poll ends by then even on a server answering each call just in time: what was
    # stored stays, and the next poll reads on.
    poll_deadline_seconds: float = Field(default=900, gt=0)
    batch_size: int = Field(default=500, ge=1, le=5000)
    # A message larger than this is stored as its headers and a note, never fetched whole.
    max_message_bytes: int = Field(default=50 * 1024 * 1024, ge=16 * 1024)
    marketplace: str = "walmart"
    alert_recipients: list[EmailAddress] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _defaults_from_preset_and_address(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        values = _apply_preset(values)
        username = values.get("username")
        if "seller_addresses" not in values and isinstance(username, str) and "@" in username:
            values = {**values, "seller_addresses": [username]}
        return values

    @model_validator(mode="after")
    def _team_only_alerts(self) -> MailboxSettings:
        for address in self.alert_recipients:
            if is_marketplace_relay(address):
                raise ValueError(
                    f"{address} is a marketplace relay (customer) address; alerts "
                    "go only to the seller's team"
                )
        return self

    @model_validator(mode="after")
    def _credentials(self) -> MailboxSettings:
        if self.auth == "password":
            _one_password_source(self.password_env, self.password_file, required=True)
            return self
        if self.password_env or self.password_file:
            raise ValueError("auth = 'oauth2' uses no password: remove password_env/password_file")
        if self.oauth_provider is None:
            raise ValueError("auth = 'oauth2' needs oauth_provider (google, microsoft or custom)")
        if not self.oauth_client_id:
            raise ValueError(
                "auth = 'oauth2' needs oauth_client_id: the id of the app registered with "
                "the provider (see the README's Gmail and Microsoft 365 steps)"
            )
        if self.oauth_client_secret_env and self.oauth_client_secret_file:
            raise ValueError("give oauth_client_secret_env or oauth_client_secret_file, not both")
        if self.oauth_provider == "google" and not (
            self.oauth_client_secret_env or self.oauth_client_secret_file
        ):
            raise ValueError(
                "Google needs the OAuth client's secret: oauth_client_secret_env or "
                "oauth_client_secret_file"
            )
        if self.oauth_provider == "custom" and not self.oauth_token_url:
            raise ValueError("oauth_provider = 'custom' needs oauth_token_url")
        return self

    @model_validator(mode="after")
    def _refuse_plaintext_over_network(self) -> MailboxSettings:
        for key, security, host in (
            ("security", self.security, self.host),
            ("smtp_security", self.smtp_security, self.smtp_host),
        ):
            if host and security == "plain" and not is_loopback(host):
                raise ValueError(
                    f"{key} = 'plain' sends the password unencrypted; it is allowed only for a "
                    f"loopback host, not {host!r} (use 'ssl' or 'starttls')"
                )
        return self

    @property
    def imap_port(self) -> int:
        return self.port or (993 if self.security == "ssl" else 143)

    @property
    def preset(self) -> ProviderPreset | None:
        return PRESETS.get(self.provider) if self.provider else None

    def password(self) -> SecretStr:
        password = read_password(
            self.password_env, self.password_file, owner=f"mailbox {self.name!r}"
        )
        if password is None:
            raise ConfigError(f"mailbox {self.name!r} signs in with OAuth2, not a password")
        return password

    def oauth_client_secret(self) -> SecretStr | None:
        owner = f"mailbox {self.name!r}"
        if self.oauth_client_secret_env:
            return read_secret_env(
                self.oauth_client_secret_env, owner=owner, key="oauth_client_secret_env"
            )
        if self.oauth_client_secret_file:
            return read_secret_file(
                self.oauth_client_secret_file, owner=owner, key="oauth_client_secret_file"
            )
        return None

    def smtp(self) -> SmtpSettings | None:
        """The SMTP server of this mailbox's replies, signing in as the mailbox; None: [smtp]."""
        if self.smtp_host is None:
            return None
        return SmtpSettings(
            host=self.smtp_host,
            port=self.smtp_port,
            security=self.smtp_security,
            username=self.username,
            password_env=self.password_env,
            password_file=self.password_file,
            from_address=self.seller_addresses[0],
            timeout_seconds=self.timeout_seconds,
            tls_ca_file=self.tls_ca_file,
        )


class SmtpSettings(_Section):
    host: HostName = "localhost"
    port: int | None = Field(default=None, ge=1, le=65535)
    security: Security = "starttls"
    username: str | None = None
    password_env: str | None = None
    password_file: str | None = None
    from_address: EmailAddress | None = None
    timeout_seconds: float = Field(default=30, gt=0)
    tls_ca_file: CaFile | None = None

    @model_validator(mode="after")
    def _password_source(self) -> SmtpSettings:
        _one_password_source(self.password_env, self.password_file, required=False)
        return self

    @model_validator(mode="after")
    def _refuse_plaintext_over_network(self) -> SmtpSettings:
        if self.security == "plain" and self.username and not is_loopback(self.host):
            raise ValueError(
                f"security = 'plain' with a username sends the password unencrypted; "
                f"use 'ssl' or 'starttls' for {self.host!r}"
            )
        return self

    @property
    def smtp_port(self) -> int:
        return self.port or {"ssl": 465, "starttls": 587, "plain": 25}[self.security]

    def password(self) -> SecretStr | None:
        return read_password(self.password_env, self.password_file, owner="smtp")


class ReplySettings(_Section):
    """What replies may contain: the seller's signature and contact details (a draft naming other
    links, addresses or phone numbers is flagged), and words the spelling check accepts."""

    signature: str = "Customer Care Team"
    contact_emails: list[EmailAddress] = Field(default_factory=list)
    contact_phones: list[str] = Field(default_factory=list)
    link_domains: list[str] = Field(default_factory=lambda: ["walmart.com"])
    allowed_words: list[str] = Field(default_factory=list)


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. 'America/Chicago')") from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


class QuietHours(_Section):
    """Hours in the team's time zone when non-urgent alerts wait; customers' clocks keep running."""

    start: time
    end: time
    timezone: TimeZoneName = "UTC"

    @model_validator(mode="after")
    def _distinct_ends(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError("quiet hours need a start different from their end")
        return self


class AlertSettings(_Section):
    """Internal alert emails: only ever to these configured addresses, never to a customer."""

    recipients: list[EmailAddress] = Field(default_factory=list)
    manager_recipients: list[EmailAddress] = Field(default_factory=list)
    from_address: EmailAddress | None = None
    digest_minutes: int = Field(default=0, ge=0, le=24 * 60)
    quiet_hours: QuietHours | None = None
    poll_failure_minutes: int = Field(default=15, ge=1)
    max_attempts: int = Field(default=8, ge=1)

    @model_validator(mode="after")
    def _no_customer_addresses(self) -> AlertSettings:
        for address in [*self.recipients, *self.manager_recipients]:
            if is_marketplace_relay(address):
                raise ValueError(
                    f"{address} is a marketplace relay (customer) address; alerts "
                    "go only to the seller's team"
                )
        return self


def is_marketplace_relay(address: str) -> bool:
    """An address that reaches a buyer through a marketplace relay: never an alert recipient."""
    domain = address.rpartition("@")[2].lower()
    return (
        domain == "relay.walmart.com"
        or domain.endswith(".relay.walmart.com")
        or domain.endswith("marketplace.amazon.com")
    )


class KindPolicy(_Section):
    """How long one kind of thread may wait, in calendar hours (weekends and holidays count)."""

    response_hours: float = Field(gt=0)
    at_risk_hours: float = Field(ge=0)
    warn_after_hours: list[float] = Field(default_factory=list)

    @model_validator(mode="after")
    def _levels_inside_window(self) -> KindPolicy:
        if self.at_risk_hours >= self.response_hours:
            raise ValueError(
                f"at_risk_hours ({self.at_risk_hours:g}) must be less than "
                f"response_hours ({self.response_hours:g})"
            )
        late = [h for h in self.warn_after_hours if not 0 < h < self.response_hours]
        if late:
            raise ValueError(
                f"warn_after_hours {late} must lie between 0 and response_hours "
                f"({self.response_hours:g})"
            )
        return self


class MarketplacePolicy(_Section):
    customer: KindPolicy | None = None
    escalation: KindPolicy | None = None
    complaint: KindPolicy | None = None


# Walmart: 48 hours for every customer message, 1 hour for a BBB or Attorney General complaint;
# Amazon asks for 24 hours. Escalations share the customer policy unless configured apart.
COMPLAINT_POLICY = KindPolicy(response_hours=1, at_risk_hours=0.5)
AMAZON_POLICY = KindPolicy(response_hours=24, at_risk_hours=6)


class SlaSettings(_Section):
    """``response_hours``, ``at_risk_hours`` and ``warn_after_hours`` are the Walmart customer
    policy; ``[sla.marketplaces.NAME.KIND]`` overrides any entry or adds a marketplace."""

    response_hours: float = Field(default=48, gt=0)
    at_risk_hours: float = Field(default=12, ge=0)
    warn_after_hours: list[float] = Field(default_factory=list)
    marketplaces: dict[str, MarketplacePolicy] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _valid_policies(self) -> SlaSettings:
        self._walmart()  # validates the top-level values as a policy
        incomplete = [
            name
            for name, policy in self.marketplaces.items()
            if name not in ("walmart", "amazon") and policy.customer is None
        ]
        if incomplete:
            raise ValueError(f"marketplaces {incomplete} need a customer policy")
        return self

    def _walmart(self) -> KindPolicy:
        return KindPolicy(
            response_hours=self.response_hours,
            at_risk_hours=self.at_risk_hours,
            warn_after_hours=self.warn_after_hours,
        )

    def marketplace_names(self) -> set[str]:
        return {"walmart", "amazon", *self.marketplaces}

    def policy(self, marketplace: str, kind: str) -> KindPolicy:
        """The policy for a thread ``kind`` (customer, escalation, complaint) of a marketplace."""
        configured = self.marketplaces.get(marketplace) or MarketplacePolicy()
        preset = AMAZON_POLICY if marketplace == "amazon" else self._walmart()
        customer = configured.customer or preset
        by_kind = {
            "customer": customer,
            "escalation": configured.escalation or customer,
            "complaint": configured.complaint or COMPLAINT_POLICY,
        }
        return by_kind[kind]


class StatusSettings(_Section):
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


class WorkerSettings(_Section):
    """How worker processes share the work (see app.worker)."""

    # A worker's mailboxes are taken over by others this long after it dies; it renews every
    # quarter of this.
    lease_seconds: int = Field(default=60, ge=4, le=3600)
    # Polls running at once in one process: a hung server holds one until its timeout.
    threads: int = Field(default=20, ge=1, le=500)
    # How often the SLA sweep records levels reached and sends the alerts due.
    sweep_seconds: int = Field(default=60, ge=5, le=3600)


class ApiMailboxSettings(_Section):
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


class ServerSettings(_Section):
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


class AuthSettings(_Section):
    """API tokens and the sign-in form (see app.users)."""

    # Tokens older than this many days are refused; unset, tokens last until revoked. Counted
    # from each token's creation, so a new value applies to tokens issued before it.
    token_days: int | None = Field(default=None, ge=1, le=36500)
    # This many failed sign-ins within the window, per user name and per client address, lock
    # further attempts out: first for a minute, doubling with each lockout up to the maximum.
    sign_in_max_failures: int = Field(default=5, ge=1, le=1000)
    sign_in_window_minutes: int = Field(default=15, ge=1, le=24 * 60)
    sign_in_max_lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        extra="forbid",
    )

    database_url: str = "sqlite:///./slawatch.db"
    base_url: str = "http://localhost:8000"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    sla: SlaSettings = SlaSettings()
    mailboxes: list[MailboxSettings] = Field(default_factory=list)
    smtp: SmtpSettings = SmtpSettings()
    alerts: AlertSettings = AlertSettings()
    replies: ReplySettings = ReplySettings()
    worker: WorkerSettings = WorkerSettings()
    status: StatusSettings = StatusSettings()
    auth: AuthSettings = AuthSettings()
    # The key that encrypts OAuth2 refresh tokens in the database (`slawatch token-key` makes
    # one): the name of an environment variable, or a file. Several keys separated by commas
    # decrypt; the first encrypts (rotation).
    token_key_env: str = "SLAWATCH_TOKEN_KEY"
    token_key_file: str | None = None
    api_mailboxes: ApiMailboxSettings = ApiMailboxSettings()
    server: ServerSettings = ServerSettings()

    def token_key(self) -> SecretStr:
        if self.token_key_file:
            return read_secret_file(self.token_key_file, owner="settings", key="token_key_file")
        return read_secret_env(self.token_key_env, owner="settings", key="token_key_env")

    @model_validator(mode="after")
    def _known_marketplaces(self) -> Settings:
        known = self.sla.marketplace_names()
        for mailbox in self.mailboxes:
            if mailbox.marketplace not in known:
                raise ValueError(
                    f"mailbox {mailbox.name!r}: marketplace {mailbox.marketplace!r} has no SLA "
                    f"policy; known: {', '.join(sorted(known))} (add [sla.marketplaces."
                    f"{mailbox.marketplace}.customer])"
                )
        return self

    @model_validator(mode="after")
    def _unique_mailbox_names(self) -> Settings:
        names = [m.name for m in self.mailboxes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"mailbox names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The file's values arrive as init arguments; the environment is listed first so it wins.
        return (env_settings, init_settings)


def config_file_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_FILE)


def _read_config_file(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror}") from None


def describe_problem(error: Any) -> str:
    """One validation error as "key: what is wrong" (`mailboxes[0].port: ...`)."""
    loc = [str(part) for part in error["loc"]]
    key = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc).lstrip(".") or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    return f"{key}: {error['msg'].removeprefix('Value error, ')}"


def _describe(error: Any, *, path: Path) -> str:
    env_name = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
    where = f"environment variable {env_name}" if env_name in os.environ else str(path)
    return f"{where}: {describe_problem(error)}"


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the settings; any problem becomes one ConfigError naming each key."""
    # The default file is optional; one named on the command line or in the environment is not.
    required = path is not None or bool(os.environ.get(CONFIG_ENV_VAR))
    path = path or config_file_path()
    values = _read_config_file(path, required=required)
    try:
        return Settings(**values)
    except ValidationError as e:
        problems = "\n".join(_describe(err, path=path) for err in e.errors())
        raise ConfigError(f"invalid configuration:\n{problems}") from None
