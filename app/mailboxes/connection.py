"""A mailbox's connection test: each step of a poll tried in turn and reported with its reason,
changing nothing on the server (folders are opened read-only)."""

from __future__ import annotations

from dataclasses import dataclass, field

from imapclient.exceptions import IMAPClientError

from app.config import ConfigError, MailboxSettings
from app.enums import FolderRole
from app.mail.imap import ImapError, ImapMailbox


@dataclass
class Step:
    step: str
    ok: bool
    detail: str
    error_kind: str | None = None  # auth, network, tls, folder, protocol, config


@dataclass
class ConnectionReport:
    mailbox: str
    steps: list[Step] = field(default_factory=list)
    folders: dict[str, str | None] = field(default_factory=dict)
    message_counts: dict[str, int] = field(default_factory=dict)
    ok: bool = False  # every step succeeded


def test(settings: MailboxSettings) -> ConnectionReport:
    report = ConnectionReport(mailbox=settings.name)
    where = f"{settings.username} at {settings.host}:{settings.imap_port} ({settings.security})"
    try:
        with ImapMailbox.for_settings(settings) as imap:
            report.steps.append(Step("log in", True, where))
            paths = imap.find_folders(
                {
                    FolderRole.INBOX: settings.folders.inbox,
                    FolderRole.SENT: settings.folders.sent,
                    FolderRole.SPAM: settings.folders.spam,
                }
            )
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
    except ConfigError as e:
        report.steps.append(Step("read the password", False, str(e), "config"))
    except ImapError as e:
        report.steps.append(
            Step("log in" if not report.steps else "read folders", False, e.reason, e.kind)
        )
    except (IMAPClientError, OSError) as e:
        report.steps.append(Step("read folders", False, f"connection lost: {e}", "network"))
    report.ok = all(s.ok for s in report.steps)
    return report
