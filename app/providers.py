"""What is known about the big mail providers, so a seller types only the address: servers,
ports, folders and OAuth2 endpoints of Gmail / Google Workspace and Microsoft 365.

Imports nothing of slawatch: the settings (app.config) fill a mailbox's keys from these."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# How a connection to a mail server is secured (IMAP and SMTP alike).
Security = Literal["ssl", "starttls", "plain"]

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
