"""The lint's tracking check: a reply quoting a tracking number the thread's order does not have,
or the MCF placeholder (USPS 12345), is an error; the order's own number is not. And the reply
templates' order variables, never holding the placeholder."""

from __future__ import annotations

import pytest

from app.config import ReplySettings
from app.replies.lint import lint
from app.replies.render import ReplyContext, render, template_problems
from app.replies.tracking import TrackingFacts, quoted_numbers
from app.walmart.orders import parse_order
from app.walmart.variables import order_values
from tests.support.walmart_api import order_line, purchase_order

SETTINGS = ReplySettings(signature="Qwzx Outfitters Team", link_domains=["ups.com"])
REAL = "1Z999AA10123456784"
ORDER = parse_order(
    [
        purchase_order(
            "108829272810783",
            "200011419023224",
            [
                order_line("1", "Towels", tracking=REAL),
                order_line("2", "Mugs", carrier="USPS", tracking="12345", url=None),
            ],
        )
    ]
)


def reply(sentence: str) -> str:
    return (
        "Hello Alice,\n\nThank you for your message about your order. "
        f"{sentence}\n\nBest regards,\nQwzx Outfitters Team\n"
    )


def tracking_codes(sentence: str, facts: TrackingFacts) -> list[str]:
    found = lint(reply(sentence), bare_template=None, settings=SETTINGS, tracking=facts)
    return [f.code for f in found if f.code == "tracking_number"]


KNOWN = TrackingFacts.of(ORDER)
UNKNOWN = TrackingFacts.of(None)


@pytest.mark.parametrize(
    ("sentence", "facts", "expected"),
    [
        (f"Your tracking number is {REAL}.", KNOWN, []),
        (f"Tracking: {REAL.lower()}", KNOWN, []),
        ("Your tracking number is 1Z999AA10123456785.", KNOWN, ["tracking_number"]),
        ("Tracking # 9400111899223197428490, via USPS.", KNOWN, ["tracking_number"]),
        ("It shipped as 9400111899223197428490 with USPS.", KNOWN, ["tracking_number"]),
        ("Your USPS tracking number is 12345.", KNOWN, ["tracking_number"]),
        ("Your USPS tracking number is 12345.", UNKNOWN, ["tracking_number"]),
        ("Your tracking number is 1Z999AA10123456785.", UNKNOWN, []),  # nothing to check against
        ("Order 108829272810783 shipped; tracking is on its way.", KNOWN, []),
        ("Tracking information will follow.", KNOWN, []),
    ],
)
def test_tracking_numbers_quoted_in_a_reply(
    sentence: str, facts: TrackingFacts, expected: list[str]
) -> None:
    assert tracking_codes(sentence, facts) == expected


def test_the_finding_says_what_the_order_has() -> None:
    (finding,) = [
        f
        for f in lint(
            reply("Your tracking number is 1Z999AA10123456785."),
            bare_template=None,
            settings=SETTINGS,
            tracking=KNOWN,
        )
        if f.code == "tracking_number"
    ]
    assert finding.severity == "error" and REAL in finding.message
    (placeholder,) = [
        f
        for f in lint(
            reply("Tracking: 12345"), bare_template=None, settings=SETTINGS, tracking=KNOWN
        )
        if f.code == "tracking_number"
    ]
    assert "placeholder" in placeholder.message and "not real tracking" in placeholder.message


def test_each_number_is_found_once() -> None:
    assert [n for _, _, n in quoted_numbers(f"tracking number {REAL}")] == [REAL]


TEMPLATE = (
    "Hello,\n{% if tracking_number %}Your {{ carrier }} tracking number is {{ tracking_number }}"
    " ({{ tracking_url }}), shipped {{ ship_date }}.{% else %}The tracking is not available yet."
    "{% endif %}\nStatus: {{ order_status }}; delivery by {{ estimated_delivery|default('soon') }}"
    "{% if return_status %}; return {{ return_status }}{% endif %}.\n{{ signature }}"
)


def context(order_number: str, values: dict[str, str | None]) -> ReplyContext:
    return ReplyContext(
        customer_name="Alice",
        order_number=order_number,
        subject="Where is my order?",
        last_customer_message="Where is it?",
        signature="Qwzx Outfitters Team",
        **values,  # type: ignore[arg-type]
    )


def test_templates_may_use_the_order_variables() -> None:
    assert template_problems(TEMPLATE) == []
    rendered = render(TEMPLATE, context("108829272810783", order_values(ORDER)))
    assert rendered.error is None and rendered.undefined == ()
    assert f"Your UPS tracking number is {REAL} (https://www.ups.com/" in rendered.text
    assert "shipped November 28, 2026" in rendered.text
    assert "Status: Shipped; delivery by December 3, 2026." in rendered.text


def test_a_placeholder_never_reaches_a_reply() -> None:
    mcf_only = parse_order(
        [
            purchase_order(
                "108829272810783",
                "200011419023224",
                [order_line("1", "Towels", carrier="USPS", tracking="12345")],
            )
        ]
    )
    rendered = render(TEMPLATE, context("108829272810783", order_values(mcf_only)))
    assert rendered.error is None
    assert "12345" not in rendered.text
    assert "The tracking is not available yet." in rendered.text
    # Used bare, an unknown value shows as a placeholder the lint catches, never as "None".
    bare = render("Tracking: {{ tracking_number }}", context("1", order_values(mcf_only)))
    assert bare.text == "Tracking: [[tracking_number]]" and bare.undefined == ("tracking_number",)


def test_where_is_my_order_quotes_the_real_tracking_and_passes_the_lint() -> None:
    from app.replies.seeds import SEED_DIRECTORY, load_seed_templates

    seed = next(s for s in load_seed_templates(SEED_DIRECTORY) if s.slug == "where_is_my_order")
    rendered = render(seed.body, context("108829272810783", order_values(ORDER)))
    assert rendered.error is None and rendered.undefined == ()
    assert (
        f"Your package shipped on November 28, 2026 with UPS, tracking number {REAL}: "
        f"https://www.ups.com/track?tracknum={REAL}. The estimated delivery date is "
        "December 3, 2026.\n\nI am looking" in rendered.text
    )
    settings = ReplySettings(signature="Qwzx Outfitters Team")  # ups.com is not a listed site
    assert lint(rendered.text, bare_template=None, settings=settings, tracking=KNOWN) == []
    # Another link to the carrier is still not the seller's to give.
    other = rendered.text.replace(f"tracknum={REAL}", "tracknum=1Z000")
    codes = [f.code for f in lint(other, bare_template=None, settings=settings, tracking=KNOWN)]
    assert codes == ["foreign_contact"]
