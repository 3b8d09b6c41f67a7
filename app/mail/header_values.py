"""Header values for mail slawatch writes, made from text a customer controlled.

A reply's Subject, To, In-Reply-To and References come from the customer's message. Whatever the
stored text holds (a CR/LF decoded from an encoded word, a NUL, a 10,000-character subject), each
value must stay one header: control characters never reach a header, a subject is cut to a
length every server accepts, and an id or address that is not plainly one is left out rather
than sent broken (a reply without In-Reply-To still reaches the customer; a crash does not).
"""

from __future__ import annotations

import re

MAX_SUBJECT_CHARS = 250
MAX_MESSAGE_ID_CHARS = 250  # a real one is under 100; SMTP lines end at 998
MAX_ADDRESS_CHARS = 254  # RFC 5321's limit for a path

# C0 controls (CR, LF, NUL, ESC, ...), DEL and the C1 controls.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# "<id>": printable ASCII, without spaces or further angle brackets.
_MESSAGE_ID = re.compile(r"<[\x21-\x3b\x3d\x3f-\x7e]+>")
_ADDRESS_PART = r"[^\x00-\x20\x7f-\x9f<>()\[\],;:\"@\\]+"
_ADDRESS = re.compile(f"{_ADDRESS_PART}@{_ADDRESS_PART}")


def one_line(text: str, *, max_chars: int = MAX_SUBJECT_CHARS) -> str:
    """``text`` as one header line: control characters become spaces, whitespace runs one
    space, text that is not Unicode replaced; cut to ``max_chars`` with an ellipsis."""
    text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates become "?"
    text = " ".join(_CONTROL.sub(" ", text).split())
    if len(text) > max_chars:
        text = text[: max_chars - 1].rstrip() + "…"
    return text


def usable_message_id(value: str | None) -> str | None:
    """``value`` if it is one plain ``<id>`` of a sane length, else None."""
    if value and len(value) <= MAX_MESSAGE_ID_CHARS and _MESSAGE_ID.fullmatch(value):
        return value
    return None


def usable_address(value: str | None) -> str | None:
    """``value`` if it is one plain ``local@domain`` address, else None."""
    if value and len(value) <= MAX_ADDRESS_CHARS and _ADDRESS.fullmatch(value):
        return value
    return None
