"""What a mailbox created through the API may name and reach ([api_mailboxes] settings).

An admin token is not the operator: an API mailbox whose ``password_env`` named
``SLAWATCH_DATABASE_URL`` would have slawatch send the database URL, as a password, to any host the
caller chose, and a mailbox on an internal address turns the connection test into a port scanner.
So an API mailbox's secrets come only from variables with a configured prefix or files inside a
configured directory, never from slawatch's own secrets; and, with ``allow_private_hosts = false``,
its servers must resolve to public addresses, checked when it is saved and again before each
connection (DNS answers change). Config-file mailboxes are the operator's and free of these rules.

Mailboxes stored before these rules, or before the operator narrowed them, are not trusted either:
the registry gives every API mailbox as an :class:`ApiMailbox`, whose secrets are read, and whose
servers reached, only after the same checks, so a poll or connection test of a mailbox naming a
forbidden secret fails with a config error naming the rule.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import PrivateAttr, SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from app.config import (
    CONFIG_ENV_VAR,
    ENV_PREFIX,
    MailboxSettings,
    Settings,
    SmtpSettings,
    config_file_path,
)
from app.errors import ConfigError

# Every key of a mailbox that names where a secret is: the rules apply to keys added later too.
SECRET_ENV_KEYS = tuple(k for k in MailboxSettings.model_fields if k.endswith("_env"))
SECRET_FILE_KEYS = tuple(k for k in MailboxSettings.model_fields if k.endswith("_file"))
OAUTH_URL_KEYS = ("oauth_token_url", "oauth_device_url", "oauth_authorize_url")

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class RefusedHost(ConfigError):
    """A server an API mailbox may not reach; ``kind`` as a connection test step reports it."""

    def __init__(self, message: str, *, kind: str = "config") -> None:
        super().__init__(message)
        self.kind = kind


# --- secrets ----------------------------------------------------------------------------------


def _own_env_names(settings: Settings) -> dict[str, str]:
    """slawatch's own secrets held in environment variables, upper-cased (pydantic-settings reads
    variable names without regard to case), with what each holds."""
    named = {
        ENV_PREFIX + "DATABASE_URL": "the database URL",
        CONFIG_ENV_VAR: "the config file's path",
        settings.token_key_env: "the token key",
        settings.smtp.password_env if settings.smtp else None: "the SMTP password",
        settings.status.metrics_token_env: "the metrics token",
    }
    for mailbox in settings.mailboxes:
        for key in SECRET_ENV_KEYS:
            named[getattr(mailbox, key)] = f"config mailbox {mailbox.name!r}'s {key}"
    return {name.upper(): what for name, what in named.items() if name}


def _resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def _own_files(settings: Settings) -> dict[Path, str]:
    named: dict[str | Path | None, str] = {
        config_file_path(): "the config file",
        settings.token_key_file: "the token key",
        settings.smtp.password_file if settings.smtp else None: "the SMTP password",
    }
    try:
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            named[url.database] = "the database"
    except ArgumentError:
        pass
    for mailbox in settings.mailboxes:
        for key in SECRET_FILE_KEYS:
            named[getattr(mailbox, key)] = f"config mailbox {mailbox.name!r}'s {key}"
    return {_resolved(path): what for path, what in named.items() if path}


def _env_problem(key: str, name: str, settings: Settings) -> str | None:
    own = _own_env_names(settings).get(name.upper())
    if own:
        return (
            f"{key}: {name} holds {own}, one of slawatch's own secrets; an API mailbox may not "
            "name it"
        )
    prefix = settings.api_mailboxes.env_prefix
    if not name.startswith(prefix) or name == prefix:
        return (
            f"{key}: an API mailbox may only name variables starting with {prefix} "
            "(set [api_mailboxes] env_prefix to change it)"
        )
    return None


def _file_problem(key: str, path: str, settings: Settings) -> str | None:
    # resolve() follows symlinks and "..": /run/secrets/x/../../etc/shadow is /etc/shadow.
    real = _resolved(path)
    own = _own_files(settings).get(real)
    if own:
        return (
            f"{key}: {path} is {own}, one of slawatch's own secrets; an API mailbox may not name it"
        )
    directory = settings.api_mailboxes.secrets_dir
    if directory is None:
        return (
            f"{key}: an API mailbox may name no file (set [api_mailboxes] secrets_dir to allow "
            "files inside one directory)"
        )
    inside = _resolved(directory)
    if real == inside or not real.is_relative_to(inside):
        return (
            f"{key}: {path} resolves to {real}, outside [api_mailboxes] secrets_dir {inside} "
            "(symlinks and '..' are followed)"
        )
    return None


def secret_problems(
    mailbox: MailboxSettings, settings: Settings, *, keys: tuple[str, ...] = ()
) -> list[str]:
    """Why ``mailbox`` (an API mailbox) may not read its secrets: one reason per key, none when
    it may. ``keys`` limits the check to those keys."""
    problems = []
    for key in SECRET_ENV_KEYS + SECRET_FILE_KEYS:
        value = getattr(mailbox, key)
        if not value or (keys and key not in keys):
            continue
        check = _env_problem if key in SECRET_ENV_KEYS else _file_problem
        problem = check(key, value, settings)
        if problem:
            problems.append(problem)
    return problems


# --- hosts ------------------------------------------------------------------------------------


_NOT_PUBLIC = (
    ("loopback", "a loopback address"),
    ("link_local", "a link-local address"),
    ("unspecified", "an unspecified address"),
    ("multicast", "a multicast address"),
    ("private", "a private address"),
    ("reserved", "a reserved address"),
)


def address_problem(address: IpAddress) -> str | None:
    """Why ``address`` is not a public one ("a loopback address", ...), or None."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches the IPv4 host: ::ffff:127.0.0.1 is loopback.
        if address.ipv4_mapped:
            return address_problem(address.ipv4_mapped)
        for inside in (address.sixtofour, address.teredo[1] if address.teredo else None):
            if inside is not None and address_problem(inside):
                return address_problem(inside)
    for kind, problem in _NOT_PUBLIC:
        if getattr(address, f"is_{kind}"):
            return problem
    if not address.is_global:  # shared (carrier NAT), documentation and other special ranges
        return "not a public address"
    return None


