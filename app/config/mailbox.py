"""A mailbox to watch (``[[mailboxes]]``): its IMAP server, how it signs in, its folders, and the
SMTP server its replies go through; a provider preset fills in what a seller leaves out."""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr, model_validator

from app.config.fields import (
    AuthMethod,
    CaFile,
    EmailAddress,
    HostName,
    OAuthProviderName,
    OAuthUrl,
    Section,
    is_loopback,
)
from app.config.secrets import one_password_source, read_password, read_secret_env, read_secret_file
from app.config.smtp import SmtpSettings
from app.errors import ConfigError
from app.marketplaces import is_marketplace_relay
from app.providers import (
    DEFAULT_MICROSOFT_TENANT,
    PRESETS,
    ProviderName,
    ProviderPreset,
    Security,
)

# Walmart publishes no list of its senders; these cover the relay (buyers, payments) and
# corporate domains seen in real mail. A guess, hence configurable per mailbox.
DEFAULT_SPAM_WHITELIST = [
    "*@relay.walmart.com",
    "*@*.relay.walmart.com",
    "*@walmart.com",
    "*@*.walmart.com",
    "*@wal-mart.com",
]


DEFAULT_WALMART_API_URL = "https://marketplace.walmartapis.com"


class FolderOverrides(Section):
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


class MailboxSettings(Section):
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
    # Walmart's Marketplace API, read only (app.walmart): the order beside a customer's message.
    # The client secret is never written here: its variable's name or its file's path is.
    walmart_client_id: str | None = Field(default=None, min_length=1, max_length=200)
    walmart_client_secret_env: str | None = Field(default=None, min_length=1)
    walmart_client_secret_file: str | None = Field(default=None, min_length=1)
    walmart_api_url: OAuthUrl = DEFAULT_WALMART_API_URL
    walmart_timeout_seconds: float = Field(default=20, gt=0, le=300)
    # The secret Walmart sends with each ORDER_UPDATES notification (the subscription's custom
    # header, app.walmart.webhook_router): without it the mailbox receives no webhooks.
    walmart_webhook_secret_env: str | None = Field(default=None, min_length=1)
    walmart_webhook_secret_file: str | None = Field(default=None, min_length=1)

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
            one_password_source(self.password_env, self.password_file, required=True)
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
    def _walmart_credentials(self) -> MailboxSettings:
        sources = (self.walmart_client_secret_env, self.walmart_client_secret_file)
        if all(sources):
            raise ValueError(
                "give walmart_client_secret_env or walmart_client_secret_file, not both"
            )
        if self.walmart_client_id and not any(sources):
            raise ValueError(
                "walmart_client_id needs the client secret's source: walmart_client_secret_env "
                "(an environment variable's name) or walmart_client_secret_file (a file's path)"
            )
        if any(sources) and not self.walmart_client_id:
            raise ValueError("a Walmart client secret needs walmart_client_id")
        if self.walmart_webhook_secret_env and self.walmart_webhook_secret_file:
            raise ValueError(
                "give walmart_webhook_secret_env or walmart_webhook_secret_file, not both"
            )
        self.walmart_api_url = self.walmart_api_url.rstrip("/")
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

    @property
    def has_walmart_api(self) -> bool:
        """Whether the mailbox's seller account has Marketplace API credentials."""
        return self.walmart_client_id is not None

    def walmart_client_secret(self) -> SecretStr:
        owner = f"mailbox {self.name!r}"
        if self.walmart_client_secret_env:
            return read_secret_env(
                self.walmart_client_secret_env, owner=owner, key="walmart_client_secret_env"
            )
        if self.walmart_client_secret_file:
            return read_secret_file(
                self.walmart_client_secret_file, owner=owner, key="walmart_client_secret_file"
            )
        raise ConfigError(f"{owner} has no Walmart API credentials (walmart_client_id)")

    @property
    def receives_walmart_webhooks(self) -> bool:
        return bool(self.walmart_webhook_secret_env or self.walmart_webhook_secret_file)

    def walmart_webhook_secret(self) -> SecretStr:
        owner = f"mailbox {self.name!r}"
        if self.walmart_webhook_secret_env:
            return read_secret_env(
                self.walmart_webhook_secret_env, owner=owner, key="walmart_webhook_secret_env"
            )
        if self.walmart_webhook_secret_file:
            return read_secret_file(
                self.walmart_webhook_secret_file, owner=owner, key="walmart_webhook_secret_file"
            )
        raise ConfigError(f"{owner} receives no Walmart webhooks (walmart_webhook_secret_env)")

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
