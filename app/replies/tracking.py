"""The lint's check of tracking numbers quoted in a reply, against the copy of the thread's order
read from Walmart (app.walmart): a number the order does not have, or the MCF placeholder
(USPS 12345), must not reach a customer as their tracking.

A tracking number is what follows a "tracking" label ("tracking number: X", "tracking #X",
"tracking is X"), or a run in a carrier's own format (UPS 1Z..., USPS's 20 to 22 digits or 9x...,
international S10 codes such as EC123456789US) wherever it stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from app.walmart.orders import PLACEHOLDER_TRACKING_NUMBER, Order

_LABELLED = re.compile(
    r"\btracking(?:\s+(?:number|no\.?|code|id))?\s*(?:is|:|#|=)?\s*:?\s*#?\s*"
    r"(?P<number>[A-Za-z0-9](?:[A-Za-z0-9-]{3,38}[A-Za-z0-9]))\b",
    re.IGNORECASE,
)
_CARRIER_FORMATS = re.compile(
    r"\b(?P<number>1Z[0-9A-Z]{16}|9\d{15,25}|\d{20,22}|[A-Z]{2}\d{9}[A-Z]{2})\b"
)


@dataclass(frozen=True)
class TrackingFacts:
    """What the thread's order says about tracking; ``known`` False when there is no copy."""

    known: bool
    real: frozenset[str]
    placeholders: frozenset[str]
    urls: frozenset[str] = frozenset()  # the real tracking links: a reply may quote them

    @classmethod
    def of(cls, order: Order | None) -> TrackingFacts:
        if order is None:
            return cls(False, frozenset(), frozenset())
        urls = frozenset(
            line.tracking_url for line in order.lines if line.real_tracking and line.tracking_url
        )
        return cls(True, order.tracking_numbers(), order.placeholder_numbers(), urls)


def quoted_numbers(body: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, number) of every tracking number the text quotes, each once."""
    seen: set[int] = set()
    for pattern in (_LABELLED, _CARRIER_FORMATS):
        for m in pattern.finditer(body):
            start, end = m.span("number")
            if start in seen or not any(ch.isdigit() for ch in m.group("number")):
                continue
            seen.add(start)
            yield start, end, m.group("number")


def _same(number: str, others: frozenset[str]) -> bool:
    flat = number.replace("-", "").upper()
    return any(flat == other.replace("-", "").upper() for other in others)


@dataclass(frozen=True)
class TrackingProblem:
    start: int
    end: int
    message: str


def tracking_problems(body: str, facts: TrackingFacts) -> Iterator[TrackingProblem]:
    """Each quoted number that is a placeholder, or (the order being known) not the order's."""
    for start, end, number in quoted_numbers(body):
        if _same(number, facts.placeholders) or number == PLACEHOLDER_TRACKING_NUMBER:
            yield TrackingProblem(
                start,
                end,
                f"'{number}' is the placeholder (USPS 12345) confirmed for an order shipped by "
                "Amazon MCF, not real tracking; never give it to the customer",
            )
        elif facts.known and not _same(number, facts.real):
            have = ", ".join(sorted(facts.real)) or "none yet"
            yield TrackingProblem(
                start,
                end,
                f"'{number}' is not a tracking number of this order (Walmart has: {have})",
            )
