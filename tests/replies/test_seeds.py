"""The starting templates: they load, render cleanly and pass the lint as they are."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.config import ReplySettings
from app.replies.lint import lint
from app.replies.render import ReplyContext, render
from app.replies.seeds import SEED_DIRECTORY, SeedTemplate, load_seed_templates

SEEDS = load_seed_templates(SEED_DIRECTORY)
SETTINGS = ReplySettings()
EXPECTED_SLUGS = {
    "where_is_my_order",
    "delivered_not_received",
    "item_arrived_damaged",
    "return_or_refund",
    "cancellation_request",
    "customer_care_escalation",
    "wrong_item_received",
    "product_question",
}


def context(*, customer_name: str | None, order_number: str | None) -> ReplyContext:
    return ReplyContext(
        customer_name=customer_name,
        order_number=order_number,
        subject="Re: Your order",
        last_customer_message="Hi, my order has not arrived yet. Where is it?",
        signature=SETTINGS.signature,
    )


def test_every_seed_loads_sorted_by_name() -> None:
    assert {seed.slug for seed in SEEDS} == EXPECTED_SLUGS
    assert [seed.name for seed in SEEDS] == sorted((seed.name for seed in SEEDS), key=str.casefold)
    for seed in SEEDS:
        assert seed.name and seed.category
        assert "{#" not in seed.body, seed.slug
        assert seed.body.startswith("Hello"), seed.slug


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: seed.slug)
@pytest.mark.parametrize("customer_name", ["Alice", "Mary-Jane O'Neil", None])
@pytest.mark.parametrize("order_number", ["1234567-12345678", "200011419023224", None])
def test_seed_renders_and_passes_lint(
    seed: SeedTemplate, customer_name: str | None, order_number: str | None
) -> None:
    rendered = render(seed.body, context(customer_name=customer_name, order_number=order_number))
    assert rendered.error is None
    assert rendered.undefined == ()
    assert lint(rendered.text, bare_template=None, settings=SETTINGS) == []
    assert "None" not in rendered.text
    assert "[[" not in rendered.text
    assert rendered.text.rstrip().endswith(SETTINGS.signature)


@pytest.mark.parametrize("seed", SEEDS, ids=lambda seed: seed.slug)
def test_seed_reads_naturally_without_a_name_or_order(seed: SeedTemplate) -> None:
    text = render(seed.body, context(customer_name=None, order_number=None)).text
    first_line = text.splitlines()[0]
    assert first_line in ("Hello,", "Hello Customer Care team,")
    assert " ," not in text
    assert " ." not in text
    assert "order ." not in text
    assert "\n\n\n" not in text


def test_seed_greets_the_customer_by_name() -> None:
    seed = next(s for s in SEEDS if s.slug == "where_is_my_order")
    text = render(seed.body, context(customer_name="Alice", order_number="1234567-12345678")).text
    assert text.startswith("Hello Alice,\n")
    assert "about order 1234567-12345678," in text


def test_unedited_seed_is_not_personalised_against_itself() -> None:
    """The drafts code passes the text a draft started from as the bare template."""
    seed = SEEDS[0]
    text = render(seed.body, context(customer_name="Alice", order_number=None)).text
    assert [f.code for f in lint(text, bare_template=text, settings=SETTINGS)] == [
        "not_personalised"
    ]


def test_missing_metadata_raises_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "good.j2").write_text("{# name: Good #}\n{# category: misc #}\nHello,\n")
    (tmp_path / "bad.j2").write_text("{# name: No category #}\nHello,\n")
    with pytest.raises(ValueError, match=r"bad\.j2: missing category"):
        load_seed_templates(tmp_path)


def test_metadata_lines_are_stripped_and_extra_keys_ignored(tmp_path: Path) -> None:
    (tmp_path / "b.j2").write_text(
        "{# name: Beta #}\n{#category:   misc  #}\n{# note: for testing #}\nHello,\n{# kept #}\n"
    )
    (tmp_path / "a.j2").write_text("{# category: misc #}\n{# name: alpha #}\nHi,\n")
    (tmp_path / "notes.txt").write_text("not a template")
    assert load_seed_templates(tmp_path) == [
        SeedTemplate(slug="a", name="alpha", category="misc", body="Hi,\n"),
        SeedTemplate(slug="b", name="Beta", category="misc", body="Hello,\n{# kept #}\n"),
    ]


def test_a_broken_template_raises_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.j2").write_text("{# name: Broken #}\n{# category: misc #}\n{{ oops }\n")
    with pytest.raises(ValueError, match=r"broken\.j2: line 3: unexpected '}'"):
        load_seed_templates(tmp_path)
