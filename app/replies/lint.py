"""Checks a person sees beside a draft reply, after Walmart's guide: acknowledge and empathise,
don't overpromise, check spelling, keep contact information accurate, and write to this customer
rather than send a template as it is.

Errors block approval unless the approver overrides them (recorded elsewhere); warnings inform.

| code               | severity | flags                                                           |
|--------------------|----------|-----------------------------------------------------------------|
| empty              | error    | a blank reply (no other check runs)                             |
| not_personalised   | error    | the reply is the bare template (whitespace aside)               |
| no_greeting        | warning  | the first line does not greet ("Hello", "Hi", "Dear" ...)       |
| no_acknowledgement | warning  | nothing thanks, apologises or shows understanding               |
| placeholder        | error    | text left to fill in: [[name]], {{ }}, [Customer Name], XXX ... |
| overpromise        | error    | "guarantee", "100%", "immediately", "always", "promise" ...     |
| foreign_contact    | error    | a link, address or phone number that is not the seller's        |
| spelling           | warning  | a word missing from the English dictionary                      |
| tracking_number    | error    | a tracking number the order does not have, or the MCF 12345     |

Whole-text findings come first, then the others in order of their position in the text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Literal

from spellchecker import SpellChecker

from app.config import ReplySettings
from app.replies.contacts import (
    RELAY_DOMAIN,
    Contact,
    find_contacts,
    host_of,
    overlaps,
    same_phone,
    within,
)
from app.replies.tracking import TrackingFacts, tracking_problems

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class Finding:
    code: str
    severity: Severity
    message: str
    excerpt: str | None = None


def lint(
    body: str,
    *,
    bare_template: str | None,
    settings: ReplySettings,
    tracking: TrackingFacts | None = None,
) -> list[Finding]:
    """Every finding for the reply ``body``. ``bare_template`` is the template text the reply
    started from, as rendered; a reply still equal to it is not personalised (None: no template).
    ``tracking``: what the thread's order says about tracking (app.replies.tracking)."""
    if not body.strip():
        return [Finding("empty", "error", "the reply is empty")]
    whole = [
        *_not_personalised(body, bare_template),
        *_no_greeting(body),
        *_no_acknowledgement(body),
    ]
    contacts = list(find_contacts(body))
    tracking = tracking or TrackingFacts.of(None)
    placed = sorted(
        [
            *_placeholders(body),
            *_overpromises(body),
            *_foreign_contacts(body, contacts, settings, tracking.urls),
            *_misspellings(body, contacts, settings),
            *_tracking(body, tracking),
        ],
        key=lambda item: item[0],
    )
    return whole + [finding for _, finding in placed]


# ---- tables -------------------------------------------------------------------------------------

# Text a template or a colleague left to be filled in.
PLACEHOLDERS: list[tuple[str, str]] = [
    (r"\[\[[^\[\]\n]*\]\]", "a value the template could not fill"),
    (r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "template code"),
    (r"\[[A-Za-z][A-Za-z0-9 _#./'-]{0,40}\]", "a placeholder in brackets"),
    (r"<[A-Za-z][A-Za-z0-9 _#'-]{0,40}>", "a placeholder in angle brackets"),
    (r"\b[Xx]{3,}\b", "a placeholder"),
    (r"\b(?:TODO|FIXME)\b", "a note to self"),
    (r"_{3,}", "a blank to fill in"),
]

GREETINGS = re.compile(
    r"^\W*(?:hello|hi|hey|dear|greetings|good\s+(?:morning|afternoon|evening|day)"
    r"|thank\s+you|thanks)\b",
    re.IGNORECASE,
)

ACKNOWLEDGEMENTS = re.compile(
    r"\bthank(?:s| you)(?: (?:so|very) much)? for\b"
    r"|\b(?:i|we) (?:completely |fully |can |do )?understand\b"
    r"|\bsorry\b|\bapolog|\bappreciate|\bfrustrat|\bregret\b",
    re.IGNORECASE,
)

