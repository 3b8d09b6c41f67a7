"""Storable text: every string a ParsedMessage holds (problems included) passes through here."""

from __future__ import annotations


def storable_text(text: str) -> str:
    """Text that any database accepts: no NUL, no lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    if text.isascii():  # the common case, and ASCII has no surrogates
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text
