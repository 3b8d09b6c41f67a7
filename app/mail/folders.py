"""Which server folders are INBOX, Sent and Junk: pure, from the server's LIST answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from app.enums import FolderRole
from app.mail.imap_errors import ImapError

SPECIAL_USE_FLAGS = {FolderRole.SENT: b"\\Sent", FolderRole.SPAM: b"\\Junk"}
COMMON_NAMES = {
    FolderRole.SENT: ["Sent", "Sent Items", "Sent Messages", "Sent Mail", "[Gmail]/Sent Mail"],
    FolderRole.SPAM: ["Junk", "Spam", "Junk E-mail", "Junk Email", "Bulk Mail", "[Gmail]/Spam"],
}

Listing = Sequence[tuple[Sequence[bytes], Any, str]]  # (flags, delimiter, path) from LIST


def choose_folders(
    listing: Listing,
    overrides: dict[FolderRole, str | None],
    *,
    hints: dict[FolderRole, str],
) -> dict[FolderRole, str | None]:
    """Server paths of INBOX, Sent and Junk: configured path, else SPECIAL-USE, else a name
    hinted by the provider preset or a usual name. SPECIAL-USE comes before names because Gmail
    and Microsoft 365 translate folder names into the account's language; Gmail's All Mail
    (\\All) and Important are never chosen, so a labelled message is read where it matters. A
    role with no folder maps to None (an account without a Junk folder is fine)."""
    paths = [name for _, _, name in listing]
    found: dict[FolderRole, str | None] = {
        FolderRole.INBOX: overrides.get(FolderRole.INBOX) or "INBOX"
    }
    for role, flag in SPECIAL_USE_FLAGS.items():
        configured = overrides.get(role)
        if configured:
            if configured not in paths:
                raise ImapError(
                    "folder",
                    f"configured {role} folder {configured!r} does not exist; "
                    f"the server has: {', '.join(sorted(paths))}",
                )
            found[role] = configured
            continue
        by_flag = next((name for flags, _, name in listing if flag in flags), None)
        hinted = [hints[role]] if role in hints else []
        found[role] = by_flag or _by_common_name(paths, [*hinted, *COMMON_NAMES[role]])
    return found


def _by_common_name(paths: list[str], names: list[str]) -> str | None:
    # Compare without case, and also below a personal namespace prefix such as "INBOX.".
    by_lower = {p.lower(): p for p in paths}
    for name in names:
        for candidate in (name, f"INBOX.{name}", f"INBOX/{name}"):
            if candidate.lower() in by_lower:
                return by_lower[candidate.lower()]
    return None