# Words that promise what a seller may not control (carriers, Walmart, stock).
OVERPROMISES = re.compile(
    r"\bguarantee[sd]?\b|\bguaranteeing\b|(?<![\w.])100\s?(?:%|percent\b)|\bimmediately\b"
    r"|\balways\b|\bnever\s+again\b|\bpromise[sd]?\b",
    re.IGNORECASE,
)

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_SENTENCE_END = ".!?"
_CONTRACTION_SUFFIXES = ("'s", "'ll", "'re", "'ve", "'d", "'m")


# ---- whole-text checks --------------------------------------------------------------------------


def _normalise(text: str) -> str:
    return " ".join(text.split())


def _not_personalised(body: str, bare_template: str | None) -> Iterator[Finding]:
    if bare_template is not None and _normalise(body) == _normalise(bare_template):
        yield Finding(
            "not_personalised",
            "error",
            "the reply is the template as it is; write to this customer about their message",
        )


def _no_greeting(body: str) -> Iterator[Finding]:
    first_line = next(line for line in body.splitlines() if line.strip()).strip()
    if not GREETINGS.match(first_line):
        yield Finding(
            "no_greeting",
            "warning",
            f"the reply does not open with a greeting such as 'Hello', 'Hi' or 'Dear' "
            f"(it opens with '{_shorten(first_line)}')",
            excerpt=first_line,
        )


def _no_acknowledgement(body: str) -> Iterator[Finding]:
    if not ACKNOWLEDGEMENTS.search(body):
        yield Finding(
            "no_acknowledgement",
            "warning",
            "the reply does not acknowledge the customer: thank them, apologise where it fits, "
            "or say that you understand",
        )


# ---- positioned checks: (position, finding) -----------------------------------------------------

_Placed = tuple[int, Finding]


def _placeholders(body: str) -> Iterator[_Placed]:
    taken: list[tuple[int, int]] = []
    matches = [
        (m, what) for pattern, what in PLACEHOLDERS for m in re.finditer(pattern, body, re.DOTALL)
    ]
    for m, what in sorted(matches, key=lambda item: item[0].start()):
        if overlaps(m.span(), taken):
            continue
        taken.append(m.span())
        yield (
            m.start(),
            Finding(
                "placeholder",
                "error",
                f"'{_shorten(m.group())}' is {what}; replace it with the real text",
                excerpt=_excerpt(body, m.start(), m.end()),
            ),
        )


def _overpromises(body: str) -> Iterator[_Placed]:
    for m in OVERPROMISES.finditer(body):
        yield (
            m.start(),
            Finding(
                "overpromise",
                "error",
                f"'{m.group()}' promises more than the seller may be able to keep; "
                f"say what you will do next instead",
                excerpt=_excerpt(body, m.start(), m.end()),
            ),
        )


def _tracking(body: str, facts: TrackingFacts) -> Iterator[_Placed]:
    for problem in tracking_problems(body, facts):
        excerpt = _excerpt(body, problem.start, problem.end)
        yield problem.start, Finding("tracking_number", "error", problem.message, excerpt)


def _foreign_contacts(
    body: str, contacts: Iterable[Contact], settings: ReplySettings, order_links: frozenset[str]
) -> Iterator[_Placed]:
    """Contacts that are not the seller's; a link is allowed on the listed sites, or when it is
    the tracking link of the thread's order."""
    domains = [d.lower().lstrip("*").lstrip(".") for d in settings.link_domains]
    emails = {e.lower() for e in settings.contact_emails}
    phones = [re.sub(r"\D", "", p) for p in settings.contact_phones]
    for contact in contacts:
        message = None
        if contact.kind == "email":
            domain = contact.text.rpartition("@")[2].lower()
            if within(domain, [RELAY_DOMAIN]):
                message = (
                    f"'{contact.text}' is a Walmart relay address (a buyer's masked address); "
                    f"never put it in a reply"
                )
            elif contact.text.lower() not in emails:
                message = f"the address '{contact.text}' is not one of the seller's contact emails"
        elif contact.kind in ("url", "domain"):
            host = host_of(contact.text)
            if contact.text in order_links:
                pass
            elif host is None or not within(host, domains):
                message = (
                    f"the link '{contact.text}' is not to an allowed site "
                    f"({', '.join(domains) or 'none configured'})"
                )
        elif not same_phone(re.sub(r"\D", "", contact.text), phones):
            message = f"the phone number '{contact.text}' is not one of the seller's numbers"
        if message:
            yield (
                contact.start,
                Finding(
                    "foreign_contact",
                    "error",
                    message,
                    excerpt=_excerpt(body, contact.start, contact.end),
                ),
            )


