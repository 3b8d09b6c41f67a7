"""Subject lines reduced to what stays the same across a conversation, for threading."""

from __future__ import annotations

import re

# Reply and forward prefixes in the languages mail clients commonly use, with an optional
# counter ("Re[2]:", "Re(2):", "Re^2:"); a full-width colon is accepted for the Chinese ones.
_PREFIX = re.compile(
    r"^\s*(?:re|fwd|fw|aw|wg|sv|vs|antw|odp|rif|r|tr|rép|回复|答复|转发)"
    r"\s*(?:\[\d+\]|\(\d+\)|\^\d+)?\s*[:：]\s*",
    re.IGNORECASE,
)
# A bracketed tag at the very start: "[EXTERNAL]", "[SPAM]", "[Customer Care]".
_TAG = re.compile(r"^\s*\[[^\[\]]{0,60}\]\s*")


def normalize_subject(subject: str) -> str:
    """``subject`` without reply/forward prefixes and leading tags, whitespace collapsed,
    casefolded: "Re: Re: Fwd: Where is my order?" -> "where is my order?"."""
    text = subject
    while True:
        stripped = _TAG.sub("", _PREFIX.sub("", text, count=1), count=1)
        if stripped == text:
            break
        text = stripped
    return " ".join(text.split()).casefold()
