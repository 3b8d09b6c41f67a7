"""classify and its helpers: one table row per rule, with the reason that decided."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from app.enums import Classification, FolderRole
from app.mail.classify import (
    Verdict,
    classify,
    extract_order_number,
    is_buyer_relay,
    is_whitelisted,
)
from app.mail.parse import ParsedMessage, parse_message

BUYER = "91DDE88D93C64028BE36D7771638A274@relay.walmart.com"
BUYER_PC = "pc-3C93FAEC67834D5C9CFC023D2F0004BD@relay.walmart.com"
SELLER = "support@myshop.example"
DEFAULT_WHITELIST = [
    "*@relay.walmart.com",
    "*@*.relay.walmart.com",
    "*@walmart.com",
    "*@*.walmart.com",
    "*@wal-mart.com",
]

AUTOMATED = Classification.AUTOMATED
SELLER_ = Classification.SELLER
ESCALATION = Classification.ESCALATION
CUSTOMER = Classification.CUSTOMER

DSN_BODY = """--b
Content-Type: text/plain

Delivery to the following recipient failed permanently.
--b
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.com

Final-Recipient: rfc822; gone@example.com
Action: failed
Status: 5.1.1
--b--
"""


@dataclass
class Case:
    id: str
    sender: str | None
    expected: Classification
    reason: str
    subject: str = "Question about my order"
    body: str = "Hello, where is my package?"
    headers: dict[str, str] = field(default_factory=dict)
    folder: FolderRole = FolderRole.INBOX
    complaint: bool = False


def build(case: Case) -> ParsedMessage:
    lines = [f"Subject: {case.subject}", "Message-ID: <case@example.com>"]
    if case.sender is not None:
        lines.append(f"From: {case.sender}")
    lines += [f"{name}: {value}" for name, value in case.headers.items()]
    raw = "\r\n".join(lines) + "\r\n\r\n" + case.body.replace("\n", "\r\n")
    return parse_message(raw.encode())


CASES = [
    # 1. automated
    Case("relay-auto-replied", BUYER, AUTOMATED, "Auto-Submitted: auto-replied",
         headers={"Auto-Submitted": "auto-replied"}),
    Case("relay-x-autoreply", BUYER, AUTOMATED, "X-Autoreply", headers={"X-Autoreply": "yes"}),
    Case("seller-vacation-in-sent", SELLER, AUTOMATED, "Auto-Submitted: auto-replied",
         headers={"Auto-Submitted": "auto-replied (vacation)"}, folder=FolderRole.SENT),
    Case("mp-payments", "Walmart <mp-payments@relay.walmart.com>", AUTOMATED, "payments notice",
         subject="Your settlement report"),
    Case("dsn", "Mail Delivery Subsystem <MAILER-DAEMON@mx.example.com>", AUTOMATED,
         "multipart/report", subject="Undelivered Mail Returned to Sender", body=DSN_BODY,
         headers={"Content-Type": 'multipart/report; report-type=delivery-status; boundary="b"'}),
    Case("mailer-daemon-plain", "MAILER-DAEMON@mx.example.com", AUTOMATED, "mailer-daemon"),
    Case("postmaster", "postmaster@example.com", AUTOMATED, "postmaster"),
    Case("relay-no-reply", "no-reply@es.relay.walmart.com", AUTOMATED, "no-reply"),
    Case("donotreply", "DoNotReply@shipping.example", AUTOMATED, "no-reply"),
    Case("do-not-reply", "do-not-reply@example.com", AUTOMATED, "no-reply"),
    Case("newsletter", "newsletter@em.business.walmart.com", AUTOMATED, "newsletter"),
    Case("nocxemail", "nocxemail@walmartone.com", AUTOMATED, "nocxemail"),
    Case("precedence-bulk", "deals@shop.example", AUTOMATED, "Precedence: bulk",
         headers={"Precedence": "bulk"}),
    Case("list-id", "someone@lists.example", AUTOMATED, "List-Id",
         headers={"List-Id": "<sellers.lists.example>"}),
    Case("list-unsubscribe", "promo@brand.example", AUTOMATED, "List-Unsubscribe",
         headers={"List-Unsubscribe": "<mailto:u@brand.example>"}),
    Case("suppress-oof", "ooo@corp.example", AUTOMATED, "X-Auto-Response-Suppress",
         headers={"X-Auto-Response-Suppress": "DR, OOF, AutoReply"}),
    # A buyer relay is a customer whatever weak signals say.
    Case("relay-list-unsubscribe", BUYER, CUSTOMER, "buyer relay",
         headers={"List-Unsubscribe": "<mailto:u@relay.walmart.com>"}),
    Case("relay-precedence-bulk", BUYER, CUSTOMER, "buyer relay",
         headers={"Precedence": "bulk", "List-Id": "<relay.walmart.com>"}),
    Case("relay-pc-suppress-all", BUYER_PC, CUSTOMER, "buyer relay",
         headers={"X-Auto-Response-Suppress": "All"}),
    Case("relay-auto-submitted-no", BUYER, CUSTOMER, "buyer relay",
         headers={"Auto-Submitted": "no"}),
    # 2. seller
    Case("sent-plain-reply", SELLER, SELLER_, "in the Sent folder", folder=FolderRole.SENT),
    Case("sent-from-anyone", "other@myshop.example", SELLER_, "Sent folder",
         folder=FolderRole.SENT),
    Case("seller-address-inbox", "Support <SUPPORT@MyShop.example>", SELLER_,
         "from a seller address"),
    Case("seller-mentions-bbb", SELLER, SELLER_, "Sent folder", body="BBB complaint answered",
         folder=FolderRole.SENT),
    # 3. escalation
    Case("partnerhelp", "Partner Support <partnerhelp@wal-mart.com>", ESCALATION,
         "Walmart Customer Care escalation", subject="Case Number 12345678: customer inquiry",
         body="A customer contacted Walmart Customer Care about PO 108829272810783."),
    Case("walmart-subdomain-escalated", "cases@seller.walmart.com", ESCALATION,
         "escalation", subject="Action needed", body="This issue has been escalated to you."),
    Case("customer-care-tag-from-relay", BUYER, ESCALATION, "Customer Care tag",
         subject="[Customer Care] Re: where is my order"),
    Case("attorney-general", "partnerhelp@wal-mart.com", ESCALATION, "escalation",
         subject="Customer complaint, Case # 998877",
         body="The customer filed a complaint with the Attorney General.", complaint=True),
    # 4. customer
    Case("relay-plain", BUYER, CUSTOMER, "buyer relay"),
    Case("relay-subdomain", "91dde88d93c64028be36d7771638a274@us.relay.walmart.com", CUSTOMER,
         "buyer relay"),
    Case("bbb-complaint", BUYER, CUSTOMER, "buyer relay",
         body="If I don't get a refund I will report you to the BBB.", complaint=True),
    Case("better-business-bureau", "angry@gmail.com", CUSTOMER, "other sender",
         subject="Complaint to the better business bureau", complaint=True),
    Case("bbb-inside-a-word", BUYER, CUSTOMER, "buyer relay", body="code ABBBA and BBBQ"),
    Case("gmail", "Jane <jane.doe@gmail.com>", CUSTOMER, "other sender"),
    Case("no-from", None, AUTOMATED, "no sender"),
    Case("from-without-address", "Jane Buyer", AUTOMATED, "no sender"),
    Case("from-half-an-address", "jane@", AUTOMATED, "no sender"),
    Case("walmart-without-case", "someone@walmart.com", CUSTOMER, "Walmart address",
         subject="Hello", body="Just checking in."),
    Case("relay-with-case-words", BUYER, CUSTOMER, "buyer relay",
         body="I called customer care, they escalated it and gave me case number 5."),
    Case("lookalike-domain", "help@evilwalmart.com", CUSTOMER, "other sender",
         body="Walmart Customer Care escalation, case number 1"),
    Case("lookalike-suffix", "help@walmart.com.evil.io", CUSTOMER, "other sender",
         body="Walmart Customer Care escalation, case number 1"),
    Case("spam-folder-customer", "jane@yahoo.com", CUSTOMER, "other sender",
         folder=FolderRole.SPAM),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_classify(case: Case) -> None:
    verdict = classify(build(case), folder=case.folder, seller_addresses=[SELLER, "x@y.example"])
    assert isinstance(verdict, Verdict)
    assert verdict.classification == case.expected, verdict.reason
    assert case.reason.lower() in verdict.reason.lower()
    assert verdict.complaint is case.complaint


def test_automated_reason_wording() -> None:
    case = Case("", BUYER, AUTOMATED, "", headers={"Auto-Submitted": "auto-replied"})
    verdict = classify(build(case), folder=FolderRole.INBOX, seller_addresses=())
    assert verdict.reason == "Auto-Submitted: auto-replied"


# --- order numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "body", "expected"),
    [
        ("Order 108829272810783", "", "108829272810783"),
        ("Question", "My PO 1815367951431 has not arrived", "1815367951431"),
        ("Question", "P.O. #1815367951431", "1815367951431"),
        ("", "Customer Order 200011419023224", "200011419023224"),
        ("", "Sales Order ID: 5921679250664\nItem ID: 123", "5921679250664"),
        ("", "Purchase Order Number: 108829272810783", "108829272810783"),
        ("", "order no. 4372135469400", "4372135469400"),
        ("", "Order #: 108829272810783", "108829272810783"),
        ("", "my order number is 108829272810783", "108829272810783"),
        # Hyphenated, as customers see it.
        ("Re: 2000114-19023224", "", "200011419023224"),
        ("", "about 1815367-951431 please", "1815367951431"),
        ("Order 1088292-72810783 late", "", "108829272810783"),
        # Subject beats body; labelled beats bare.
        ("PO 108829272810783", "Order 200011419023224", "108829272810783"),
        ("My order", "ref 4372135469400 and PO 1815367951431", "1815367951431"),
        # Bare numbers count only where "order" is mentioned.
        ("Where is my order", "It is 108829272810783", "108829272810783"),
        ("Question", "Regarding 108829272810783", None),
        ("Question", "Ordered it: 108829272810783", "108829272810783"),
        ("Question about my order", "Tracking: 123456789012345", None),
        # Negatives.
        ("Order", "Call me at 5551234567", None),
        ("Order status", "Tracking 12345678901234567890", None),
        ("Order", "Order 1234567890123456", None),  # 16 digits
        ("Order", "RefID: 91DDE88D93C64028BE3677716382744A1234567890123", None),
        ("", "", None),
    ],
)
def test_extract_order_number(subject: str, body: str, expected: str | None) -> None:
    assert extract_order_number(subject, body) == expected


# --- addresses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (BUYER, True),
        (BUYER.lower(), True),
        (BUYER_PC, True),
        ("PC-3c93faec67834d5c9cfc023d2f0004bd@Relay.Walmart.com", True),
        ("91DDE88D93C64028BE36D7771638A274@es.relay.walmart.com", True),
        ("mp-payments@relay.walmart.com", False),
        ("no-reply@es.relay.walmart.com", False),
        ("91DDE88D93C64028BE36D7771638A27@relay.walmart.com", False),  # 31 hex
        ("91DDE88D93C64028BE36D7771638A274Z@relay.walmart.com", False),
        ("91DDE88D93C64028BE36D7771638A274@relay.walmart.com.evil.io", False),
        ("91DDE88D93C64028BE36D7771638A274@evilrelay.walmart.com", False),
        ("91DDE88D93C64028BE36D7771638A274@walmart.com", False),
        ("", False),
        (None, False),
    ],
)
def test_is_buyer_relay(address: str | None, expected: bool) -> None:
    assert is_buyer_relay(address) is expected


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (BUYER, True),
        ("no-reply@es.relay.walmart.com", True),
        ("partnerhelp@wal-mart.com", True),
        ("PartnerHelp@Wal-Mart.COM", True),
        ("someone@walmart.com", True),
        ("newsletter@em.business.walmart.com", True),
        ("x@evilwalmart.com", False),
        ("x@walmart.com.evil.io", False),
        ("walmart.com@evil.io", False),
        ("x@sub.wal-mart.com", False),  # not in the default list
        ("x@walmart.com@evil.io", False),
        ("<x@walmart.com>", False),
        ("x y@walmart.com", False),
        ("", False),
        (None, False),
    ],
)
def test_is_whitelisted(address: str | None, expected: bool) -> None:
    assert is_whitelisted(address, DEFAULT_WHITELIST) is expected


def test_whitelist_only_looks_at_from() -> None:
    raw = (
        b"From: spammer@evil.io\r\nReply-To: help@walmart.com\r\n"
        b"Sender: 91DDE88D93C64028BE36D7771638A274@relay.walmart.com\r\n\r\nBuy now\r\n"
    )
    parsed = parse_message(raw)
    assert is_whitelisted(parsed.from_address, DEFAULT_WHITELIST) is False


def test_whitelist_with_no_patterns() -> None:
    assert is_whitelisted("someone@walmart.com", []) is False
