"""lint: one table row per rule and its near misses."""

from __future__ import annotations

import pytest

from app.config import ReplySettings
from app.replies.lint import Finding, lint

SETTINGS = ReplySettings(
    signature="Qwzx Outfitters Team",
    contact_emails=["support@myshop.example"],
    contact_phones=["+1 (800) 555-0100"],
    link_domains=["walmart.com", "myshop.example"],
    allowed_words=["Frobnicator"],
)
BUYER = "91DDE88D93C64028BE36D7771638A274@relay.walmart.com"


def reply(sentence: str) -> str:
    """A clean reply with ``sentence`` in its middle."""
    return (
        "Hello Alice,\n\nThank you for your message about your order. "
        f"{sentence}\n\nBest regards,\nQwzx Outfitters Team\n"
    )


def codes(body: str, *, bare_template: str | None = None) -> list[str]:
    return [f.code for f in lint(body, bare_template=bare_template, settings=SETTINGS)]


@pytest.mark.parametrize(
    ("sentence", "expected"),
    [
        ("I have asked the carrier for an update.", []),
        # placeholder
        ("Your order [[order_number]] is on its way.", ["placeholder"]),
        ("Your order {{ order_number }} is on its way.", ["placeholder"]),
        ("{% if tracking %}Tracking is available.{% endif %}", ["placeholder", "placeholder"]),
        ("Dear [Customer Name], your order shipped.", ["placeholder"]),
        ("Order [ORDER NUMBER] shipped.", ["placeholder"]),
        ("Hello <name>, your order shipped.", ["placeholder"]),
        ("Your tracking number is XXX.", ["placeholder"]),
        ("TODO add the tracking number.", ["placeholder"]),
        ("It will arrive on ___.", ["placeholder"]),
        ("Write to <support@myshop.example> with questions.", []),
        ("You ordered 3 items in 2 boxes.", []),
        # overpromise
        ("We guarantee delivery by Friday.", ["overpromise"]),
        ("Delivery is guaranteed.", ["overpromise"]),
        ("We are 100% sure it will arrive.", ["overpromise"]),
        ("I will refund you immediately.", ["overpromise"]),
        ("We always ship on time.", ["overpromise"]),
        ("This will never again happen.", ["overpromise"]),
        ("I promise it arrives tomorrow.", ["overpromise"]),
        ("We Guarantee it, and we guarantee it again.", ["overpromise", "overpromise"]),
        ("We will look into an immediate solution.", []),
        ("You ordered 100 items.", []),
        ("The forecast looks promising.", []),
        # spelling
        ("I will recieve the package.", ["spelling"]),
        ("I will recieve it and recieve it again.", ["spelling"]),
        ("Your frobnicator is packed.", []),
        ("I spoke with Zyxqwert about it.", []),
        ("Zyxqwert has your package.", ["spelling"]),
        ("The ZXQW team and the abc123 code are fine.", []),
        ("We don't know yet, but we'll check and you're welcome.", []),
        ("The customer’s package and the carrier's scan are both late.", []),
        ("An xq is short.", []),
        # foreign_contact: links
        ("See https://www.walmart.com/orders for details.", []),
        ("Open walmart.com and sign in.", []),
        ("Our page is https://help.myshop.example/returns.", []),
        ("Visit https://walmart.com.evil.example/login now.", ["foreign_contact"]),
        ("Visit https://walmart.com@evil.example/login now.", ["foreign_contact"]),
        ("It is cheaper on amazon.com today.", ["foreign_contact"]),
        ("See www.myshop-outlet.com for more.", ["foreign_contact"]),
        # foreign_contact: addresses
        ("Write to support@myshop.example with questions.", []),
        ("Write to Support@MyShop.example with questions.", []),
        ("Write to someone@gmail.com with questions.", ["foreign_contact"]),
        (f"Your address is {BUYER} on file.", ["foreign_contact"]),
        (
            "Your address is pc-3C93FAEC67834D5C9CFC023D2F0004BD@relay.walmart.com.",
            ["foreign_contact"],
        ),
        # foreign_contact: phones
        ("Call us on +1 800 555 0100 any day.", []),
        ("Call us on (800) 555-0100 any day.", []),
        ("Call us on 800.555.0100 any day.", []),
        ("Call us on 555-123-4567 any day.", ["foreign_contact"]),
        ("Call us on 8005550199 any day.", ["foreign_contact"]),
        ("Call us on +44 20 7946 0958 any day.", ["foreign_contact"]),
        ("Order 1234567-12345678 and order 1234567-123456 shipped.", []),
        ("Orders 200011419023224 and 1815367951431 shipped.", []),
        ("Item ID: 5005291426 and order number 4372135469400.", []),
        ("The tracking number is 9400111899223100000000.", []),
        ("It shipped on 2024-05-12 and arrives by 05/14/2024.", []),
        ("It cost $1,299.00 for 2 units.", []),
    ],
)
def test_rules(sentence: str, expected: list[str]) -> None:
    assert codes(reply(sentence)) == expected


