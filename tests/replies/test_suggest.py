"""The template a message's topic suggests: plain rules on its words, without a database."""

from __future__ import annotations

import pytest

from app.replies.seeds import SEED_DIRECTORY, load_seed_templates
from app.replies.suggest import TOPICS, suggest


@pytest.mark.parametrize(
    ("subject", "text", "template"),
    [
        ("Please cancel my order", "I ordered twice by mistake.", "Cancellation request"),
        (
            "Order 108829272810783",
            "The lamp arrived BROKEN, glass everywhere",
            "Item arrived damaged",
        ),
        ("Wrong item", "I got a blue mug instead of the red one.", "Wrong item received"),
        (
            "Package",
            "Tracking says delivered but I never received it.",
            "Delivered but not received",
        ),
        ("Refund", "How do I return this and get my money back?", "Return or refund request"),
        ("Where is my order?", "It has not arrived yet.", "Where is my order"),
        ("Question about sizes", "Does it fit a queen bed?", "Product question"),
        (
            "Walmart Customer Care escalation",
            "Case number 12345",
            "Walmart Customer Care escalation",
        ),
        # Typographic apostrophes and line breaks are the same words.
        ("Hi", "I didn\u2019t\nreceive my package", "Delivered but not received"),
    ],
)
def test_the_topic_picks_its_template(subject: str, text: str, template: str) -> None:
    suggestion = suggest(subject=subject, text=text)
    assert suggestion is not None and suggestion.template_name == template


def test_the_subject_outweighs_the_story_in_the_text() -> None:
    # The text mentions the tracking the customer checked; the subject says what they want.
    suggestion = suggest(subject="Refund please", text="Tracking shows it is late. Tracking!")
    assert suggestion is not None and suggestion.template_name == "Return or refund request"


def test_a_tie_goes_to_the_more_specific_topic() -> None:
    suggestion = suggest(subject="", text="I want to cancel; the tracking has not moved.")
    assert suggestion is not None
    assert (suggestion.template_name, suggestion.matched) == ("Cancellation request", "cancel")


def test_whole_words_only_and_nothing_when_no_rule_matches() -> None:
    # "translate" holds "late", "returnable" holds "return": neither is the word.
    assert suggest(subject="Hello", text="Can you translate the manual? Is it returnable?") is None
    assert suggest(subject="", text="") is None


def test_every_topic_points_to_a_starting_template() -> None:
    names = {seed.name for seed in load_seed_templates(SEED_DIRECTORY)}
    assert {topic.template_name for topic in TOPICS} <= names
