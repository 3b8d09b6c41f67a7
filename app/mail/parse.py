"""Raw message bytes -> ParsedMessage: plain data for storage, threading and classification.

``parse_message`` never raises. Whatever the bytes, the message must be stored and shown, or a
customer's 48-hour clock could be lost to a parser error; anything odd is written to
``problems`` instead. The stdlib parser runs with the ``compat32`` policy, which keeps header
values as raw strings; every header is decoded here, defensively, one value at a time:

* 8-bit header bytes are read as UTF-8 (RFC 6532), undecodable bytes replaced;
* RFC 2047 encoded words are decoded by a small tolerant decoder (unknown charsets, broken
  base64, words split inside a multi-byte character);
* bodies: text/plain is preferred, text/html is turned into text with ``html.parser``; a
  declared charset is tried first, then UTF-8, windows-1252 and latin-1 (which never fails).

Every string in a ParsedMessage is valid Unicode without NUL characters, so it can be stored
in any database column as is.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import email
import hashlib
import html
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from types import MappingProxyType

# Headers ``classify`` looks at; ParsedMessage.headers holds these and no others.
CLASSIFICATION_HEADERS = (
    "auto-submitted",
    "precedence",
    "x-autoreply",
    "x-autorespond",
    "x-auto-response-suppress",
    "list-id",
    "list-unsubscribe",
    "return-path",
    "x-failed-recipients",
)

MAX_PROBLEMS = 50
MAX_MIME_DEPTH = 30
MAX_ATTACHMENT_NAMES = 100
_SHOWN_VALUE_CHARS = 80


@dataclass(frozen=True)
class ParsedMessage:
    message_id: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    from_address: str | None
    from_name: str | None
    sender_address: str | None
    reply_to: tuple[str, ...]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    date: datetime | None
    body_text: str
    attachment_names: tuple[str, ...]
    content_type: str
    headers: Mapping[str, str]
    problems: tuple[str, ...]
    size: int


def parse_message(raw: bytes, *, headers_only: bool = False) -> ParsedMessage:
    """Parse ``raw`` as an email message; never raises, records what it could not read.
    ``headers_only``: ``raw`` is a header whose body was left on the server, so no body is
    looked for (and its absence is no problem)."""
    problems = _Problems()
    data = _as_bytes(raw, problems)
    try:
        return _parse(data, problems, headers_only=headers_only)
    except Exception as exc:  # the last line of defence: store the message whatever happens
        problems.add(f"internal parser error ({type(exc).__name__}: {exc}); message kept as text")
        return _unparsed(data, problems)


def dedupe_key(parsed: ParsedMessage, raw: bytes) -> str:
    """A key (at most 200 characters) that is the same wherever the same message turns up."""
    message_id = parsed.message_id
    if message_id:
        if len(message_id) <= 190:
            return f"mid:{message_id}"
        digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()
        return f"mid-sha256:{digest}"
    return f"sha256:{hashlib.sha256(bytes(raw)).hexdigest()}"


# --- quoted history --------------------------------------------------------------------------

# "On <date>, <someone> wrote:", and the same in German, French and Spanish.
_REPLY_HEADER_LINE = re.compile(
    r"^\s*(?:on|am|le|el)\b.*\b(?:wrote|schrieb|a\s+écrit|escribió)\b[^:]*:\s*$",
    re.IGNORECASE,
)
_REPLY_HEADER_MAX_CHARS = 400  # real ones are short; the bound keeps the regex linear
_REPLY_HEADER_START = re.compile(r"^\s*(?:on|am|le|el)\s", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(r"^\s*-{2,}\s*original\s+message\s*-{2,}\s*$", re.IGNORECASE)
_SEPARATOR = re.compile(r"^\s*_{10,}\s*$")
_OUTLOOK_FROM = re.compile(r"^\s*\*?from:\*?\s", re.IGNORECASE)
_OUTLOOK_SENT = re.compile(r"^\s*\*?(?:sent|date):\*?\s", re.IGNORECASE)


def trim_quoted_history(text: str) -> str:
    """The new part of a reply, for display: quoted lines and the quoted history removed.

    Drops lines starting with ">" and everything from the first reply header ("On ... wrote:",
    also wrapped over two lines; "-----Original Message-----"; an Outlook "From: / Sent:"
    block; a "____" separator). Never returns "" when the input had text outside quotes.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        if _starts_history(lines, index):
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    result = "\n".join(kept).strip()
    if result:
        return result
    # Bottom-posted reply or a header first: keep whatever is not quoted or a reply header.
    unquoted = [
        line
        for index, line in enumerate(lines)
        if not line.lstrip().startswith(">") and not _is_history_marker(lines, index)
    ]
    return "\n".join(unquoted).strip() or text.strip()


