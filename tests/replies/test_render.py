"""render and template_problems: filling in, visible gaps, a sandbox that leaks nothing, and caps
on what a render may build and how long it may take."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import pytest
from jinja2.sandbox import SandboxedEnvironment

from app.replies import caps
from app.replies.caps import (
    MAX_OUTPUT_CHARS,
    MAX_RENDER_CHARS,
    MAX_VALUE_CHARS,
    RENDER_CPU_SECONDS,
)
from app.replies.render import (
    CONTEXT_VARIABLES,
    Rendered,
    ReplyContext,
    render,
    template_problems,
)
from app.replies.seeds import SEED_DIRECTORY, SeedTemplate, load_seed_templates

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
        # From the order read from Walmart (app.walmart.variables).
        "order_status",
        "carrier",
        "tracking_number",
        "tracking_url",
        "ship_date",
        "estimated_delivery",
        "return_status",
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
    rendered = render("Coupon: {{ coupon_code }}{% if gift_wrap %}!{% endif %}", CONTEXT)
    assert rendered.text == "Coupon: [[coupon_code]]"
    assert rendered.undefined == ("coupon_code", "gift_wrap")
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
    problems = template_problems("Hello,\n{{ coupon_code }}\n{{ coupon_code }}")
    assert len(problems) == 1
    assert problems[0].startswith("line 2: unknown variable 'coupon_code' (available: ")
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


# --- Caps on what a render builds, and its time limit -------------------------------------------

VALUE_CAP = f"the template builds a value longer than {MAX_VALUE_CHARS:,} characters"
RENDER_CAP = f"the template builds more than {MAX_RENDER_CHARS:,} characters in all"
NUMBER_CAP = "the template builds a number larger than 4096 bits"
REFUSED = "reply templates do not support"
HEAP_BOUND = 50_000_000  # bytes a hostile render may allocate at its peak (tracemalloc)

HOSTILE: list[tuple[str, str]] = [
    # Issue 14: a thousand items of a thousand items, 14 million characters as text.
    ("{{ ([[subject]*1000]*1000)|string|length }}", f"line 1: {VALUE_CAP}"),
    ("{{ ([[[subject]*100]*100]*100)|length }}", f"line 1: {VALUE_CAP}"),
    ("{{ (subject * 5000) * 5000 }}", f"line 1: {VALUE_CAP}"),
    ("{{ 'x' * 10**9 }}", f"line 1: {VALUE_CAP}"),
    ("{{ [subject] * 10**9 }}", f"line 1: {VALUE_CAP}"),
    ("\n{{ ('x' * 99999) + ('x' * 99999) }}", f"line 2: {VALUE_CAP}"),
    ("{{ [1] * 40000 + [2] * 40000 }}", f"line 1: {VALUE_CAP}"),
    ("{{ ('x' * 60000) ~ ('x' * 60000) }}", f"line 1: {VALUE_CAP}"),
    ("{{ ('x' * 99999)[::-1] ~ subject }}", f"line 1: {VALUE_CAP}"),
    ("{{ (['ab'] * 40000)|join('xyz') }}", f"line 1: {VALUE_CAP}"),
    ("{{ (subject * 5000)|join(' ') }}", f"line 1: {VALUE_CAP}"),
    ("{{ subject|center(10**9) }}", f"line 1: {VALUE_CAP}"),
    ("{{ subject|center(99999) ~ subject|center(99999) }}", f"line 1: {VALUE_CAP}"),
    # Constants alone: evaluated at render time through the caps, never folded at compile time.
    ("{{ 'x'|center(60000) ~ 'y'|center(60000) }}", f"line 1: {VALUE_CAP}"),
    ("{{ ((subject ~ '\n') * 5000)|indent(50) }}", f"line 2: {VALUE_CAP}"),
    ("{{ subject|indent('x' * 99999, first=true) }}", f"line 1: {VALUE_CAP}"),
    ("{{ ('a\n' * 40000)|indent('bb') }}", f"line 2: {VALUE_CAP}"),
    ("{{ (subject * 5000)|wordwrap(1) }}", f"line 1: {VALUE_CAP}"),
    ("{{ (subject * 4000)|wordwrap(10, wrapstring='-' * 50) }}", f"line 1: {VALUE_CAP}"),
    ("{{ '%s%s'|format(subject * 5000, subject * 5000) }}", f"line 1: {VALUE_CAP}"),
    ("{{ '%0999999999d'|format(1) }}", f"line 1: {VALUE_CAP}"),
    ("{{ ('%(a)s' * 5)|format(a='x' * 50000) }}", f"line 1: {VALUE_CAP}"),
    ("{{ '%.999999f' % 1.5 }}", f"line 1: {VALUE_CAP}"),
    ("{{ '%s%s' % (subject * 5000, subject * 5000) }}", f"line 1: {VALUE_CAP}"),
    ("{{ last_customer_message|replace('', subject * 10000) }}", f"line 1: {VALUE_CAP}"),
    ("{{ (subject * 5000)|replace('o', 'oooooooooo') }}", f"line 1: {VALUE_CAP}"),
    ("{{ ([subject * 1000] * 50)|string }}", f"line 1: {VALUE_CAP}"),
    ("{{ (2 ** 4000) * (2 ** 4000) }}", f"line 1: {NUMBER_CAP}"),
    ("{{ 2 ** 100000 }}", f"line 1: {NUMBER_CAP}"),
    # Capped values, but many alive at once: the cap on one render.
    ("{{ [" + "'x' * 99999, " * 40 + "]|length }}", f"line 1: {RENDER_CAP}"),
    ("{% filter upper %}" + "{{ 'x' * 99999 }}" * 40 + "{% endfilter %}", f"line 1: {RENDER_CAP}"),
    # Outside the language altogether: no calls, loops, macros or {% set %}.
    ("{{ (subject * 5000)|list|length }}", "line 1: unknown filter 'list'"),
    ("{{ subject|batch(10**9) }}", "line 1: unknown filter 'batch'"),
    ("{{ subject|map('upper')|join }}", "line 1: unknown filter 'map'"),
    ("{{ subject|slice(10**6) }}", "line 1: unknown filter 'slice'"),
    ("{{ range(10**9)|length }}", f"line 1: {REFUSED} function or method calls"),
    ("{{ lipsum(10**6) }}", f"line 1: {REFUSED} function or method calls"),
    (
        "{% for a in subject %}{% for b in subject %}{% for c in subject %}"
        "{% endfor %}{% endfor %}{% endfor %}",
        f"line 1: {REFUSED} loops ({{% for %}})",
    ),
    (
        "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}",
        f"line 1: {REFUSED} macros ({{% macro %}})",
    ),
    (
        "{% set x = subject %}{% for i in subject %}{% set x = x ~ x %}{% endfor %}{{ x }}",
        f"line 1: {REFUSED} {{% set %}}",
    ),
]


@pytest.mark.parametrize(("template", "error"), HOSTILE)
def test_a_hostile_template_fails_with_the_cap_it_breaks_in_bounded_memory(
    template: str, error: str
) -> None:
    tracemalloc.start()
    try:
        rendered = render(template, CONTEXT)
        problems = template_problems(template)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rendered.text == ""
    assert rendered.error is not None
    assert rendered.error.startswith(error)
    assert problems
    assert problems[0].startswith(error)
    assert peak < HEAP_BOUND
    # The process is fine afterwards: no allowance is left behind, and a render works.
    assert caps._allowance.get() is None
    assert render(GREETING, CONTEXT).text == "Hello Alice,\n"


def test_values_up_to_the_cap_are_fine() -> None:
    body = (
        "{{ ('x' * 99990)|length }} {{ (['ab'] * 1000)|join(', ')|length }} "
        "{{ subject|center(99000)|length }} {{ '%05d'|format(42) }} {{ (2 ** 2000) > 0 }}"
    )
    assert render(body, CONTEXT).text == "99990 3998 99000 00042 True"
    assert template_problems(body) == []


# Jinja's own sandbox with the reply environment's whitespace settings: what a render should give.
REFERENCE = SandboxedEnvironment(keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True)


@pytest.mark.parametrize(
    "template",
    [
        "{{ last_customer_message|wordwrap(12) }}",
        "{{ last_customer_message|wordwrap(5, wrapstring='|', break_long_words=false) }}",
        "{{ 'one\ntwo\n\nthree'|indent }}|{{ 'one\ntwo\n\nthree'|indent('> ', true, true) }}",
        "{{ subject|center(30) }}|{{ subject|center(3) }}",
        "{{ [customer_name, order_number, 3]|join(', ') }}|{{ subject|join('.') }}",
        "{{ '%s, order %s'|format(customer_name, order_number) }}|{{ '%(n)-8s|'|format(n='ab') }}",
        "{{ 'Hi %s!' % customer_name }}|{{ '%5.1f%%' % 12.34 }}|{{ '%d' % 7 }}",
        "{{ subject|replace('order', 'parcel') }}|{{ subject|replace('o', '0', 1) }}",
        "{{ [1, 'a', (2, 3)]|string }}|{{ [subject][0][:5] }}|{{ subject[::-1] }}",
        "{{ subject ~ ' / ' ~ order_number ~ 42 }}|{{ 2 ** 10 + 3 * 4 - 6 // 4 }}|{{ 7 / 2 }}",
        "{{ ([1, 2] + [3]) * 2 }}|{{ (subject * 2)|length }}|{{ subject|upper|truncate(9) }}",
    ],
)
def test_capped_filters_and_operators_render_as_jinja_does(template: str) -> None:
    """The capped versions give Jinja's own results (the plain sandbox here as the reference)."""
    expected = REFERENCE.from_string(template).render(vars(CONTEXT))
    assert render(template, CONTEXT) == Rendered(text=expected, undefined=(), error=None)
    assert template_problems(template) == []


