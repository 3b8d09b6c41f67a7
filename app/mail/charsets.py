"""Bytes -> text in whatever charset a mailer claims (or got wrong), and RFC 2047 encoded words.

Never raises: a declared charset is tried first, then UTF-8, windows-1252 and latin-1 (which
never fails); what had to be guessed is written to the problems.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import re

from app.mail.problems import Problems

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


def decode_bytes(data: bytes, charset: str | None, *, where: str, problems: Problems) -> str:
    label = (charset or "").strip().strip("\"'").lower()
    if label in _NO_CHARSET:
        if data.isascii():
            return data.decode("ascii")
        guessed, used = guess_decode(data)
        what = f"charset {label!r}" if label else "no charset"
        problems.add(f"{what} for 8-bit text in {where}; decoded as {used}")
        return guessed
    codec = _CHARSET_ALIASES.get(label, label)
    text: str | None
    try:
        text = _strict_decode(data, codec)
    except LookupError:
        guessed, used = guess_decode(data)
        problems.add(f"unknown charset {label!r} in {where}; decoded as {used}")
        return guessed
    if text is None and codec != label:
        with contextlib.suppress(LookupError):
            text = _strict_decode(data, label)
    if text is not None:
        return text
    if codec == "ascii":
        guessed, used = guess_decode(data)
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
        return guess_decode(data)[0]


def _strict_decode(data: bytes, codec: str) -> str | None:
    """``data`` decoded with ``codec``, None when it is not valid; LookupError if unknown."""
    try:
        return data.decode(codec)
    except LookupError:
        raise
    except Exception:  # UnicodeDecodeError, or anything a strange codec raises
        return None


def guess_decode(data: bytes) -> tuple[str, str]:
    """Text and the name of the charset that read it: UTF-8, windows-1252, else latin-1."""
    for codec, name in (("utf-8", "utf-8"), ("cp1252", "windows-1252")):
        try:
            return data.decode(codec), name
        except UnicodeDecodeError:
            continue
    return data.decode("latin-1"), "latin-1"


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


# --- RFC 2047 encoded words ------------------------------------------------------------------

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?\r\n]*)\?=")


def decode_encoded_words(
    value: str, *, where: str = "header", problems: Problems | None = None
) -> str:
    """``value`` with RFC 2047 encoded words decoded; tolerant, never raises.

    Whitespace between adjacent encoded words is dropped (RFC 2047 6.2); adjacent words in the
    same charset are joined before decoding, so a character split across two words survives.
    """
    if "=?" not in value:
        return value
    sink = problems if problems is not None else Problems()
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
            out.append(decode_bytes(part[1], part[0], where=where, problems=sink))
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