def _starts_history(lines: list[str], index: int) -> bool:
    line = lines[index]
    if _is_history_marker(lines, index) or _SEPARATOR.match(line):
        return True
    if _OUTLOOK_FROM.match(line):
        following = lines[index + 1 : index + 4]
        return any(_OUTLOOK_SENT.match(candidate) for candidate in following)
    return False


def _is_history_marker(lines: list[str], index: int) -> bool:
    line = lines[index]
    if len(line) > _REPLY_HEADER_MAX_CHARS:
        return False
    if _REPLY_HEADER_LINE.match(line) or _ORIGINAL_MESSAGE.match(line):
        return True
    if _REPLY_HEADER_START.match(line) and index + 1 < len(lines):
        # "On Mon, 3 Jun 2024 at 10:00, Jane Doe <jane@example.com>\nwrote:"
        joined = f"{line.rstrip()} {lines[index + 1].strip()}"
        return bool(_REPLY_HEADER_LINE.match(joined))
    if index > 0 and _REPLY_HEADER_START.match(lines[index - 1]):
        joined = f"{lines[index - 1].rstrip()} {line.strip()}"
        return bool(_REPLY_HEADER_LINE.match(joined))
    return False


# --- problems --------------------------------------------------------------------------------


class _Problems:
    """An ordered set of problem descriptions, capped so a torture message stays small."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._seen: set[str] = set()
        self._dropped = 0

    def add(self, problem: str) -> None:
        problem = _clean(problem)
        if problem in self._seen:
            return
        if len(self._items) >= MAX_PROBLEMS:
            self._dropped += 1
            return
        self._seen.add(problem)
        self._items.append(problem)

    def as_tuple(self) -> tuple[str, ...]:
        if self._dropped:
            return (*self._items, f"{self._dropped} more problems not listed")
        return tuple(self._items)


def _shown(value: str) -> str:
    """A header value quoted in a problem: repr, cut short."""
    value = " ".join(value.split())
    if len(value) > _SHOWN_VALUE_CHARS:
        value = value[:_SHOWN_VALUE_CHARS] + "…"
    return repr(value)


def _clean(text: str) -> str:
    """Text that any database accepts: no NUL, no lone surrogates."""
    if "\x00" in text:
        text = text.replace("\x00", "\ufffd")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return text


def _collapse(text: str) -> str:
    return " ".join(text.split())


# --- the parse -------------------------------------------------------------------------------


def _as_bytes(raw: object, problems: _Problems) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, bytearray | memoryview):
        return bytes(raw)
    if isinstance(raw, str):
        problems.add("message given as text, not bytes; encoded as UTF-8")
        return raw.encode("utf-8", "surrogateescape")
    problems.add(f"message given as {type(raw).__name__}, not bytes; nothing to parse")
    return b""


_LEADING_BLANK_LINES = re.compile(rb"\A(?:[ \t]*(?:\r\n|\r|\n))+")


def _parse(raw: bytes, problems: _Problems, *, headers_only: bool) -> ParsedMessage:
    if not raw.strip():
        problems.add("empty message")
    _note_line_endings(raw, problems)
    data = raw
    if data.startswith(b"\xef\xbb\xbf"):
        problems.add("byte order mark before the headers; ignored")
        data = data[3:]
    leading = _LEADING_BLANK_LINES.match(data)
    if leading and data[leading.end() :].strip():
        problems.add("blank line(s) before the headers; ignored")
        data = data[leading.end() :]

    msg = _message_from_bytes(data, problems)
    headers = _HeaderReader(msg, problems)
    if not headers.names and raw.strip():
        problems.add("no headers found")

    from_pairs = headers.addresses("from")
    if len(headers.values("from")) > 1:
        problems.add("more than one From header; the first is used")
    if not from_pairs:
        if headers.values("from"):
            problems.add(f"unparseable From header {_shown(headers.values('from')[0])}")
        else:
            problems.add("missing From")
    elif len(from_pairs) > 1:
        problems.add("more than one address in From; the first is used")
    from_name, from_address = from_pairs[0] if from_pairs else ("", None)
    if from_address is not None and "@" not in from_address:
        problems.add(f"From address {_shown(from_address)} has no domain")

    sender = headers.addresses("sender")
    body_text = ""
    attachment_names: tuple[str, ...] = ()
    if not headers_only:
        walker = _BodyWalker(problems)
        body_text = _clean(walker.body(msg, raw=data))
        attachment_names = walker.attachment_names()
    # Everything that may add a problem runs before ParsedMessage takes the list.
    message_id = headers.message_id()
    in_reply_to = headers.in_reply_to()
    references = headers.references()
    reply_to = _unique(address for _, address in headers.addresses("reply-to"))
    to = _unique(address for _, address in headers.addresses("to"))
    cc = _unique(address for _, address in headers.addresses("cc"))
    subject = headers.text("subject") or ""
    date = headers.date()
    content_type = _content_type(msg, problems)
    classification_headers = {
        name: value for name in CLASSIFICATION_HEADERS if (value := headers.text(name)) is not None
    }
    return ParsedMessage(
        message_id=message_id,
        in_reply_to=in_reply_to,
        references=references,
        from_address=from_address,
        from_name=from_name or None,
        sender_address=sender[0][1] if sender else None,
        reply_to=reply_to,
        to=to,
        cc=cc,
        subject=subject,
        date=date,
        body_text=body_text,
        attachment_names=attachment_names,
        content_type=content_type,
        headers=MappingProxyType(classification_headers),
        problems=problems.as_tuple(),
        size=len(raw),
    )


def _unparsed(raw: bytes, problems: _Problems) -> ParsedMessage:
    """The fallback when parsing failed outright: no headers, the bytes as text."""
    text, _ = _guess_decode(raw)
    return ParsedMessage(
        message_id=None,
        in_reply_to=None,
        references=(),
        from_address=None,
        from_name=None,
        sender_address=None,
        reply_to=(),
        to=(),
        cc=(),
        subject="",
        date=None,
        body_text=_clean(_normalise_newlines(text)),
        attachment_names=(),
        content_type="text/plain",
        headers=MappingProxyType({}),
        problems=problems.as_tuple(),
        size=len(raw),
    )


def _note_line_endings(raw: bytes, problems: _Problems) -> None:
    without_crlf = raw.replace(b"\r\n", b"")
    if b"\n" in without_crlf:
        problems.add("bare LF line endings")
    if b"\r" in without_crlf:
        problems.add("CR-only line endings")


def _message_from_bytes(data: bytes, problems: _Problems) -> Message:
    try:
        return email.message_from_bytes(data, policy=compat32)
    except Exception as exc:  # e.g. RecursionError on absurdly nested MIME
        problems.add(
            f"MIME structure unreadable ({type(exc).__name__}); headers kept, body kept as text"
        )
    head, body = _split_head(data)
    try:
        msg = email.message_from_bytes(head, policy=compat32)
    except Exception:
        msg = Message(policy=compat32)
    # The body as a single text/plain part, whatever the headers claim.
    for name in ("content-type", "content-transfer-encoding"):
        del msg[name]
    msg.set_payload(body.decode("ascii", "surrogateescape"))
    return msg


def _split_head(data: bytes) -> tuple[bytes, bytes]:
    """The header block (with its blank line) and the body, split at the first blank line."""
    header_end = re.search(rb"\r?\n\r?\n|\r\r", data)
    if header_end is None:
        return data, b""
    return data[: header_end.end()], data[header_end.end() :]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


# --- headers ---------------------------------------------------------------------------------

_MSG_ID = re.compile(r"<([^<>]*)>")


class _HeaderReader:
    """Decoded header values, read once from the raw header lines; never raises."""

    def __init__(self, msg: Message, problems: _Problems) -> None:
        self._problems = problems
        self._values: dict[str, list[str]] = {}
        try:
            items = list(msg.raw_items())
        except Exception as exc:
            problems.add(f"headers unreadable ({type(exc).__name__})")
            items = []
        for name, value in items:
            key = str(name).strip().lower()
            self._values.setdefault(key, []).append(_raw_header_text(key, value, problems))
        self.names = frozenset(self._values)

    def values(self, name: str) -> list[str]:
        return self._values.get(name, [])

    def text(self, name: str) -> str | None:
        """The first value, RFC 2047 decoded, whitespace collapsed; None when absent."""
        values = self.values(name)
        if not values:
            return None
        decoded = _decode_words(values[0], where=f"{name} header", problems=self._problems)
        # An encoded word can carry a NUL ("=00") or, in UTF-7, a lone surrogate.
        cleaned = _clean(decoded)
        if cleaned != decoded:
            self._problems.add(f"NUL or invalid Unicode in the {name} header; replaced")
        return _collapse(cleaned)

    def addresses(self, name: str) -> list[tuple[str, str]]:
        """(display name, lowercased address) pairs from every occurrence of the header."""
        values = self.values(name)
        if not values:
            return []
        pairs = self._getaddresses(values)
        if not any("@" in address for _, address in pairs):
            # Some senders encode the whole header, address included, as encoded words.
            decoded = [_decode_words(value) for value in values]
            if decoded != values:
                pairs = self._getaddresses(decoded) or pairs
        result = []
        for display, address in pairs:
            if not address:
                continue
            name_text = _decode_words(display, where=f"{name} header", problems=self._problems)
            result.append((_collapse(_clean(name_text)), _clean(address.lower())))
        return result

    def _getaddresses(self, values: list[str]) -> list[tuple[str, str]]:
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
            self._problems.add(f"empty Message-ID {_shown(value)}")
            return None
        self._problems.add(f"Message-ID without angle brackets {_shown(value)}")
        return f"<{token}>"

    def in_reply_to(self) -> str | None:
        values = self.values("in-reply-to")
        ids = _msg_ids(values[0]) if values else []
        if not ids and values and values[0].strip():
            ids = _bare_ids(values[0])
            if not ids:
                self._problems.add(f"unparseable In-Reply-To header {_shown(values[0])}")
        return ids[0] if ids else None

    def references(self) -> tuple[str, ...]:
        ids: list[str] = []
        for value in self.values("references"):
            ids.extend(_msg_ids(value) or _bare_ids(value))
        return _unique(ids)

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
                self._problems.add(f"Date header {_shown(value)} is ISO 8601, not RFC 5322")
            except ValueError:
                self._problems.add(f"unparseable Date header {_shown(value)}")
                return None
        try:
            if parsed.tzinfo is None:
                # "-0000" (or no zone at all): the time is UTC, the sender's zone unknown.
                return parsed.replace(tzinfo=UTC)
            return parsed.astimezone(UTC)
        except (OverflowError, ValueError):
            self._problems.add(f"Date header {_shown(value)} is out of range")
            return None


def _raw_header_text(name: str, value: object, problems: _Problems) -> str:
    """A raw header value as Unicode: 8-bit bytes read as UTF-8, folding line breaks removed."""
    text = value if isinstance(value, str) else str(value)
    data = text.encode("utf-8", "surrogateescape")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
        problems.add(f"8-bit bytes in the {name} header are not UTF-8; replaced")
    return _clean(re.sub(r"\r\n|\r|\n", "", text))


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


def _content_type(msg: Message, problems: _Problems) -> str:
    try:
        return str(msg.get_content_type()).lower()
    except Exception:
        problems.add("unreadable Content-Type; treated as text/plain")
        return "text/plain"


# --- RFC 2047 encoded words ------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\r\n]*)\?=")


def _decode_words(value: str, *, where: str = "header", problems: _Problems | None = None) -> str:
    """``value`` with RFC 2047 encoded words decoded; tolerant, never raises.

    Whitespace between adjacent encoded words is dropped (RFC 2047 6.2); adjacent words in the
    same charset are joined before decoding, so a character split across two words survives.
    """
    if "=?" not in value:
        return value
    sink = problems if problems is not None else _Problems()
    parts: list[str | tuple[str, bytes]] = []
    position = 0
    for match in _ENCODED_WORD.finditer(value):
        between = value[position : match.start()]
        previous_is_word = bool(parts) and isinstance(parts[-1], tuple)
        if between and not (previous_is_word and not between.strip()):
            parts.append(between)
        position = match.end()
        charset = match.group(1).split("*", 1)[0].lower()  # RFC 2231: "utf-8*en"
        decoded = _decode_word_payload(match.group(2), match.group(3))
        if decoded is None:
            sink.add(f"broken encoded word in {where}; kept as is")
            parts.append(match.group(0))
            continue
        last = parts[-1] if parts else None
        if isinstance(last, tuple) and last[0] == charset:
            parts[-1] = (charset, last[1] + decoded)
        else:
            parts.append((charset, decoded))
    parts.append(value[position:])
    out = []
    for part in parts:
        if isinstance(part, tuple):
            out.append(_decode_bytes(part[1], part[0], where=where, problems=sink))
        else:
            out.append(part)
    return "".join(out)


def _decode_word_payload(encoding: str, text: str) -> bytes | None:
    data = text.encode("utf-8", "replace")
    try:
        if encoding in "bB":
            data = data.replace(b" ", b"")
            return base64.b64decode(data + b"=" * (-len(data) % 4))
        return binascii.a2b_qp(data, header=True)
    except (binascii.Error, ValueError):
        return None


# --- charsets --------------------------------------------------------------------------------

# Labels Python does not know, or knows only as a smaller subset of what mailers really send.
_CHARSET_ALIASES = {
    "us-ascii": "ascii",
    "iso-8859-1": "cp1252",
    "iso8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso-8859-8-i": "iso-8859-8",
    "iso-8859-6-i": "iso-8859-6",
    "windows-874": "cp874",
    "x-sjis": "cp932",
    "shift-jis": "cp932",
    "shift_jis": "cp932",
    "sjis": "cp932",
    "x-euc-jp": "euc_jp",
    "ks_c_5601-1987": "cp949",
    "ks_c_5601": "cp949",
    "euc-kr": "cp949",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "euc-cn": "gb18030",
    "big5": "big5hkscs",
    "x-mac-roman": "mac-roman",
    "utf8": "utf-8",
}
# Text not valid in its declared charset is tried in these: (for 7-bit text, for 8-bit text,
# after UTF-8). Japanese carriers extend ISO-2022-JP or label Shift_JIS/EUC-JP as it.
_MISLABELLED_AS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "iso-2022-jp": (("iso2022_jp_2", "iso2022_jp_ext", "iso2022_jp_3"), ("cp932", "euc_jp")),
}
# Labels that say "I don't know": decoded as if no charset were given.
_NO_CHARSET = frozenset({"", "unknown", "unknown-8bit", "x-unknown", "x-user-defined", "8bit"})


def _decode_bytes(data: bytes, charset: str | None, *, where: str, problems: _Problems) -> str:
    label = (charset or "").strip().strip("\"'").lower()
    if label in _NO_CHARSET:
        if data.isascii():
            return data.decode("ascii")
        guessed, used = _guess_decode(data)
        what = f"charset {label!r}" if label else "no charset"
        problems.add(f"{what} for 8-bit text in {where}; decoded as {used}")
        return guessed
    codec = _CHARSET_ALIASES.get(label, label)
    text: str | None
    try:
        text = _strict_decode(data, codec)
    except LookupError:
        guessed, used = _guess_decode(data)
        problems.add(f"unknown charset {label!r} in {where}; decoded as {used}")
        return guessed
    if text is None and codec != label:
        with contextlib.suppress(LookupError):
            text = _strict_decode(data, label)
    if text is not None:
        return text
    if codec == "ascii":
        guessed, used = _guess_decode(data)
        problems.add(f"8-bit text in {where} declared us-ascii; decoded as {used}")
        return guessed
    seven_bit, eight_bit = _MISLABELLED_AS.get(codec, ((), ()))
    for other in seven_bit if data.isascii() else ("utf-8", *eight_bit):
        text = _strict_decode(data, other)
        if text is not None:
            problems.add(f"text in {where} is not valid {label}; decoded as {other}")
            return text
    problems.add(f"invalid {label} bytes in {where}; replaced")
    try:
        return data.decode(codec, "replace")
    except Exception:  # a codec that fails even with errors="replace"
        return _guess_decode(data)[0]


def _strict_decode(data: bytes, codec: str) -> str | None:
    """``data`` decoded with ``codec``, None when it is not valid; LookupError if unknown."""
    try:
        return data.decode(codec)
    except LookupError:
        raise
    except Exception:  # UnicodeDecodeError, or anything a strange codec raises
        return None


def _guess_decode(data: bytes) -> tuple[str, str]:
    """Text and the name of the charset that read it: UTF-8, windows-1252, else latin-1."""
    for codec, name in (("utf-8", "utf-8"), ("cp1252", "windows-1252")):
        try:
            return data.decode(codec), name
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def _normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- bodies and attachments ------------------------------------------------------------------

_KNOWN_TRANSFER_ENCODINGS = frozenset(
    {"", "7bit", "8bit", "binary", "quoted-printable", "base64"}
    | {"x-uuencode", "uuencode", "uue", "x-uue"}
)

# Inline parts read as plain text anywhere; a top-level text/* of any kind is read too.
_PLAIN_TYPES = frozenset({"text/plain", "text/enriched", "text/richtext"})

_DEFECT_TEXT = {
    "NoBoundaryInMultipartDefect": "multipart without a boundary",
    "StartBoundaryNotFoundDefect": "multipart boundary never found",
    "CloseBoundaryNotFoundDefect": "multipart closing boundary missing",
    "FirstHeaderLineIsContinuationDefect": "first header line is a continuation line",
    "MisplacedEnvelopeHeaderDefect": "'From ' line inside the headers",
    "MissingHeaderBodySeparatorDefect": "a line that is not a header ended the headers",
    "MultipartInvariantViolationDefect": "multipart with no parts",
    "InvalidMultipartContentTransferEncodingDefect": "multipart with a transfer encoding",
    "InvalidBase64PaddingDefect": "invalid base64 padding",
    "InvalidBase64CharactersDefect": "invalid base64 characters",
    "InvalidBase64LengthDefect": "invalid base64 length",
}


@dataclass
class _Segment:
    kind: str  # "plain" or "html"
    text: str


class _BodyWalker:
    """Walks the MIME tree once: picks the body text, names the attachments."""

    def __init__(self, problems: _Problems) -> None:
        self.problems = problems
        self.attachments: list[str] = []
        self._embedded: list[Message] = []

    def body(self, msg: Message, *, raw: bytes) -> str:
        try:
            segments = self._walk(msg, depth=0, top=True)
            if not _has_text(segments) and self._embedded:
                # Nothing but an attached message (a bare forward): show that message's text.
                segments = _BodyWalker(_Problems())._walk(self._embedded[0], depth=1, top=True)
        except Exception as exc:
            self.problems.add(f"body unreadable ({type(exc).__name__}); kept as raw text")
            _, body = _split_head(raw)
            return _normalise_newlines(_guess_decode(body)[0])
        return "\n\n".join(segment.text.strip("\n") for segment in segments if segment.text.strip())

    def attachment_names(self) -> tuple[str, ...]:
        names = self.attachments
        if len(names) > MAX_ATTACHMENT_NAMES:
            limit = MAX_ATTACHMENT_NAMES
            self.problems.add(f"{len(names)} attachments; only the first {limit} are named")
            names = names[:MAX_ATTACHMENT_NAMES]
        return tuple(_clean(name) for name in names)

    def _walk(self, part: Message, *, depth: int, top: bool = False) -> list[_Segment]:
        if depth > MAX_MIME_DEPTH:
            self.problems.add(f"MIME nesting deeper than {MAX_MIME_DEPTH} levels; rest ignored")
            return []
        ctype = _content_type(part, self.problems)
        where = "message body" if top else f"{ctype} part"
        try:
            segments = self._walk_part(part, ctype, where=where, depth=depth, top=top)
        finally:
            self._note_defects(part, where)
        return segments

    def _walk_part(
        self, part: Message, ctype: str, *, where: str, depth: int, top: bool
    ) -> list[_Segment]:
        disposition = _disposition(part)
        filename = self._filename(part, where)
        payload = part.get_payload()
        if isinstance(payload, list):
            children = [child for child in payload if isinstance(child, Message)]
            if ctype in ("message/rfc822", "message/global"):
                self._embedded.extend(children[:1])
                self.attachments.append(filename or self._embedded_name(children))
                return []
            if not ctype.startswith("multipart/"):
                return []  # message/delivery-status and the like: machine-readable blocks
            found = [self._walk(child, depth=depth + 1) for child in children]
            if ctype == "multipart/alternative":
                return _choose_alternative(found)
            return [segment for segments in found for segment in segments]

        attachment = disposition == "attachment" or (
            filename is not None and disposition != "inline"
        )
        if filename is not None:
            self.attachments.append(filename)
        elif attachment:
            self.attachments.append(f"(unnamed {ctype})")
        if attachment:
            return []
        if ctype.startswith("multipart/"):
            self.problems.add(f"{ctype} without usable parts; its raw text is kept as the body")
            return [_Segment("plain", self._text(part, where))]
        if ctype == "text/html":
            return [_Segment("html", self._html(self._text(part, where), where))]
        if ctype in _PLAIN_TYPES or (top and ctype.startswith("text/")):
            return [_Segment("plain", self._text(part, where))]
        return []

    def _text(self, part: Message, where: str) -> str:
        cte = _header_str(part, "content-transfer-encoding").strip().lower()
        if cte not in _KNOWN_TRANSFER_ENCODINGS:
            self.problems.add(f"unknown Content-Transfer-Encoding {cte!r} in {where}; used as is")
        try:
            data = part.get_payload(decode=True)
        except Exception as exc:
            self.problems.add(f"undecodable {where} ({type(exc).__name__}); used as is")
            data = part.get_payload(decode=False)
        if data is None:
            data = b""
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        try:
            charset = part.get_content_charset()
        except Exception:
            self.problems.add(f"unreadable charset in {where}")
            charset = None
        text = _decode_bytes(bytes(data), charset, where=where, problems=self.problems)
        return _normalise_newlines(text)

    def _html(self, markup: str, where: str) -> str:
        converter = _HTMLToText()
        try:
            converter.feed(markup)
        except Exception as exc:  # html.parser gives up on some garbage (AssertionError)
            name = type(exc).__name__
            self.problems.add(f"HTML in {where} unparseable ({name}); tags stripped instead")
            return _tidy(re.sub(r"[^\S\n]+", " ", _strip_tags(markup)))
        if "<" in converter.rawdata:
            self.problems.add(f"unterminated HTML markup at the end of {where}")
        converter.finish()
        return converter.text()

    def _filename(self, part: Message, where: str) -> str | None:
        """The part's file name: Content-Disposition filename, else Content-Type name.

        Read from the raw headers (8-bit names as UTF-8), then RFC 2231 (``filename*=``) and
        RFC 2047 (``name="=?utf-8?b?...?="``, not standard but common) decoded.
        """
        try:
            params = Message(policy=compat32)
            for header, raw in part.raw_items():
                key = str(header).strip().lower()
                if key in ("content-disposition", "content-type") and key not in params:
                    params[key] = _raw_header_text(key, raw, self.problems)
            for header, param in (("content-disposition", "filename"), ("content-type", "name")):
                value = params.get_param(param, header=header)
                if value is None:
                    continue
                name = self._param_text(value, where)
                name = _decode_words(name, where=f"file name in {where}", problems=self.problems)
                if name := _collapse(_clean(name)):
                    return name
        except Exception as exc:
            self.problems.add(f"unreadable file name in {where} ({type(exc).__name__})")
        return None

    def _param_text(self, value: str | tuple[str | None, str | None, str], where: str) -> str:
        if not isinstance(value, tuple):
            return str(value)
        charset, _language, text = value  # RFC 2231: percent-decoded, one char per byte
        try:
            data = text.encode("latin-1")
        except UnicodeEncodeError:
            data = text.encode("utf-8")
        return _decode_bytes(data, charset, where=f"file name in {where}", problems=self.problems)

    def _embedded_name(self, children: list[Message]) -> str:
        subject = ""
        if children:
            reader = _HeaderReader(children[0], _Problems())
            subject = reader.text("subject") or ""
        return f"{subject or 'attached message'}.eml"

    def _note_defects(self, part: Message, where: str) -> None:
        for defect in getattr(part, "defects", []):
            name = type(defect).__name__
            self.problems.add(f"{_DEFECT_TEXT.get(name, name)} in {where}")


def _has_text(segments: list[_Segment]) -> bool:
    return any(segment.text.strip() for segment in segments)


def _choose_alternative(found: list[list[_Segment]]) -> list[_Segment]:
    """Of the alternatives, the first with plain text; else the first with any text."""
    for segments in found:
        if any(segment.kind == "plain" and segment.text.strip() for segment in segments):
            return segments
    for segments in found:
        if _has_text(segments):
            return segments
    return []


def _header_str(part: Message, name: str) -> str:
    try:
        value = part.get(name)
    except Exception:
        return ""
    return "" if value is None else str(value)


def _disposition(part: Message) -> str | None:
    try:
        value = part.get_content_disposition()
    except Exception:
        return None
    return value.lower() if value else None


# --- HTML to text ----------------------------------------------------------------------------

_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "br", "center", "dd", "div", "dl", "dt",
        "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "tfoot",
        "thead", "tr", "ul",
    }
)  # fmt: skip
_CELL_TAGS = frozenset({"td", "th"})
_SKIPPED_TAGS = frozenset({"script", "style", "title", "template"})


class _HTMLToText(HTMLParser):
    """Text of an HTML body: scripts and styles dropped, entities decoded, blocks on lines."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._chunks: list[str] = []
        self._skipping: str | None = None
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skipping:
            return
        if tag in _SKIPPED_TAGS:
            self._skipping = tag
        elif tag == "pre":
            self._pre += 1
            self._chunks.append("\n")
        elif tag in _BLOCK_TAGS:
            self._chunks.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self._skipping and tag in _BLOCK_TAGS:
            self._chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if self._skipping:
            if tag == self._skipping:
                self._skipping = None
            return
        if tag == "pre":
            self._pre = max(0, self._pre - 1)
            self._chunks.append("\n")
        elif tag in _BLOCK_TAGS:
            self._chunks.append("\n")
        elif tag in _CELL_TAGS:
            self._chunks.append(" ")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            return
        if self._pre:
            self._chunks.append(data)
        else:
            self._chunks.append(re.sub(r"\s+", " ", data))

    def finish(self) -> None:
        """Ends the text, instead of close(): what feed() left unparsed is an unterminated
        construct (a tag without ">", a comment without "-->"), and close() would rescan the
        rest once per "<" in it, which takes minutes on a hostile message of a few 100 KB."""
        rest, self.rawdata = self.rawdata, ""
        if self._skipping or rest.lstrip().startswith("<!--"):
            return  # inside a script or style, or a comment: hidden to the end, as in browsers
        self.handle_data(_strip_tags(rest))

    def text(self) -> str:
        return _tidy("".join(self._chunks))


def _tidy(text: str) -> str:
    """Lines stripped, no more than one blank line in a row, no-break spaces made plain."""
    lines = [line.strip() for line in text.replace("\xa0", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _strip_tags(markup: str) -> str:
    """A crude, linear-time fallback: tags removed, entities decoded."""
    return html.unescape(re.sub(r"<[^<>]*>", " ", markup))