@cache
def _spellchecker() -> SpellChecker:
    # Edit distance 1 keeps suggestions instant; distance 2 takes a second for a long unknown word.
    return SpellChecker(language="en", distance=1)


def _misspellings(
    body: str, contacts: Iterable[Contact], settings: ReplySettings
) -> Iterator[_Placed]:
    # Links, addresses, numbers and placeholders are not words: blank them out first.
    chars = list(body)
    spans = [(c.start, c.end) for c in contacts]
    spans += [m.span() for pattern, _ in PLACEHOLDERS for m in re.finditer(pattern, body)]
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    masked = "".join(chars)

    ignored = {w.casefold() for w in settings.allowed_words}
    ignored |= {m.group().casefold() for m in _WORD.finditer(settings.signature)}
    candidates: dict[str, tuple[int, str]] = {}
    for m in _WORD.finditer(masked):
        word = m.group().replace("’", "'")
        key = word.casefold()
        if key in candidates or key in ignored or not _checkable(word, masked, m.start()):
            continue
        candidates[key] = (m.start(), word)

    spell = _spellchecker()
    unknown = spell.unknown(list(candidates))
    for key, (start, word) in candidates.items():
        if key not in unknown or _known_contraction(key, spell):
            continue
        suggestion = spell.correction(key)
        hint = f"; did you mean '{suggestion}'?" if suggestion and suggestion != key else ""
        yield (
            start,
            Finding(
                "spelling",
                "warning",
                f"'{word}' is not in the dictionary{hint}",
                excerpt=_excerpt(body, start, start + len(word)),
            ),
        )


def _checkable(word: str, text: str, start: int) -> bool:
    """Whether the spelling check looks at a word: not short, not an acronym, not a code with
    digits, and not a capitalised word inside a sentence (a name)."""
    letters = sum(ch.isalpha() for ch in word)
    if letters < 3 or any(ch.isdigit() for ch in word) or word.isupper():
        return False
    return not (word[0].isupper() and not _starts_sentence(text, start))


def _starts_sentence(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \t\"'“‘(")
    return not before or before[-1] in _SENTENCE_END or before[-1] == "\n"


def _known_contraction(word: str, spell: SpellChecker) -> bool:
    """A known word with a contraction or possessive ending ("the seller's", "Alice'll")."""
    for suffix in _CONTRACTION_SUFFIXES:
        if word.endswith(suffix) and not spell.unknown([word.removesuffix(suffix)]):
            return True
    return word.endswith("n't") and not spell.unknown([word.removesuffix("n't")])


# ---- helpers ------------------------------------------------------------------------------------


def _shorten(text: str, limit: int = 60) -> str:
    text = _normalise(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _excerpt(text: str, start: int, end: int, *, context: int = 30) -> str:
    """The match with some words either side, on one line."""
    left = max(0, start - context)
    right = min(len(text), end + context)
    if left > 0 and " " in text[left:start]:
        left = text.index(" ", left, start) + 1
    if right < len(text) and " " in text[end:right]:
        right = text.rindex(" ", end, right)
    prefix = "…" if left > 0 else ""
    suffix = "…" if right < len(text) else ""
    return prefix + _normalise(text[left:right]) + suffix
