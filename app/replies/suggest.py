"""Which reply template fits a customer's message: plain rules on the words of its subject and
text. Pure (no database, no web framework); the agent sees the suggestion and still picks.

Each topic names the starting template it points to (templates/replies/*.j2) by its name, so a
template an admin renamed or archived is simply no longer suggested. The topic with the most
matching phrases wins, a phrase in the subject counting double (a subject states the topic, a
text also tells the story around it); a tie goes to the topic listed first, the more specific.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Topic:
    template_name: str
    phrases: tuple[str, ...]


@dataclass(frozen=True)
class Suggestion:
    template_name: str
    matched: str  # the first phrase that matched, to show the agent why


# Most specific first: "I want to cancel, it arrived broken" is about the broken item's fate,
# but "cancel" is a decision the seller must act on within hours, so it leads.
TOPICS: tuple[Topic, ...] = (
    Topic("Cancellation request", ("cancel", "cancellation", "cancelled", "canceled")),
    Topic(
        "Walmart Customer Care escalation",
        ("customer care escalation", "escalated", "escalation", "case number"),
    ),
    Topic(
        "Item arrived damaged",
        ("damaged", "broken", "cracked", "shattered", "dented", "defective", "leaking"),
    ),
    Topic(
        "Wrong item received",
        (
            "wrong item",
            "wrong size",
            "wrong color",
            "wrong colour",
            "wrong product",
            "not what i ordered",
            "different item",
            "incorrect item",
        ),
    ),
    Topic(
        "Delivered but not received",
        (
            "says delivered",
            "shows delivered",
            "marked as delivered",
            "marked delivered",
            "delivered but",
            "never received",
            "not received",
            "didn't receive",
            "did not receive",
            "stolen",
        ),
    ),
    Topic(
        "Return or refund request",
        ("return", "returning", "refund", "money back", "send it back", "exchange"),
    ),
    Topic(
        "Where is my order",
        (
            "where is my order",
            "where is my package",
            "where is my item",
            "tracking",
            "not arrived",
            "hasn't arrived",
            "has not arrived",
            "not shipped",
            "when will",
            "still waiting",
            "late",
        ),
    ),
    Topic(
        "Product question",
        (
            "question about",
            "does it",
            "does this",
            "is it compatible",
            "compatible",
            "dimensions",
            "what size",
            "how do i",
            "instructions",
        ),
    ),
)

_PATTERNS = {
    topic: [(phrase, re.compile(rf"\b{re.escape(phrase)}\b")) for phrase in topic.phrases]
    for topic in TOPICS
}


def _words(text: str) -> str:
    """Lower case, typographic apostrophes made plain, whitespace collapsed: so "Didn’t\n
    receive" matches "didn't receive"."""
    return " ".join(text.lower().replace("\u2019", "'").split())


def suggest(*, subject: str, text: str) -> Suggestion | None:
    """The template for the message's topic, or None when no rule matches."""
    subject_words, text_words = _words(subject), _words(text)
    best: tuple[int, Suggestion] | None = None
    for topic in TOPICS:
        score, first = 0, None
        for phrase, pattern in _PATTERNS[topic]:
            hits = 2 * bool(pattern.search(subject_words)) + bool(pattern.search(text_words))
            if hits and first is None:
                first = phrase
            score += hits
        if first is not None and (best is None or score > best[0]):
            best = (score, Suggestion(topic.template_name, first))
    return best[1] if best else None
