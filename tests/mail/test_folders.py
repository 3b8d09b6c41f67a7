"""Which server folders are read as INBOX, Sent and Junk, for the listings Gmail and Microsoft 365
really give (LIST answers as imapclient returns them)."""

from __future__ import annotations

import pytest

from app.enums import FolderRole
from app.mail.folders import choose_folders
from app.mail.imap_errors import ImapError
from app.providers import GOOGLE, MICROSOFT

GMAIL_GERMAN = [
    ((b"\\HasNoChildren",), b"/", "INBOX"),
    ((b"\\HasChildren", b"\\Noselect"), b"/", "[Gmail]"),
    ((b"\\All", b"\\HasNoChildren"), b"/", "[Gmail]/Alle Nachrichten"),
    ((b"\\HasNoChildren", b"\\Sent"), b"/", "[Gmail]/Gesendet"),
    ((b"\\HasNoChildren", b"\\Junk"), b"/", "[Gmail]/Spam"),
    ((b"\\HasNoChildren", b"\\Important"), b"/", "[Gmail]/Wichtig"),
    ((b"\\HasNoChildren", b"\\Trash"), b"/", "[Gmail]/Papierkorb"),
]
# Exchange Online without SPECIAL-USE attributes, and a user folder that looks like a sent one.
OUTLOOK = [
    ((b"\\HasNoChildren",), b"/", "INBOX"),
    ((b"\\HasNoChildren",), b"/", "Sent"),
    ((b"\\HasNoChildren",), b"/", "Sent Items"),
    ((b"\\HasNoChildren",), b"/", "Junk Email"),
    ((b"\\HasNoChildren",), b"/", "Deleted Items"),
]
NO_OVERRIDES: dict[FolderRole, str | None] = {}


def hints(preset: object) -> dict[FolderRole, str]:
    return {FolderRole.SENT: preset.sent_folder, FolderRole.SPAM: preset.spam_folder}  # type: ignore[attr-defined]


def test_gmail_in_another_language_is_found_by_special_use_never_all_mail() -> None:
    found = choose_folders(GMAIL_GERMAN, NO_OVERRIDES, hints=hints(GOOGLE))
    assert found == {
        FolderRole.INBOX: "INBOX",
        FolderRole.SENT: "[Gmail]/Gesendet",
        FolderRole.SPAM: "[Gmail]/Spam",
    }
    # All Mail holds every message again: reading it would only find copies.
    assert "[Gmail]/Alle Nachrichten" not in found.values()


def test_microsoft_365_names_come_from_the_preset_before_the_usual_names() -> None:
    found = choose_folders(OUTLOOK, NO_OVERRIDES, hints=hints(MICROSOFT))
    assert (found[FolderRole.SENT], found[FolderRole.SPAM]) == ("Sent Items", "Junk Email")
    # Without the preset, the generic list takes the first usual name.
    assert choose_folders(OUTLOOK, NO_OVERRIDES, hints={})[FolderRole.SENT] == "Sent"


def test_a_configured_folder_wins_and_must_exist() -> None:
    found = choose_folders(OUTLOOK, {FolderRole.SENT: "Sent"}, hints=hints(MICROSOFT))
    assert found[FolderRole.SENT] == "Sent"
    with pytest.raises(ImapError, match="configured spam folder 'Spam' does not exist"):
        choose_folders(OUTLOOK, {FolderRole.SPAM: "Spam"}, hints={})