def resolve(host: str, port: int | None = None) -> list[IpAddress]:
    """Every address ``host`` resolves to now; OSError when it does not resolve."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


def _literal(host: str) -> IpAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _servers(mailbox: MailboxSettings) -> list[tuple[str, str, int | None]]:
    """(key, host, port) of every server an API mailbox makes slawatch reach."""
    servers: list[tuple[str, str, int | None]] = [("host", mailbox.host, mailbox.imap_port)]
    if mailbox.smtp_host:
        servers.append(("smtp_host", mailbox.smtp_host, mailbox.smtp_port))
    urls = [(key, getattr(mailbox, key)) for key in OAUTH_URL_KEYS]
    if mailbox.has_walmart_api:  # the API is reached only with credentials
        urls.append(("walmart_api_url", mailbox.walmart_api_url))
    for key, url in urls:
        host = urlsplit(url).hostname if url else None
        if host:
            servers.append((key, host, 443))
    return servers


def check_hosts(mailbox: MailboxSettings, settings: Settings) -> None:
    """Resolve each server of an API mailbox now and raise RefusedHost naming the first whose
    addresses are not all public; nothing when [api_mailboxes] allow_private_hosts is on."""
    if settings.api_mailboxes.allow_private_hosts:
        return
    for key, host, port in _servers(mailbox):
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as e:
            reason = getattr(e, "strerror", None) or str(e)
            raise RefusedHost(
                f"{key}: {host} does not resolve ({reason}); with [api_mailboxes] "
                "allow_private_hosts = false an API mailbox's servers must resolve to public "
                "addresses",
                kind="network",
            ) from None
        for address in addresses:
            problem = address_problem(address)
            if problem:
                where = (
                    f"{host} is" if _literal(host) == address else f"{host} resolves to {address},"
                )
                raise RefusedHost(
                    f"{key}: {where} {problem}; an API mailbox may reach only public addresses "
                    "([api_mailboxes] allow_private_hosts = false)"
                )


def problems(mailbox: MailboxSettings, settings: Settings) -> list[str]:
    """Every reason an API mailbox may not be saved with these settings."""
    found = secret_problems(mailbox, settings)
    try:
        check_hosts(mailbox, settings)
    except RefusedHost as e:
        found.append(str(e))
    return found


# --- the settings an API mailbox is used with -----------------------------------------------


class ApiMailbox(MailboxSettings):
    """The settings of a mailbox created through the API, as polls, replies and connection tests
    get them: a secret is read, and the servers are checked, only within the rules above. Every
    connection starts by getting the login (``password()``), so for password mailboxes the
    hosts are re-checked just before each connection."""

    _settings: Settings | None = PrivateAttr(default=None)

    @classmethod
    def load(cls, values: dict[str, Any], settings: Settings) -> ApiMailbox:
        mailbox = cls.model_validate(values, context={"stored": True})
        mailbox._settings = settings
        return mailbox

    def _rules(self) -> Settings:
        if self._settings is None:  # only load() makes one; a bare one would trust nothing
            raise ConfigError(f"mailbox {self.name!r}: API mailbox settings without the rules")
        return self._settings

    def _refuse_secret(self, *keys: str) -> None:
        found = secret_problems(self, self._rules(), keys=keys)
        if found:
            raise ConfigError(f"mailbox {self.name!r}: {'; '.join(found)}")

    def check_hosts(self) -> None:
        try:
            check_hosts(self, self._rules())
        except RefusedHost as e:
            raise RefusedHost(f"mailbox {self.name!r}: {e}", kind=e.kind) from None

    def password(self) -> SecretStr:
        self._refuse_secret("password_env", "password_file")
        self.check_hosts()
        return super().password()

    def oauth_client_secret(self) -> SecretStr | None:
        self._refuse_secret("oauth_client_secret_env", "oauth_client_secret_file")
        self.check_hosts()
        return super().oauth_client_secret()

    def walmart_client_secret(self) -> SecretStr:
        self._refuse_secret("walmart_client_secret_env", "walmart_client_secret_file")
        self.check_hosts()
        return super().walmart_client_secret()

    def walmart_webhook_secret(self) -> SecretStr:
        self._refuse_secret("walmart_webhook_secret_env", "walmart_webhook_secret_file")
        return super().walmart_webhook_secret()

    def smtp(self) -> SmtpSettings | None:
        own = super().smtp()
        if own is None:
            return None
        # The mailbox's own server is always given the mailbox's login (read through password()
        # above); without password sources nothing here can read a secret past the rules.
        return own.model_copy(update={"password_env": None, "password_file": None})
