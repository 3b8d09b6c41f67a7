"""Who wrote a message, as far as the 48-hour clock cares; and which order it is about.

``classify`` applies these rules in order; the first that matches decides:

1. AUTOMATED (checked first, even in Sent: Walmart says an auto-reply never counts as an
   answer, so a seller's own vacation reply must not stop a clock). Strong signals:
   ``Auto-Submitted`` other than "no", a multipart/report (bounce or read receipt),
   ``X-Autoreply`` / ``X-Autorespond``. Sender signals: mailer-daemon or postmaster,
   Walmart's notice senders (mp-payments@relay.walmart.com, nocxemail@walmartone.com),
   no-reply / donotreply and newsletter addresses. Weak signals: ``Precedence: bulk|list|junk``,
   ``List-Id`` / ``List-Unsubscribe``, ``X-Auto-Response-Suppress`` with All/OOF/AutoReply,
   ``X-Failed-Recipients``, an empty ``Return-Path: <>``. A buyer relay sender is a customer
   unless a *strong* signal says otherwise: filing a customer as automated means a missed
   deadline, so list-like headers a relay may add are not enough.
2. SELLER: the message is in the Sent folder. Otherwise a message without a usable From address
   (none, or no local@domain in it) is AUTOMATED as "no sender": nobody can be answered, so it is
   informational and starts no clock (stored, threaded by its headers, the problem recorded).
   Then SELLER again when From is one of the seller's addresses.
3. ESCALATION: From is a Walmart address that is not a buyer relay and the text speaks of a
   customer case ("Customer Care", "escalat…", "case number", "Case #", "partner support");
   or the subject carries a "Customer Care" tag, whoever sent it.
4. CUSTOMER: everything else.

``complaint`` is set for escalation and customer messages that mention the Better Business
Bureau (or "BBB") or an Attorney General: those need an answer within one hour.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from app.enums import Classification, FolderRole
from app.mail.parse import ParsedMessage

_BUYER_RELAY = re.compile(r"^(?:pc-)?[0-9a-f]{32}@(?:[a-z0-9-]+\.)*relay\.walmart\.com$")
_WALMART_DOMAINS = ("walmart.com", "wal-mart.com")  # relay.walmart.com is a subdomain
_NOTICE_SENDERS = {
    "mp-payments@relay.walmart.com": "Walmart payments notice",
    "nocxemail@walmartone.com": "Walmart placeholder address nocxemail@walmartone.com",
}
_DAEMON_LOCAL_PARTS = frozenset({"mailer-daemon", "postmaster"})
_NO_REPLY_LOCAL_PART = re.compile(r"^(?:no|do[-_.]?not)[-_.]?reply(?:$|[-_.+])")
_NEWSLETTER_LOCAL_PART = re.compile(r"^newsletters?(?:$|[-_.+])")
_BULK_PRECEDENCE = frozenset({"bulk", "list", "junk"})
_SUPPRESS_TOKENS = frozenset({"all", "oof", "autoreply"})

_CASE_WORDS = re.compile(
    r"customer\s+(?:care|service\s+escalation)|escalat|partner\s+support"
    r"|\bcase\s*(?:number|no\b\.?|id\b|#)",
    re.IGNORECASE,
)
# "[Customer Care] ...", "(Customer Care)", or "Customer Care: ..." / "Customer Care - ..." at
# the start of the subject (after any reply prefixes).
_CUSTOMER_CARE_TAG = re.compile(
    r"[\[(]\s*(?:walmart\s+)?customer\s+care\b[^\])]{0,60}[\])]"
    r"|^\s*(?:(?:re|fw|fwd|aw|tr)\s*:\s*)*(?:walmart\s+)?customer\s+care\s*(?::|\||-\s|–)",
    re.IGNORECASE,
)
_COMPLAINT = re.compile(
    r"\bbetter\s+business\s+bureau\b|\bBBB\b|\battorneys?[\s-]+general\b", re.IGNORECASE
)
# One of these is in every text _COMPLAINT matches (their letters have no case-insensitive match
# beyond ASCII's two cases), so a text without any is not searched: most messages.
_COMPLAINT_WORDS = ("bureau", "bbb", "general")


@dataclass(frozen=True)
class Verdict:
    classification: Classification
    reason: str
    complaint: bool


NO_SENDER = "no sender: no usable From address, so nobody to answer; informational, no clock"


def classify(
    message: ParsedMessage, *, folder: FolderRole, seller_addresses: Collection[str]
) -> Verdict:
    """The classification of ``message`` found in ``folder``; see the module's rules."""
    sender = (message.from_address or "").strip().lower()
    buyer_relay = is_buyer_relay(sender)

    automated = _automated_reason(message, sender, buyer_relay=buyer_relay)
    if automated:
        return Verdict(Classification.AUTOMATED, automated, complaint=False)

    if folder == FolderRole.SENT:
        return Verdict(Classification.SELLER, "in the Sent folder", complaint=False)
    if _plain_address(sender) is None:
        return Verdict(Classification.AUTOMATED, NO_SENDER, complaint=False)
    if sender and sender in {address.strip().lower() for address in seller_addresses}:
        return Verdict(Classification.SELLER, "from a seller address", complaint=False)

    complaint = _mentions_complaint(message)
    if _CUSTOMER_CARE_TAG.search(message.subject):
        return Verdict(Classification.ESCALATION, "Customer Care tag in the subject", complaint)
    walmart = is_walmart_address(sender) and not buyer_relay
    if walmart and (_CASE_WORDS.search(message.subject) or _CASE_WORDS.search(message.body_text)):
        return Verdict(Classification.ESCALATION, "Walmart Customer Care escalation", complaint)

    if buyer_relay:
        reason = "Walmart buyer relay address"
    elif walmart:
        reason = "Walmart address, no customer case mentioned"
    else:
        reason = "other sender writing to the support mailbox"
    return Verdict(Classification.CUSTOMER, reason, complaint)


