"""Raw bytes -> the stdlib's Message tree, without the bodies of parts that are never read as text.

The stdlib parser keeps each part's body as a list of line strings, then joins them: some 2.75
times the part's size at once, for an attachment whose content slawatch never reads (only its
name, from its headers). So the parser is fed up to the end of each part's headers, and the body
of a part whose headers say it is not text (nor a multipart or message holding text) is left
out, up to the next line that could be a boundary. Where in doubt (no blank line seen, a CR-only
message, a malformed Content-Type, which reads as text/plain) everything is fed.
"""

from __future__ import annotations

import re
from email.feedparser import BytesFeedParser
from email.message import Message
from email.policy import compat32
from typing import Any

# What the parser is given at a time: email.message_from_bytes would first make a string of the
# whole message and then a StringIO of it (four bytes a character), some five times its size.
FEED_BYTES = 64 * 1024
_READ_MAINTYPES = frozenset({"text", "multipart", "message"})


def message_without_unread_bodies(data: bytes) -> Message:
    parts: list[Message] = []

    def factory(*args: Any, **kwargs: Any) -> Message:
        part = Message(*args, **kwargs)
        parts.append(part)
        return part

    parser = BytesFeedParser(factory, policy=compat32)
    parts.clear()  # the parser made one to see whether the factory takes a policy
    boundaries: tuple[bytes, ...] = ()
    fed = 0  # data[:fed] is with the parser or left out
    position = 0  # where the next line begins
    in_headers = True
    while True:
        if in_headers:
            # The parser has a part's headers once it has the blank line after them.
            blank = _BLANK_LINE.search(data, position)
            if blank is None:
                break
            _feed(parser, data, fed, blank.end())
            fed = position = blank.end()
            in_headers = False
            boundaries = _boundaries(parts)
            if not _is_read(parts[-1]):
                fed = -1  # left out up to the next boundary
            continue
        # In a body only a boundary matters: a line that begins with one seen so far (the
        # parser's test is stricter, so this leaves out less than it could, never more).
        dashes = data.find(b"\n--", position - 1)
        if dashes < 0:
            break
        line = dashes + 1
        position = line + 1
        if fed >= 0 and not _begins_with(data, line, boundaries):
            # Read so far, the parser may know a boundary more (a message attached to this
            # one has its own parts).
            _feed(parser, data, fed, line)
            fed, boundaries = line, _boundaries(parts)
        if _begins_with(data, line, boundaries):
            if fed < 0:
                fed = line
            position, in_headers = line, True
    if fed >= 0:
        _feed(parser, data, fed, len(data))
    return parser.close()


def _begins_with(data: bytes, line: int, boundaries: tuple[bytes, ...]) -> bool:
    return any(data.startswith(boundary, line) for boundary in boundaries)


_BLANK_LINE = re.compile(rb"(?m)^\r?\n")


def _feed(parser: BytesFeedParser[Message], data: bytes, start: int, end: int) -> None:
    for chunk in range(start, end, FEED_BYTES):
        parser.feed(data[chunk : min(chunk + FEED_BYTES, end)])


def _boundaries(parts: list[Message]) -> tuple[bytes, ...]:
    found = {_boundary(part) for part in parts}
    return tuple(boundary for boundary in found if boundary is not None)


def _boundary(part: Message) -> bytes | None:
    try:
        boundary = part.get_boundary()
    except Exception:  # a header the parser kept but cannot read: no boundary known from it
        return None
    return None if boundary is None else b"--" + boundary.encode("ascii", "surrogateescape")


def _is_read(part: Message) -> bool:
    """Whether the part's body may become text: any but a non-text leaf, or in doubt."""
    try:
        return part.get_content_maintype() in _READ_MAINTYPES
    except Exception:
        return True
