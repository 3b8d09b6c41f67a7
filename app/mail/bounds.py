"""Bounds on the header values a message keeps for display, search and threading.

A hostile or broken message can carry a Subject of a million characters or a To of ten thousand
addresses; kept whole, one such message makes the thread list and its page megabytes long. The
values kept are bounded here, each cut recorded with the message's problems; the raw message
keeps everything.
"""

from __future__ import annotations

from app.mail.problems import Problems

# RFC 5322's limit for a line: no real Subject or display name is longer.
MAX_LINE_CHARS = 998
MAX_ADDRESSES = 100  # per header (To, Cc, Reply-To)
# References kept: the first (the conversation's root and what follows it) and the last (the
# nearest ancestors, which a reply is threaded by first), as RFC 5322 3.6.4 suggests trimming.
FIRST_REFERENCES = 5
LAST_REFERENCES = 45


def bounded_line(value: str, *, name: str, problems: Problems) -> str:
    """``value`` cut to MAX_LINE_CHARS, its last character an ellipsis."""
    if len(value) <= MAX_LINE_CHARS:
        return value
    problems.add(
        f"{name} of {len(value):,} characters cut to {MAX_LINE_CHARS}; "
        "the whole is in the raw message"
    )
    return value[: MAX_LINE_CHARS - 1] + "…"


def bounded_addresses(
    addresses: tuple[str, ...], *, name: str, problems: Problems
) -> tuple[str, ...]:
    """The first MAX_ADDRESSES of ``addresses``."""
    if len(addresses) <= MAX_ADDRESSES:
        return addresses
    more = len(addresses) - MAX_ADDRESSES
    problems.add(
        f"{name} lists {len(addresses):,} addresses: the first {MAX_ADDRESSES} are kept, "
        f"and {more:,} more are only in the raw message"
    )
    return addresses[:MAX_ADDRESSES]


def bounded_id(value: str | None) -> str | None:
    """A message id cut as the stored Message-ID is (to MAX_LINE_CHARS), so the two still match."""
    return value[:MAX_LINE_CHARS] if value else value


def bounded_references(ids: tuple[str, ...], problems: Problems) -> tuple[str, ...]:
    """The first FIRST_REFERENCES and the last LAST_REFERENCES ids, each bounded."""
    if len(ids) > FIRST_REFERENCES + LAST_REFERENCES:
        problems.add(
            f"References lists {len(ids):,} ids: the first {FIRST_REFERENCES} and the last "
            f"{LAST_REFERENCES} are kept"
        )
        ids = (*ids[:FIRST_REFERENCES], *ids[-LAST_REFERENCES:])
    return tuple(value[:MAX_LINE_CHARS] for value in ids)