def is_buyer_relay(address: str | None) -> bool:
    """A Walmart masked buyer address: ``[pc-]<32 hex>@relay.walmart.com`` (or a subdomain)."""
    return address is not None and _BUYER_RELAY.match(address.strip().lower()) is not None


def is_whitelisted(from_address: str | None, patterns: Sequence[str]) -> bool:
    """Whether From matches a shell-style pattern (``*@*.walmart.com``), case-insensitively.

    Only a plain ``local@domain`` address can match, and the whole address must match, so
    ``x@walmart.com.evil.io`` does not pass ``*@walmart.com``.
    """
    address = _plain_address(from_address)
    if address is None:
        return False
    return any(fnmatchcase(address, pattern.strip().lower()) for pattern in patterns)


def _plain_address(address: str | None) -> str | None:
    """``address`` lowercased if it is exactly one local part and one domain, else None."""
    if not address:
        return None
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not (at and local and domain) or "@" in local or re.search(r"[\s<>()\[\],;:\"]", address):
        return None
    return address


# --- automation ------------------------------------------------------------------------------


def _automated_reason(message: ParsedMessage, sender: str, *, buyer_relay: bool) -> str | None:
    headers = message.headers
    auto_submitted = _first_token(headers.get("auto-submitted"))
    if auto_submitted and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}"
    if message.content_type == "multipart/report":
        return "multipart/report (delivery or read report)"
    for name, label in (("x-autoreply", "X-Autoreply"), ("x-autorespond", "X-Autorespond")):
        value = headers.get(name)
        if value is not None and _first_token(value) not in ("no", "false", "0"):
            return f"{label} header"
    if buyer_relay:
        return None  # only the strong signals above can overrule a buyer's relay address
    return _sender_reason(sender) or _weak_signal(headers)


def _sender_reason(sender: str) -> str | None:
    if not sender:
        return None
    if sender in _NOTICE_SENDERS:
        return _NOTICE_SENDERS[sender]
    local = sender.rpartition("@")[0] if "@" in sender else sender
    if local in _DAEMON_LOCAL_PARTS:
        return f"from {local}"
    if _NO_REPLY_LOCAL_PART.match(local):
        return "no-reply sender"
    if _NEWSLETTER_LOCAL_PART.match(local):
        return "newsletter sender"
    return None