@pytest.mark.parametrize(
    "first_line",
    [
        "Hello Alice,",
        "Hi,",
        "Hi there!",
        "Dear customer,",
        "Good morning Alice,",
        "Good afternoon,",
        "Greetings,",
        "Thank you for writing,",
        "Thanks for your patience,",
        "\n\n  Hello,",
    ],
)
def test_greeting(first_line: str) -> None:
    body = f"{first_line}\n\nI am sorry your order is late.\n\nQwzx Outfitters Team"
    assert codes(body) == []


@pytest.mark.parametrize(
    "first_line", ["Your order shipped.", "Alice,", "Regarding your order,", "We are sorry, hello."]
)
def test_no_greeting(first_line: str) -> None:
    body = f"{first_line}\n\nI am sorry your order is late.\n\nQwzx Outfitters Team"
    assert codes(body) == ["no_greeting"]
    finding = lint(body, bare_template=None, settings=SETTINGS)[0]
    assert finding.severity == "warning"
    assert first_line in finding.message


@pytest.mark.parametrize(
    "sentence",
    [
        "Thank you for your patience.",
        "Thanks for waiting.",
        "I understand this is annoying.",
        "We completely understand.",
        "I'm sorry to hear that.",
        "We apologize for the delay.",
        "Please accept our apologies.",
        "I appreciate your patience.",
        "I know how frustrating this is.",
    ],
)
def test_acknowledgement(sentence: str) -> None:
    assert codes(f"Hello,\n\nYour order shipped. {sentence}\n\nQwzx Outfitters Team") == []


def test_no_acknowledgement() -> None:
    body = "Hello,\n\nYour order shipped on Monday. Thank you.\n\nQwzx Outfitters Team"
    assert codes(body) == ["no_acknowledgement"]


def test_not_personalised_compares_text_whatever_the_whitespace() -> None:
    bare = "Hello,\n\nThank you for your message.\n\nQwzx Outfitters Team\n"
    same = "Hello,\nThank you for  your message.\n\n\nQwzx Outfitters Team"
    assert codes(same, bare_template=bare) == ["not_personalised"]
    assert lint(same, bare_template=bare, settings=SETTINGS)[0].severity == "error"
    assert codes(same.replace("Hello,", "Hello Alice,"), bare_template=bare) == []
    assert codes(same, bare_template=None) == []


@pytest.mark.parametrize("body", ["", "  \n\t\n"])
def test_empty(body: str) -> None:
    assert lint(body, bare_template="Hello,", settings=SETTINGS) == [
        Finding("empty", "error", "the reply is empty")
    ]


def test_severities() -> None:
    body = (
        "Your order [[order_number]] shipped. We guarantee it arrives. I recieve mail at "
        "someone@gmail.com.\n"
    )
    found = {f.code: f.severity for f in lint(body, bare_template=body, settings=SETTINGS)}
    assert found == {
        "not_personalised": "error",
        "no_greeting": "warning",
        "no_acknowledgement": "warning",
        "placeholder": "error",
        "overpromise": "error",
        "spelling": "warning",
        "foreign_contact": "error",
    }


def test_whole_text_findings_first_then_by_position() -> None:
    body = "Your order shipped.\nCall 555-123-4567. I recieve it. We guarantee it. [[name]]"
    assert codes(body) == [
        "no_greeting",
        "no_acknowledgement",
        "foreign_contact",
        "spelling",
        "overpromise",
        "placeholder",
    ]


def test_messages_name_the_offending_text() -> None:
    body = reply(
        "We guarantee it. I recieve calls at 555-123-4567 and mail at someone@gmail.com, "
        f"and {BUYER}; see amazon.com. [Tracking Number]"
    )
    findings = lint(body, bare_template=None, settings=SETTINGS)
    messages = [f.message for f in findings]
    assert messages == [
        "'guarantee' promises more than the seller may be able to keep; "
        "say what you will do next instead",
        "'recieve' is not in the dictionary; did you mean 'receive'?",
        "the phone number '555-123-4567' is not one of the seller's numbers",
        "the address 'someone@gmail.com' is not one of the seller's contact emails",
        f"'{BUYER}' is a Walmart relay address (a buyer's masked address); never put it in a reply",
        "the link 'amazon.com' is not to an allowed site (walmart.com, myshop.example)",
        "'[Tracking Number]' is a placeholder in brackets; replace it with the real text",
    ]
    assert findings[0].excerpt == "…message about your order. We guarantee it. I recieve calls at…"
    assert all(f.excerpt for f in findings)


def test_relay_address_is_flagged_even_when_configured() -> None:
    settings = ReplySettings(signature=SETTINGS.signature, contact_emails=[BUYER])
    found = lint(reply(f"Write to {BUYER}."), bare_template=None, settings=settings)
    assert [f.code for f in found] == ["foreign_contact"]


def test_default_settings_allow_walmart_links_only() -> None:
    settings = ReplySettings(signature=SETTINGS.signature)
    body = reply("See https://www.walmart.com/account and https://myshop.example/help.")
    found = lint(body, bare_template=None, settings=settings)
    assert [(f.code, f.excerpt) for f in found] == [
        ("foreign_contact", "…and https://myshop.example/help. Best regards, Qwzx…")
    ]
