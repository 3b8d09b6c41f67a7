"""``Settings``: every section together, checked against each other."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from app.config.alerts import AlertSettings
from app.config.mailbox import MailboxSettings
from app.config.secrets import read_secret_env, read_secret_file
from app.config.sections import (
    ApiMailboxSettings,
    AuthSettings,
    ReplySettings,
    ServerSettings,
    StatusSettings,
    WorkerSettings,
)
from app.config.sla import SlaSettings
from app.config.smtp import SmtpSettings

ENV_PREFIX = "SLAWATCH_"


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
    # None (no [smtp] section): monitoring only. No alert emails, and no replies except from a
    # mailbox with an SMTP server of its own (smtp_host); an empty [smtp] means localhost.
    smtp: SmtpSettings | None = None
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

    def reply_smtp(self, mailbox: MailboxSettings) -> SmtpSettings | None:
        """The server a mailbox's replies go through: its own, else [smtp]; None: neither."""
        return mailbox.smtp() or self.smtp

    def token_key(self) -> SecretStr:
        if self.token_key_file:
            return read_secret_file(self.token_key_file, owner="settings", key="token_key_file")
        return read_secret_env(self.token_key_env, owner="settings", key="token_key_env")

    @field_validator("database_url")
    @classmethod
    def _a_database_url(cls, url: str) -> str:
        scheme = url.partition("://")[0].partition("+")[0] if "://" in url else ""
        if scheme not in ("sqlite", "postgresql"):
            raise ValueError(
                f"{url[:60]!r} is not a database URL slawatch can use: sqlite:///path/slawatch.db "
                "or postgresql://user@host:5432/name (postgresql+psycopg:// also works)"
            )
        return url

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