def _weak_signal(headers: Mapping[str, str]) -> str | None:
    get = headers.get
    precedence = _first_token(get("precedence"))
    if precedence in _BULK_PRECEDENCE:
        return f"Precedence: {precedence}"
    if get("list-id"):
        return "List-Id header (mailing list)"
    if get("list-unsubscribe"):
        return "List-Unsubscribe header (bulk mail)"
    suppress_value = get("x-auto-response-suppress") or ""
    suppress = {token.strip().lower() for token in suppress_value.split(",")}
    matched = sorted(suppress & _SUPPRESS_TOKENS)
    if matched:
        return f"X-Auto-Response-Suppress: {', '.join(matched)}"
    if get("x-failed-recipients"):
        return "X-Failed-Recipients header (bounce)"
    if (get("return-path") or "").replace(" ", "") == "<>":
        return "empty Return-Path (null sender)"
    return None


def _first_token(value: str | None) -> str:
    """The first word of a header value, lowercased, without comments or parameters."""
    if not value:
        return ""
    value = re.sub(r"\([^)]*\)", " ", value)
    return value.split(";", 1)[0].strip().lower().split(" ", 1)[0] if value.strip() else ""


# --- Walmart, complaints ---------------------------------------------------------------------


def is_walmart_address(address: str) -> bool:
    """An address of Walmart itself (relay addresses included: tell buyers by is_buyer_relay)."""
    domain = address.rpartition("@")[2] if "@" in address else ""
    return any(domain == d or domain.endswith(f".{d}") for d in _WALMART_DOMAINS)


def _mentions_complaint(message: ParsedMessage) -> bool:
    for text in (message.subject, message.body_text):
        lowered = text.lower()
        if any(word in lowered for word in _COMPLAINT_WORDS) and _COMPLAINT.search(text):
            return True
    return False


# --- order numbers ---------------------------------------------------------------------------

_NUMBER = r"(\d{7}-\d{8}|\d{7}-\d{6}|\d{15}|\d{13})(?![0-9A-Za-z]|-\d)"
_LABELLED = re.compile(
    r"(?<![A-Za-z])(?:p\.?\s?o\.?|purchase\s+order|sales\s+order|customer\s+order|order)"
    r"(?:\s*+(?:#|(?:no|num|number|id)\b\.?))?"  # possessive \s*+: no backtracking blow-up
    r"\s*+(?:is\s++)?[:#]?\s*+" + _NUMBER,
    re.IGNORECASE,
)
_HYPHENATED = re.compile(r"(?<![\d-])(\d{7}-\d{8}|\d{7}-\d{6})(?![\d-])")
_BARE = re.compile(r"(?<![0-9A-Za-z-])(\d{15}|\d{13})(?![0-9A-Za-z]|-\d)")
_MENTIONS_ORDER = re.compile(r"\border", re.IGNORECASE)
_TRACKING_BEFORE = re.compile(r"track", re.IGNORECASE)


def extract_order_number(subject: str, body: str) -> str | None:
    """A Walmart order number (13 or 15 digits) the message is about, or None.

    Labelled numbers ("PO", "Order #", "Sales Order ID:", ...) beat hyphenated ones
    (``1234567-12345678``), which beat bare 13/15-digit runs; the subject beats the body. A
    bare number counts only if "order" appears somewhere and no "tracking" label precedes it
    (tracking numbers can be 15 digits too).
    """
    mentions_order = bool(_MENTIONS_ORDER.search(subject) or _MENTIONS_ORDER.search(body))
    for text in (subject, body):
        match = _LABELLED.search(text) or _HYPHENATED.search(text)
        if match:
            return match.group(1).replace("-", "")
    if not mentions_order:
        return None
    for text in (subject, body):
        for match in _BARE.finditer(text):
            if not _TRACKING_BEFORE.search(text[max(0, match.start() - 30) : match.start()]):
                return match.group(1)
    return None
