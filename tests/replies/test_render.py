"""render and template_problems: filling in, visible gaps, and a sandbox that leaks nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.replies.render import (
    CONTEXT_VARIABLES,
    MAX_OUTPUT_CHARS,
    ReplyContext,
    render,
    template_problems,
)
from app.replies.seeds import SEED_DIRECTORY, load_seed_templates

CONTEXT = ReplyContext(
    customer_name="Alice",
    order_number="1234567-12345678",
    subject="Where is my order?",
    last_customer_message="It has been two weeks.",
    signature="Customer Care Team",
)
NO_NAME = ReplyContext(
    customer_name=None,
    order_number=None,
    subject="Question",
    last_customer_message="Hello?",
    signature="Customer Care Team",
)
GREETING = "Hello{% if customer_name %} {{ customer_name }}{% endif %},\n"


def test_context_variables_are_the_reply_context_fields() -> None:
    assert CONTEXT_VARIABLES == (
        "customer_name",
        "order_number",
        "subject",
        "last_customer_message",
        "signature",
    )


def test_fills_context_variables() -> None:
    body = (
        GREETING + "Order {{ order_number }}: {{ subject }} / {{ last_customer_message }}\n"
        "{{ signature }}\n"
    )
    assert render(body, CONTEXT).text == (
        "Hello Alice,\nOrder 1234567-12345678: Where is my order? / It has been two weeks.\n"
        "Customer Care Team\n"
    )


def test_missing_customer_name_handled_by_if() -> None:
    rendered = render(GREETING, NO_NAME)
    assert rendered == render(GREETING, NO_NAME)
    assert rendered.text == "Hello,\n"
    assert rendered.undefined == ()
    assert rendered.error is None


def test_none_used_bare_is_a_visible_placeholder() -> None:
    rendered = render("Hello {{ customer_name }}, about {{ order_number }}.", NO_NAME)
    assert rendered.text == "Hello [[customer_name]], about [[order_number]]."
    assert rendered.undefined == ("customer_name", "order_number")
    assert rendered.error is None


def test_none_works_with_default_filter_and_none_test() -> None:
    body = "{{ customer_name|default('there') }}{% if order_number is none %} (no order){% endif %}"
    assert render(body, NO_NAME) == render(body, NO_NAME)
    assert render(body, NO_NAME).text == "there (no order)"
    assert render(body, NO_NAME).undefined == ()
    assert render(body, CONTEXT).text == "Alice"


def test_unknown_variable_renders_placeholder_and_is_listed() -> None:
    rendered = render("Tracking: {{ tracking_number }}{% if carrier %}!{% endif %}", CONTEXT)
    assert rendered.text == "Tracking: [[tracking_number]]"
    assert rendered.undefined == ("tracking_number", "carrier")
    assert rendered.error is None


def test_filters_and_trailing_newline() -> None:
    rendered = render("{{ customer_name|upper }} {{ subject|truncate(9, end='...') }}\n", CONTEXT)
    assert rendered.text == "ALICE Where...\n"


def test_block_tags_on_their_own_lines_leave_no_blank_lines() -> None:
    body = "Hi,\n{% if order_number %}\nOrder {{ order_number }}\n{% endif %}\nBye\n"
    assert render(body, CONTEXT).text == "Hi,\nOrder 1234567-12345678\nBye\n"
    assert render(body, NO_NAME).text == "Hi,\nBye\n"


def test_syntax_error_has_a_line_number() -> None:
    rendered = render("Hello,\n\n{{ customer_name }\n", CONTEXT)
    assert rendered.text == ""
    assert rendered.error == "line 3: unexpected '}'"


def test_runtime_error_has_a_line_number() -> None:
    rendered = render("one\n{{ 1 / 0 }}", CONTEXT)
    assert rendered.text == ""
    assert rendered.error == "line 2: division by zero"


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__subclasses__() }}",
        "{{ ''['__class__'] }}",
        "{{ subject['__class__']['__mro__'] }}",
        "{{ subject['format'] }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ self }}",
        "{{ self.__dict__ }}",
        "{{ range(10**9)|list }}",
        "{{ lipsum() }}",
        "{{ customer_name.upper() }}",
        "{% for x in subject %}{% for y in subject %}{% endfor %}{% endfor %}",
        "{% set a = subject ~ subject %}{{ a }}",
        "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
        "{{ subject|attr('__class__') }}",
        "{{ subject|map(attribute='__class__')|list }}",
        "{{ subject|center(1000000000) }}",
        "{{ subject|format(1) }}",
        "{{ 'x' * 10**9 }}",
        "{{ 2 ** 100000 }}",
        "{{ '%0999999999d' % 1 }}",
        "{{ last_customer_message|replace('', subject * 10000) }}",
    ],
)
def test_sandbox_refuses_with_an_error(template: str) -> None:
    rendered = render(template, CONTEXT)
    assert rendered.error
    assert rendered.text == ""


@pytest.mark.parametrize("name", ["cycler", "lipsum", "range", "dict", "joiner", "namespace"])
def test_jinja_globals_are_not_available(name: str) -> None:
    rendered = render(f"{{{{ {name} }}}}", CONTEXT)
    assert rendered.text == f"[[{name}]]"
    assert rendered.undefined == (name,)
    assert template_problems(f"{{{{ {name} }}}}")


@pytest.mark.parametrize(
    "template",
    [
        "{% include '/etc/passwd' %}",
        "{% include 'etc/passwd' %}",
        "{% import 'x' as y %}",
        "{% from '/etc/passwd' import x %}",
        "{% extends '/etc/passwd' %}",
        "{% include subject %}",
    ],
)
def test_templates_cannot_read_files(template: str) -> None:
    rendered = render(template, CONTEXT)
    assert rendered.error
    assert rendered.text == ""
    passwd = Path("/etc/passwd")
    first_line = passwd.read_text().splitlines()[0] if passwd.exists() else "root:x:0:0"
    assert first_line not in rendered.error
    assert template_problems(template)


def test_output_is_capped() -> None:
    body = "{{ last_customer_message }}" * 1000
    long = ReplyContext(
        customer_name=None,
        order_number=None,
        subject="",
        last_customer_message="x" * 1000,
        signature="",
    )
    rendered = render(body, long)
    assert rendered.text == ""
    assert rendered.error == f"the reply would be longer than {MAX_OUTPUT_CHARS:,} characters"


def test_render_never_raises_on_odd_input() -> None:
    for body in ["{{", "{%", "{% if %}", "{% endif %}", "{{ 1 + }}", "{{ x.y }"]:
        rendered = render(body, CONTEXT)
        assert rendered.error is not None
        assert rendered.text == ""
    assert render("", CONTEXT) == render("", CONTEXT)
    assert render("", CONTEXT).text == ""


@pytest.mark.parametrize(
    "template",
    [
        "{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}",
        "{% if subject %}" * 200 + "x" + "{% endif %}" * 200,
    ],
)
def test_deep_nesting_is_an_error_not_a_crash(template: str) -> None:
    assert render(template, CONTEXT).error == "line 1: the template is nested too deeply"
    assert template_problems(template) == ["line 1: the template is nested too deeply"]


def test_template_problems_accepts_a_good_template() -> None:
    body = (
        GREETING + "{{ subject|lower }} {{ order_number|default('your order') }}\n{{ signature }}"
    )
    assert template_problems(body) == []


def test_template_problems_names_an_unknown_variable() -> None:
    problems = template_problems("Hello,\n{{ tracking_number }}\n{{ tracking_number }}")
    assert len(problems) == 1
    assert problems[0].startswith("line 2: unknown variable 'tracking_number' (available: ")
    assert "customer_name" in problems[0]


def test_template_problems_reports_a_syntax_error() -> None:
    assert template_problems("Hello\n{% if customer_name %}x") == [
        "line 2: Unexpected end of template. Jinja was looking for the following tags: "
        "'elif' or 'else' or 'endif'. The innermost block that needs to be closed is 'if'."
    ]


def test_template_problems_reports_an_unknown_filter_even_inside_if() -> None:
    problems = template_problems("{% if customer_name %}\n{{ customer_name|shout }}{% endif %}")
    assert len(problems) == 1
    assert problems[0].startswith("line 2: unknown filter 'shout'")


def test_template_problems_reports_refused_constructs_once_each() -> None:
    problems = template_problems(
        "{{ subject.__class__.__mro__ }}\n{% for c in subject %}{% endfor %}"
    )
    assert problems == [
        "line 1: reply templates do not support attribute access ('.name'); "
        "use a filter such as |upper",
        "line 2: reply templates do not support loops ({% for %})",
    ]


def test_template_problems_accepts_every_seed_template() -> None:
    seeds = load_seed_templates(SEED_DIRECTORY)
    assert seeds
    for seed in seeds:
        assert template_problems(seed.body) == [], seed.slug
