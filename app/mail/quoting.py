"""Quoted history trimmed from a reply, for display: the customer's new words alone.

Used where a message is shown (pages, the API, reply drafts); the stored body keeps everything.
"""

from __future__ import annotations

import re

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
