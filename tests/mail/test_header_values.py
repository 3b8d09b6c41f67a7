"""Header values for outgoing mail from text a customer controlled: one line, or left out."""

from __future__ import annotations

import pytest

from app.mail.header_values import (
    MAX_SUBJECT_CHARS,
    one_line,
    usable_address,
    usable_message_id,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Where is my order?", "Where is my order?"),
        ("Hello\r\nBcc: victim@example.com", "Hello Bcc: victim@example.com"),
        ("a\rb\nc\x00d\x1be\x7ff\x85g\x9fh", "a b c d e f g h"),
        ("  tabs\tand\u2028separators\u2029  ", "tabs and separators"),
        ("lone \ud800 surrogate", "lone ? surrogate"),
        ("kept: \u202e\u200d é 漢字 ✓", "kept: \u202e\u200d é 漢字 ✓"),  # text, not control
        ("", ""),
    ],
)
def test_one_line(text: str, expected: str) -> None:
    assert one_line(text) == expected


def test_one_line_cuts_long_text() -> None:
    cut = one_line("word " * 1000)
    assert len(cut) == MAX_SUBJECT_CHARS and cut.endswith("word…")
    assert one_line("x" * MAX_SUBJECT_CHARS) == "x" * MAX_SUBJECT_CHARS


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        ("<abc@mail.example.com>", True),
        ("<no-domain>", True),
        (None, False),
        ("", False),
        ("abc@mail.example.com", False),
        ("<a b@example.com>", False),
        ("<a\r\nBcc: victim@example.com>", False),
        ("<a@example.com> <b@example.com>", False),
        ("<<a@example.com>>", False),
        ("<é@example.com>", False),
        ("<" + "a" * 300 + "@example.com>", False),
    ],
)
def test_usable_message_id(value: str | None, usable: bool) -> None:
    assert usable_message_id(value) == (value if usable else None)


@pytest.mark.parametrize(
    ("value", "usable"),
    [
        ("0123456789ABCDEF0123456789ABCDEF@relay.walmart.com", True),
        ("Jane.Buyer+tag@example.com", True),
        (None, False),
        ("", False),
        ("no-at-sign", False),
        ("a@b@c", False),
        ("a@example.com\r\nBcc: victim@example.com", False),
        ("a@example.com, b@example.com", False),
        ("Jane <a@example.com>", False),
        ("a\x00@example.com", False),
        ("a" * 250 + "@example.com", False),
    ],
)
def test_usable_address(value: str | None, usable: bool) -> None:
    assert usable_address(value) == (value if usable else None)
