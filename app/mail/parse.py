"""Raw message bytes -> ParsedMessage: plain data for storage, threading and classification.

``parse_message`` never raises. Whatever the bytes, the message must be stored and shown, or a
customer's 48-hour clock could be lost to a parser error; anything odd is written to
``problems`` instead. The stdlib parser runs with the ``compat32`` policy, which keeps header
values as raw strings; every header is decoded by this package, defensively, one value at a
time:

* 8-bit header bytes are read as UTF-8 (RFC 6532), undecodable bytes replaced;
* RFC 2047 encoded words are decoded by a small tolerant decoder (unknown charsets, broken
  base64, words split inside a multi-byte character);
* bodies: text/plain is preferred, text/html is turned into text with ``html.parser``; a
  declared charset is tried first, then UTF-8, windows-1252 and latin-1 (which never fails).

Every string in a ParsedMessage is valid Unicode without NUL characters, so it can be stored
in any database column as is.

The steps live beside this module: ``feed.py`` gives the bytes to the stdlib parser (without
the bodies of attachments), ``headers.py`` and ``charsets.py`` decode header values,
``body.py`` walks the MIME tree (``html_text.py`` reads HTML), ``bounds.py`` bounds the header
values kept, ``problems.py`` collects what could not be read. Trimming quoted history for
display is ``quoting.py``, not parsing.
"""

from __future__ import annotations

import email
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import Message
from email.policy import compat32
from types import MappingProxyType

from app.mail.body import BodyWalker, capped_body
from app.mail.bounds import bounded_addresses, bounded_id, bounded_line, bounded_references
from app.mail.charsets import guess_decode, normalise_newlines
from app.mail.feed import message_without_unread_bodies
from app.mail.headers import HeaderReader, content_type_of, split_head, unique_in_order
from app.mail.problems import Problems, shown_value
from app.mail.storable import storable_text

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
    problems = Problems()
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


# --- the parse -------------------------------------------------------------------------------


def _as_bytes(raw: object, problems: Problems) -> bytes:
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


def _parse(raw: bytes, problems: Problems, *, headers_only: bool) -> ParsedMessage:
    if _blank(raw):
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
    headers = HeaderReader(msg, problems)
    if not headers.names and not _blank(raw):
        problems.add("no headers found")

    from_pairs = headers.addresses("from")
    if len(headers.values("from")) > 1:
        problems.add("more than one From header; the first is used")
    if not from_pairs:
        if headers.values("from"):
            problems.add(f"unparseable From header {shown_value(headers.values('from')[0])}")
        else:
            problems.add("missing From")
    elif len(from_pairs) > 1:
        problems.add("more than one address in From; the first is used")
    from_name, from_address = from_pairs[0] if from_pairs else ("", None)
    if from_address is not None and "@" not in from_address:
        problems.add(f"From address {shown_value(from_address)} has no domain")

    sender = headers.addresses("sender")
    body_text = ""
    attachment_names: tuple[str, ...] = ()
    if not headers_only:
        walker = BodyWalker(problems)
        body_text = storable_text(capped_body(walker.body(msg, raw=data), problems))
        attachment_names = walker.attachment_names()
    # Everything that may add a problem runs before ParsedMessage takes the list.
    message_id = headers.message_id()
    in_reply_to = bounded_id(headers.in_reply_to())
    references = bounded_references(headers.references(), problems)
    reply_to = _address_list(headers, "Reply-To", problems)
    to = _address_list(headers, "To", problems)
    cc = _address_list(headers, "Cc", problems)
    subject = bounded_line(headers.text("subject") or "", name="Subject", problems=problems)
    from_name = bounded_line(from_name, name="From name", problems=problems)
    date = headers.date()
    content_type = content_type_of(msg, problems)
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


def _address_list(headers: HeaderReader, name: str, problems: Problems) -> tuple[str, ...]:
    addresses = unique_in_order(address for _, address in headers.addresses(name.lower()))
    return bounded_addresses(addresses, name=name, problems=problems)


def _unparsed(raw: bytes, problems: Problems) -> ParsedMessage:
    """The fallback when parsing failed outright: no headers, the bytes as text."""
    text, _ = guess_decode(raw)
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
        body_text=storable_text(capped_body(normalise_newlines(text), problems)),
        attachment_names=(),
        content_type="text/plain",
        headers=MappingProxyType({}),
        problems=problems.as_tuple(),
        size=len(raw),
    )


def _blank(data: bytes) -> bool:
    """Whether ``data`` is empty or only whitespace; unlike ``not data.strip()``, without a copy of
    a message that ends in a line break (as every message does)."""
    return not data or data.isspace()


def _note_line_endings(raw: bytes, problems: Problems) -> None:
    # Counted, not found in a copy without the CRLFs: a copy is as big as the message.
    crlf = raw.count(b"\r\n")
    if raw.count(b"\n") > crlf:
        problems.add("bare LF line endings")
    if raw.count(b"\r") > crlf:
        problems.add("CR-only line endings")


def _message_from_bytes(data: bytes, problems: Problems) -> Message:
    try:
        return message_without_unread_bodies(data)
    except Exception as exc:  # e.g. RecursionError on absurdly nested MIME
        problems.add(
            f"MIME structure unreadable ({type(exc).__name__}); headers kept, body kept as text"
        )
    head, body = split_head(data)
    try:
        msg = email.message_from_bytes(head, policy=compat32)
    except Exception:
        msg = Message(policy=compat32)
    # The body as a single text/plain part, whatever the headers claim.
    for name in ("content-type", "content-transfer-encoding"):
        del msg[name]
    msg.set_payload(body.decode("ascii", "surrogateescape"))
    return msg
