"""What an anonymous viewer of a public status page may see of a subject: its common words. Names,
order numbers, addresses and anything else not on the list become •••."""

from __future__ import annotations

import re

MASK = "•••"
# Words that say what a message is about without saying who it is from.
COMMON_WORDS = frozenset(
    """
    a about after again all am an and any are arrive arrived as at be been before broken but
    by can cancel cancellation care case charge charged check complaint customer damaged day
    days defective delayed delivered delivery did do does escalation exchange for from fw
    fwd get got has have help how i if in inquiry is issue it item items its late me message
    missing my need never new no not notification of on or order ordered orders package part
    parts please problem product question re received refund regarding reply request
    requested return returned returns seller service shipment shipped shipping size still
    status support than thank thanks that the this to tracking update walmart warranty was
    we were what when where why will with wrong yet you your
    """.split()  # noqa: SIM905 (a word list reads best as text)
)
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def mask_subject(subject: str) -> str:
    """Keep common words and punctuation; mask every other word (and every number)."""
    masked = _WORD.sub(
        lambda m: m.group(0) if m.group(0).lower() in COMMON_WORDS else MASK, subject
    )
    # Runs of masks ("••• ••• •••") say only how many words a name had.
    return re.sub(rf"{MASK}(?:[\s.@-]+{MASK})+", MASK, masked)
