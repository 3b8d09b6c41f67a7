"""The SMTP server alerts and replies go through (``[smtp]``), unless a mailbox names its own."""

from __future__ import annotations

from pydantic import Field, SecretStr, model_validator

from app.config.fields import CaFile, EmailAddress, HostName, Section, is_loopback
from app.config.secrets import one_password_source, read_password
from app.providers import Security


class SmtpSettings(Section):
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
        one_password_source(self.password_env, self.password_file, required=False)
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
