"""Where a reply gives contact details: e-mail addresses, links, bare domains and phone numbers,
each span of the text claimed once; and how to compare them with the seller's own."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

RELAY_DOMAIN = "relay.walmart.com"

_EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_URL = re.compile(r"\b(?:https?://|ftp://)[^\s<>\"']+|(?<![\w@.-])www\.[^\s<>\"']+", re.IGNORECASE)
_TLDS = (
    "com|net|org|info|biz|io|co|us|ca|uk|de|fr|eu|au|shop|store|online|site|app|me|ly|gl|"
    "link|xyz|ai|tv|page|website|help"
)
_BARE_DOMAIN = re.compile(
    rf"(?<![\w@.-])(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{_TLDS})(?![\w-])(?:/[^\s<>\"']*)?",
    re.IGNORECASE,
)
_TRAILING_PUNCTUATION = ".,;:!?)]}'\""

# Phone numbers: 7 to 15 digits with optional +, spaces, dots, dashes and parentheses.
_PHONE = re.compile(r"(?<![\w+])(?:\+\s?)?\(?\d(?:[ .()-]{0,2}\d){6,29}\)?(?!\w)")
# Numbers that look like phones but are not: order numbers, dates, labelled identifiers.
_ORDER_NUMBER = re.compile(r"\d{13}|\d{15}|\d{7}-\d{6}|\d{7}-\d{8}")
_DATE = re.compile(r"\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4}")
_ID_LABEL = re.compile(
    r"\b(?:order|po|purchase order|sales order|item|tracking|case|ref(?:erence)?|id|sku|upc|"
    r"invoice|return)\s*(?:number|no\.?|id|#)?\s*(?:is\b)?\s*[:#]?\s*$|#\s*$",
    re.IGNORECASE,
)
_LONGEST_BARE_PHONE = 11  # a longer run of digits alone is an order, item or tracking number

ContactKind = Literal["email", "url", "domain", "phone"]
_LINK_PATTERNS: tuple[tuple[ContactKind, re.Pattern[str]], ...] = (
    ("url", _URL),  # first: "https://walmart.com@evil.example" is a link, not an address
    ("email", _EMAIL),
    ("domain", _BARE_DOMAIN),
)


@dataclass(frozen=True)
class Contact:
    kind: ContactKind
    text: str
    start: int
    end: int


def find_contacts(body: str) -> Iterator[Contact]:
    """Addresses, links and phone-like numbers, each span claimed once (an address's domain is
    not also a link; a number inside a link is not a phone)."""
    taken: list[tuple[int, int]] = []
    for kind, pattern in _LINK_PATTERNS:
        for m in pattern.finditer(body):
            text = m.group().rstrip(_TRAILING_PUNCTUATION)
            span = (m.start(), m.start() + len(text))
            if text and not overlaps(span, taken):
                taken.append(span)
                yield Contact(kind, text, *span)
    for m in _PHONE.finditer(body):
        text = m.group()
        if text.endswith(")") and text.count(")") > text.count("("):
            text = text[:-1]
        span = (m.start(), m.start() + len(text))
        before = body[max(0, m.start() - 30) : m.start()]
        if not overlaps(span, taken) and _is_phone(text, before=before):
            taken.append(span)
            yield Contact("phone", text, *span)


def _is_phone(text: str, *, before: str) -> bool:
    digits = re.sub(r"\D", "", text)
    if not 7 <= len(digits) <= 15:
        return False
    if text.isdigit() and len(digits) > _LONGEST_BARE_PHONE:
        return False
    if _ORDER_NUMBER.fullmatch(text) or _DATE.fullmatch(text):
        return False
    return not _ID_LABEL.search(before)


def host_of(link: str) -> str | None:
    has_scheme = re.match(r"[a-z][a-z0-9+.-]*://", link, re.IGNORECASE)
    try:
        host = urlsplit(link if has_scheme else f"http://{link}").hostname
    except ValueError:
        return None
    return host.rstrip(".") if host else None


def within(host: str, domains: Iterable[str]) -> bool:
    return any(host == d or host.endswith(f".{d}") for d in domains if d)


def same_phone(digits: str, allowed: Iterable[str]) -> bool:
    """Equal digits, or equal but for a country code ("+1 800 555 0100" and "800-555-0100")."""
    for other in allowed:
        shorter, longer = sorted((digits, other), key=len)
        if shorter == longer or (len(shorter) >= 10 and longer.endswith(shorter)):
            return True
    return False


def overlaps(span: tuple[int, int], taken: Iterable[tuple[int, int]]) -> bool:
    return any(span[0] < end and start < span[1] for start, end in taken)
