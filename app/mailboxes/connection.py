"""A mailbox's connection test: each step of a poll and of sending a reply tried in turn and
reported with its reason, changing nothing on the server (folders are opened read-only, the SMTP
session ends after the login)."""

from __future__ import annotations

from dataclasses import dataclass, field

from imapclient.exceptions import IMAPClientError

from app.config import MailboxSettings, SmtpSettings
from app.enums import FolderRole
from app.errors import ConfigError
from app.mail import smtp
from app.mail.credentials import CredentialsError, Login, OAuthLogin
from app.mail.imap import ImapMailbox
from app.mail.imap_errors import ImapError
from app.mailboxes.rules import ApiMailbox, RefusedHost
from app.oauth.grants import Logins

SMTP_OFF = (
    "not configured (no [smtp] section): slawatch sends no replies or alert emails; "
    "reply from your own mail client"
)


@dataclass
class Step:
    step: str
    ok: bool
    detail: str
    # config, auth (wrong password), reauthorize (OAuth2 sign-in refused), network (unknown
    # host, refused or silent connection), tls, folder, protocol, smtp
    error_kind: str | None = None


@dataclass
class ConnectionReport:
    mailbox: str
    steps: list[Step] = field(default_factory=list)
    folders: dict[str, str | None] = field(default_factory=dict)
    message_counts: dict[str, int] = field(default_factory=dict)
    ok: bool = False  # every step succeeded


def test(
    settings: MailboxSettings, *, logins: Logins, default_smtp: SmtpSettings | None
) -> ConnectionReport:
    """``default_smtp``: [smtp], None when there is no such section (monitoring only)."""
    report = ConnectionReport(mailbox=settings.name)
    if isinstance(settings, ApiMailbox) and not _hosts_allowed(settings, report):
        return report
    login = _credentials(settings, logins, report)
    if login is not None:
        _imap(settings, login, report)
        _smtp(settings, login, default_smtp, report)
    report.ok = all(s.ok for s in report.steps)
    return report


def _hosts_allowed(settings: ApiMailbox, report: ConnectionReport) -> bool:
    """An API mailbox's servers, when they must be public, are checked before anything else:
    a refused one is never connected to, so the test cannot probe internal ports."""
    try:
        settings.check_hosts()
    except RefusedHost as e:
        report.steps.append(Step("check the servers' addresses", False, str(e), e.kind))
        return False
    return True


def _credentials(
    settings: MailboxSettings, logins: Logins, report: ConnectionReport
) -> Login | None:
    what = "get an OAuth2 access token" if settings.auth == "oauth2" else "read the password"
    try:
        login = logins.for_mailbox(settings)
        if isinstance(login, OAuthLogin):
            login.tokens.current()  # refreshed here when due, so a refusal is named as such
    except ConfigError as e:
        report.steps.append(Step(what, False, str(e), "config"))
        return None
    except CredentialsError as e:
        report.steps.append(Step(what, False, e.reason, e.kind))
        return None
    source = settings.password_env or settings.password_file
    detail = f"{settings.oauth_provider} grant" if settings.auth == "oauth2" else f"from {source}"
    report.steps.append(Step(what, True, detail))
    return login


def _imap(settings: MailboxSettings, login: Login, report: ConnectionReport) -> None:
    where = f"{settings.username} at {settings.host}:{settings.imap_port} ({settings.security})"
    logged_in = False
    try:
        with ImapMailbox.for_settings(settings, login) as imap:
            logged_in = True
            report.steps.append(Step("log in to IMAP", True, where))
            paths = imap.locate_folders(settings)
            for role in FolderRole:
                path = paths.get(role)
                report.folders[role.value] = path
                if path is None:
                    report.steps.append(
                        Step(
                            f"find the {role} folder",
                            False,
                            f"no {role} folder found; name it with folders.{role}",
                            "folder",
                        )
                    )
                    continue
                count = imap.examine(path).exists
                report.message_counts[role.value] = count
                report.steps.append(
                    Step(f"find the {role} folder", True, f"{path}: {count} messages")
                )
    except ImapError as e:
        step = "read folders" if logged_in else "log in to IMAP"
        report.steps.append(Step(step, False, e.reason, e.kind))
    except (IMAPClientError, OSError) as e:
        report.steps.append(Step("read folders", False, f"connection lost: {e}", "network"))


def _smtp(
    settings: MailboxSettings,
    login: Login,
    default_smtp: SmtpSettings | None,
    report: ConnectionReport,
) -> None:
    """Sign in to the server replies go through: the mailbox's own, else the global one. With
    neither, there is nothing to sign in to: a seller who replies from their own mail client
    configures none, and the test passes saying so."""
    own = settings.smtp()
    server = own or default_smtp
    if server is None:
        report.steps.append(Step("check SMTP", True, SMTP_OFF))
        return
    who = f" as {server.username}" if server.username else " (no login configured)"
    where = f"{server.host}:{server.smtp_port} ({server.security}){who}"
    try:
        smtp.check_login(server, login if own else None)
    except smtp.SmtpError as e:
        report.steps.append(Step("log in to SMTP", False, e.reason, e.kind))
        return
    report.steps.append(Step("log in to SMTP", True, where))
