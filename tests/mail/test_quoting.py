"""trim_quoted_history: the new part of a reply, for display."""

from __future__ import annotations

import pytest

from app.mail.quoting import trim_quoted_history


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "Thanks, got it.\n\nOn Mon, Jun 3, 2024 at 10:00 AM Shop <s@x> wrote:\n> Hello",
            "Thanks, got it.",
        ),
        (
            "Still waiting.\r\n\r\nOn Mon, 3 Jun 2024 at 10:00, Jane Doe <jane@example.com>\r\n"
            "wrote:\r\n> old",
            "Still waiting.",
        ),
        ("New text\n-----Original Message-----\nFrom: x\nSent: y\n\nold", "New text"),
        (
            "Reply here\n\nFrom: Shop <s@x>\nSent: Monday, June 3, 2024 10:00 AM\nTo: me\n"
            "Subject: Re: order\n\nold text",
            "Reply here",
        ),
        ("Answer\n\n________________________________\nFrom: Shop\nold", "Answer"),
        ("Ja.\n\nAm 03.06.2024 um 10:00 schrieb Shop <s@x>:\n> Frage", "Ja."),
        ("Oui.\n\nLe lun. 3 juin 2024 à 10:00, Shop <s@x> a écrit :\n> Question", "Oui."),
        (
            "On Monday I wrote to you twice.\nNo answer.",
            "On Monday I wrote to you twice.\nNo answer.",
        ),
        ("> quoted line\nmy answer\n> more quoted\nmore answer", "my answer\nmore answer"),
        # Bottom-posting: the new text comes after the history marker.
        ("On Mon, Jan 1, 2024, Shop wrote:\n> old question\n\nMy answer below", "My answer below"),
        ("Just text, nothing quoted.", "Just text, nothing quoted."),
        ("From: a list of things\nwe sell: socks", "From: a list of things\nwe sell: socks"),
        ("> only\n> quoted", "> only\n> quoted"),
        ("", ""),
    ],
)
def test_trim_quoted_history(text: str, expected: str) -> None:
    assert trim_quoted_history(text) == expected
