"""The validated values settings are made of: addresses, host names, OAuth2 URLs, CA files, time
zones; and the base of every settings section, which refuses unknown keys."""

from __future__ import annotations

import ipaddress
import os
import re
import stat
from email.utils import parseaddr
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

AuthMethod = Literal["password", "oauth2"]
OAuthProviderName = Literal["google", "microsoft", "custom"]


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


def insecure_url_problem(url: str) -> str | None:
    """Why a secret may not be sent to ``url`` (https only, http only to a loopback address), or
    None. The URL itself is never in the answer: it may be the secret."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "is not an http(s) URL"
    if parts.scheme == "http" and not is_loopback(host):
        return "is not https (http only to a loopback address)"
    return None


def _check_oauth_url(url: str) -> str:
    """An endpoint that tokens may be sent to: https, or http only on this machine (tests)."""
    problem = insecure_url_problem(url)
    if problem:
        raise ValueError(f"{url!r} {problem}: tokens go only over https")
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


class Section(BaseModel):
    """A part of the settings (``[sla]``, ``[[mailboxes]]``, ...): an unknown key is refused."""

    model_config = ConfigDict(extra="forbid")


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (e.g. 'America/Chicago')") from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
