"""Header values decoded from the raw header lines: text, addresses, message ids, dates."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from app.mail.charsets import decode_encoded_words
from app.mail.problems import Problems, shown_value
from app.mail.storable import storable_text

_MSG_ID = re.compile(r"<([^<>]*)>")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
# One mailbox written plainly: "Name <local@domain>" or "local@domain", the name of words made of
# letters, digits and . _ ' - only; anything else (quotes, comments, groups, several addresses)
# goes through getaddresses. The name keeps its spaces; addresses() collapses them.
_ADDR_SPEC = r"([A-Za-z0-9_%+-][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)"
_SIMPLE_MAILBOX = re.compile(
    rf"[ \t]*(?:([A-Za-z0-9_'-][A-Za-z0-9._' \t-]*)?<{_ADDR_SPEC}>|{_ADDR_SPEC})[ \t]*"
)


class HeaderReader:
    """Decoded header values, read once from the raw header lines; never raises."""

    def __init__(self, msg: Message, problems: Problems) -> None:
        self._problems = problems
        self._values: dict[str, list[str]] = {}
        try:
            items = list(msg.raw_items())
        except Exception as exc:
            problems.add(f"headers unreadable ({type(exc).__name__})")
            items = []
        for name, value in items:
            key = str(name).strip().lower()
            self._values.setdefault(key, []).append(raw_header_text(key, value, problems))
        self.names = frozenset(self._values)

    def values(self, name: str) -> list[str]:
        return self._values.get(name, [])

    def text(self, name: str) -> str | None:
        """The first value, RFC 2047 decoded, whitespace collapsed; None when absent."""
        values = self.values(name)
        if not values:
            return None
        decoded = decode_encoded_words(values[0], where=f"{name} header", problems=self._problems)
        # An encoded word can carry a NUL ("=00") or, in UTF-7, a lone surrogate.
        cleaned = storable_text(decoded)
        if cleaned != decoded:
            self._problems.add(f"NUL or invalid Unicode in the {name} header; replaced")
        return collapse_whitespace(cleaned)

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(display name, lowercased address) pairs from every occurrence of the header."""
        values = self.values(name)
        if not values:
            return []
        pairs = self._getaddresses(values)
        if not any("@" in address for _, address in pairs):
            # Some senders encode the whole header, address included, as encoded words.
            decoded = [decode_encoded_words(value) for value in values]
            if decoded != values:
                pairs = self._getaddresses(decoded) or pairs
        result = []
        for display, address in pairs:
            if not address:
                continue
            name_text = decode_encoded_words(
                display, where=f"{name} header", problems=self._problems
            )
            result.append(
                (collapse_whitespace(storable_text(name_text)), storable_text(address.lower()))
            )
        return result

    def _getaddresses(self, values: list[str]) -> list[tuple[str, str]]:
        simple = [m for value in values if (m := _SIMPLE_MAILBOX.fullmatch(value))]
        if len(simple) == len(values):
            # What getaddresses gives for these, without its character-by-character walk (the
            # most expensive step of parsing a typical message).
            return [(m.group(1) or "", m.group(2) or m.group(3)) for m in simple]
        try:
            pairs = getaddresses(values)
        except Exception:
            return []
        return [(display, address.strip()) for display, address in pairs]

    def message_id(self) -> str | None:
        values = self.values("message-id")
        value = values[0].strip() if values else ""
        if not value:
            self._problems.add("missing Message-ID")
            return None
        ids = _msg_ids(value)
        if ids:
            return ids[0]
        token = value.split()[0].strip("<>")
        if not token:
            self._problems.add(f"empty Message-ID {shown_value(value)}")
            return None
        self._problems.add(f"Message-ID without angle brackets {shown_value(value)}")
        return f"<{token}>"

    def in_reply_to(self) -> str | None:
        values = self.values("in-reply-to")
        ids = _msg_ids(values[0]) if values else []
        if not ids and values and values[0].strip():
            ids = _bare_ids(values[0])
            if not ids:
                self._problems.add(f"unparseable In-Reply-To header {shown_value(values[0])}")
        return ids[0] if ids else None

    def references(self) -> tuple[str, ...]:
        ids: list[str] = []
        for value in self.values("references"):
            ids.extend(_msg_ids(value) or _bare_ids(value))
        return unique_in_order(ids)

    def date(self) -> datetime | None:
        values = self.values("date")
        value = values[0].strip() if values else ""
        if not value:
            self._problems.add("missing Date")
            return None
        try:
            parsed = parsedate_to_datetime(value)
        except Exception:
            parsed = None
        if parsed is None:
            try:
                parsed = datetime.fromisoformat(value)
                self._problems.add(f"Date header {shown_value(value)} is ISO 8601, not RFC 5322")
            except ValueError:
                self._problems.add(f"unparseable Date header {shown_value(value)}")
                return None
        try:
            if parsed.tzinfo is None:
                # "-0000" (or no zone at all): the time is UTC, the sender's zone unknown.
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            self._problems.add(f"Date header {shown_value(value)} is out of range")
            return None


def raw_header_text(name: str, value: object, problems: Problems) -> str:
    """A raw header value as Unicode: 8-bit bytes read as UTF-8, folding line breaks removed."""
    text = value if isinstance(value, str) else str(value)
    if not text.isascii():  # 8-bit bytes arrive as surrogate escapes
        data = text.encode("utf-8", "surrogateescape")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("utf-8", "replace")
            problems.add(f"8-bit bytes in the {name} header are not UTF-8; replaced")
    if "\r" in text or "\n" in text:
        text = _LINE_BREAK.sub("", text)
    return storable_text(text)


def _msg_ids(value: str) -> list[str]:
    ids = []
    for match in _MSG_ID.finditer(value):
        inner = "".join(match.group(1).split())
        if inner:
            ids.append(f"<{inner}>")
    return ids


def _bare_ids(value: str) -> list[str]:
    """Message ids written without angle brackets: tokens with an "@"."""
    return [f"<{token.strip('<>,;')}>" for token in value.split() if "@" in token]


def content_type_of(msg: Message, problems: Problems) -> str:
    try:
        return str(msg.get_content_type()).lower()
    except Exception:
        problems.add("unreadable Content-Type; treated as text/plain")
        return "text/plain"


def split_head(data: bytes) -> tuple[bytes, bytes]:
    """The header block (with its blank line) and the body, split at the first blank line."""
    header_end = re.search(rb"\r?\n\r?\n|\r\r", data)
    if header_end is None:
        return data, b""
    return data[: header_end.end()], data[header_end.end() :]


def unique_in_order(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())
