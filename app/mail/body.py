"""The MIME tree of a message walked once: its body text and the names of its attachments."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.policy import compat32

from app.mail.charsets import decode_bytes, decode_encoded_words, guess_decode, normalise_newlines
from app.mail.headers import (
    HeaderReader,
    collapse_whitespace,
    content_type_of,
    raw_header_text,
    split_head,
)
from app.mail.html_text import html_to_text
from app.mail.problems import Problems
from app.mail.storable import storable_text

MAX_MIME_DEPTH = 30
MAX_ATTACHMENT_NAMES = 100
# The body text kept for display, search and classification; the rest of a longer text stays in
# the raw message. A million characters is hundreds of pages: no one answers a customer from more.
MAX_BODY_CHARS = 1_000_000
# How much of a text part's encoded payload is decoded: enough for MAX_BODY_CHARS in any
# encoding a mailer uses for text (UTF-8 of three bytes a character in base64 is four), so a
# big text part costs a bounded amount of memory, not a few copies of its whole size.
MAX_PART_CHARS = 4 * MAX_BODY_CHARS

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


class BodyWalker:
    """Walks the MIME tree once: picks the body text, names the attachments."""

    def __init__(self, problems: Problems) -> None:
        self.problems = problems
        self.attachments: list[str] = []
        self._embedded: list[Message] = []

    def body(self, msg: Message, *, raw: bytes) -> str:
        try:
            segments = self._walk(msg, depth=0, top=True)
            if not _has_text(segments) and self._embedded:
                # Nothing but an attached message (a bare forward): show that message's text.
                segments = BodyWalker(Problems())._walk(self._embedded[0], depth=1, top=True)
        except Exception as exc:
            self.problems.add(f"body unreadable ({type(exc).__name__}); kept as raw text")
            _, body = split_head(raw)
            return normalise_newlines(guess_decode(body)[0])
        return "\n\n".join(segment.text.strip("\n") for segment in segments if segment.text.strip())

    def attachment_names(self) -> tuple[str, ...]:
        names = self.attachments
        if len(names) > MAX_ATTACHMENT_NAMES:
            limit = MAX_ATTACHMENT_NAMES
            self.problems.add(f"{len(names)} attachments; only the first {limit} are named")
            names = names[:MAX_ATTACHMENT_NAMES]
        return tuple(storable_text(name) for name in names)

    def _walk(self, part: Message, *, depth: int, top: bool = False) -> list[_Segment]:
        if depth > MAX_MIME_DEPTH:
            self.problems.add(f"MIME nesting deeper than {MAX_MIME_DEPTH} levels; rest ignored")
            return []
        ctype = content_type_of(part, self.problems)
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
            markup = self._text(part, where)
            return [_Segment("html", html_to_text(markup, where=where, problems=self.problems))]
        if ctype in _PLAIN_TYPES or (top and ctype.startswith("text/")):
            return [_Segment("plain", self._text(part, where))]
        return []

    def _text(self, part: Message, where: str) -> str:
        self._keep_head_of_payload(part, where)
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
        text = decode_bytes(bytes(data), charset, where=where, problems=self.problems)
        return normalise_newlines(text)

    def _keep_head_of_payload(self, part: Message, where: str) -> None:
        """Cut the payload of a part read as text to MAX_PART_CHARS, at a line end (so base64 stays
        whole lines): the rest could never reach the body text, and dropping it from the parsed
        message frees it before it is decoded."""
        payload = part.get_payload()
        if not isinstance(payload, str) or len(payload) <= MAX_PART_CHARS:
            return
        cut = payload.rfind("\n", 0, MAX_PART_CHARS) + 1 or MAX_PART_CHARS
        part.set_payload(payload[:cut])
        self.problems.add(
            f"{where} of {len(payload):,} characters: only its first {cut:,} read for the body "
            "text; the whole is in the raw message"
        )

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
                    params[key] = raw_header_text(key, raw, self.problems)
            if not any("name" in value.lower() for value in params.values()):
                return None  # no (file)name parameter to read, in any spelling: most parts
            for header, param in (("content-disposition", "filename"), ("content-type", "name")):
                value = params.get_param(param, header=header)
                if value is None:
                    continue
                name = self._param_text(value, where)
                name = decode_encoded_words(
                    name, where=f"file name in {where}", problems=self.problems
                )
                if name := collapse_whitespace(storable_text(name)):
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
        return decode_bytes(data, charset, where=f"file name in {where}", problems=self.problems)

    def _embedded_name(self, children: list[Message]) -> str:
        subject = ""
        if children:
            reader = HeaderReader(children[0], Problems())
            subject = reader.text("subject") or ""
        return f"{subject or 'attached message'}.eml"

    def _note_defects(self, part: Message, where: str) -> None:
        for defect in getattr(part, "defects", []):
            name = type(defect).__name__
            self.problems.add(f"{_DEFECT_TEXT.get(name, name)} in {where}")


def capped_body(text: str, problems: Problems) -> str:
    """``text`` cut to MAX_BODY_CHARS, saying so."""
    if len(text) <= MAX_BODY_CHARS:
        return text
    problems.add(f"body text cut at {MAX_BODY_CHARS:,} characters; the whole is in the raw message")
    return text[:MAX_BODY_CHARS]


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