@pytest.mark.parametrize("seed", load_seed_templates(SEED_DIRECTORY), ids=lambda seed: seed.slug)
@pytest.mark.parametrize("context", [CONTEXT, NO_NAME], ids=["all values", "no name or order"])
def test_seed_templates_render_as_plain_jinja_does(
    seed: SeedTemplate, context: ReplyContext
) -> None:
    values = {name: value for name, value in vars(context).items() if value is not None}
    expected = REFERENCE.from_string(seed.body).render(values)
    assert render(seed.body, context) == Rendered(text=expected, undefined=(), error=None)


def test_an_unused_placeholder_and_none_still_render_through_the_caps() -> None:
    assert render("{{ tracking|string }} {{ tracking ~ '!' }}", CONTEXT).text == (
        "[[tracking]] [[tracking]]!"
    )


class SlowClock:
    """A CPU clock that moves 0.4 s every time the render looks at it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.4
        return self.now


TIME_LIMIT = f"the template took longer than {RENDER_CPU_SECONDS:g} s of CPU time to render"


@pytest.mark.parametrize(
    "template",
    [
        "{{ subject|upper }}{{ subject|lower }}{{ subject|title }}{{ subject|trim }}",
        "{{ subject ~ 1 }}{{ subject ~ 2 }}{{ subject ~ 3 }}{{ subject ~ 4 }}",
        "one\n{{ subject }}\n{{ subject }}\n{{ subject }}\n{{ subject }}\n",
    ],
)
def test_a_render_over_the_time_limit_fails_naming_the_limit(
    template: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(caps, "_cpu_time", SlowClock())
    rendered = render(template, CONTEXT)
    assert rendered.text == ""
    assert rendered.error is not None
    assert TIME_LIMIT in rendered.error
    assert "(the time limit)" in rendered.error
    assert TIME_LIMIT in template_problems(template)[0]
    assert caps._allowance.get() is None


def test_a_cap_broken_only_with_some_threads_is_saved_and_fails_its_render() -> None:
    """Saving renders sample threads; a branch they do not take is checked when a draft is made."""
    body = "{% if subject == 'Refund' %}{{ 'x' * 10**9 }}{% endif %}Hello"
    assert template_problems(body) == []
    refund = ReplyContext(
        customer_name=None,
        order_number=None,
        subject="Refund",
        last_customer_message="",
        signature="",
    )
    assert render(body, refund).error == f"line 1: {VALUE_CAP} (the cap on any one value)"
    assert render(body, CONTEXT).text == "Hello"


def test_saving_renders_without_the_optional_values_too() -> None:
    body = "{% if not customer_name %}{{ subject * 10**6 }}{% endif %}Hello"
    assert template_problems(body) == [f"line 1: {VALUE_CAP} (the cap on any one value)"]


def test_other_run_time_errors_are_left_to_the_draft() -> None:
    """``subject[99]`` depends on the thread: saving does not refuse it."""
    assert template_problems("{{ subject[99] }}{{ 1 / 0 }}") == []
    assert render("{{ subject[99] }}", CONTEXT).error
