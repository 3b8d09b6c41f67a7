"""Feeding the parser without the bodies of parts never read as text: the same tree as the
standard library's, those bodies empty."""

from __future__ import annotations

import email
from email.message import EmailMessage, Message
from email.policy import compat32

from app.mail.feed import message_without_unread_bodies


def shape(message: Message) -> list[tuple[str, str | None]]:
    """Each part's type and, for a leaf, its payload."""
    return [
        (part.get_content_type(), None if part.is_multipart() else part.get_payload())
        for part in message.walk()
    ]


def mixed() -> bytes:
    msg = EmailMessage()
    msg["From"] = "a@example.com"
    msg["Subject"] = "photos"
    msg.set_content("Plain text.\n")
    msg.add_alternative("<p>HTML text.</p>\n", subtype="html")
    msg.add_attachment(b"\x89PNG" * 50_000, maintype="image", subtype="png", filename="a.png")
    inner = EmailMessage()
    inner["Subject"] = "forwarded"
    inner.set_content("Inner text.\n")
    inner.add_attachment(b"%PDF" * 50_000, maintype="application", subtype="pdf", filename="b.pdf")
    msg.add_attachment(inner)
    msg.add_attachment("After the attachments.\n", filename="notes.txt")
    return msg.as_bytes().replace(b"\n", b"\r\n")


def test_the_tree_is_the_parsers_without_the_unread_bodies() -> None:
    raw = mixed()
    ours = shape(message_without_unread_bodies(raw))
    stdlib = shape(email.message_from_bytes(raw, policy=compat32))
    assert [kind for kind, _ in ours] == [kind for kind, _ in stdlib]
    for (kind, payload), (_, whole) in zip(ours, stdlib, strict=True):
        if kind in ("image/png", "application/pdf"):
            assert payload == "" and whole and len(whole) > 200_000
        else:
            assert payload == whole, kind


def test_text_that_only_looks_like_a_boundary_is_kept() -> None:
    raw = (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        b"Content-Type: application/pdf\r\n\r\nJVBERi0x\r\n--not-b\r\n\r\nJVBERi0y\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\n--bare dashes in text\r\nend\r\n--b--\r\n"
    )
    ours = shape(message_without_unread_bodies(raw))
    assert ours[-1] == ("text/plain", "--bare dashes in text\r\nend")
    assert [kind for kind, _ in ours] == ["multipart/mixed", "application/pdf", "text/plain"]
