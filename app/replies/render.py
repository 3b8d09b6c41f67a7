"""Reply templates: Jinja2 in a sandbox, rendered to plain text for a person to edit and approve.

A template is written by the seller's team and rendered with one thread's ``ReplyContext``. The
language is deliberately small (``app.replies.language``: ``{{ variable }}``, a handful of text
filters, ``{% if %}``, ``{% filter %}`` blocks and comments), and it runs in a sandbox without
globals, attribute access, calls or a loader (``app.replies.sandbox``), so a template cannot read
files or reach Python objects, and nothing in it can loop or recurse.

What one render may build is capped as well, so a short template cannot take the process down:
the size of every value, everything built in one render, numbers, the reply, and the CPU time
(``app.replies.caps``). A breach fails the render with ``RenderLimitError`` (``Rendered.error``
names the cap and the line), and ``template_problems`` renders a template against sample contexts
when it is saved, so a template that breaks a cap whatever the thread is refused then.

A context value that is ``None`` is left undefined, so ``{% if customer_name %}`` and
``customer_name|default("there")`` work; used bare it renders as the visible placeholder
``[[customer_name]]``, and ``Rendered.undefined`` names it, so the person (and the lint) see what
is missing instead of "Hello None,".
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, fields, replace
from typing import Any

from jinja2 import Template, TemplateSyntaxError

from app.replies.caps import MAX_OUTPUT_CHARS, RenderLimitError, render_allowance, tick
from app.replies.language import Problem, parse, variables_read
from app.replies.sandbox import ENVIRONMENT, recording_placeholders


@dataclass(frozen=True)
class ReplyContext:
    customer_name: str | None  # when known (e.g. "Alice" from the relay's display name)
    order_number: str | None
    subject: str
    last_customer_message: str  # plain text, quoted history already trimmed
    signature: str  # from ReplySettings.signature
    # From the order read from Walmart's API (app.walmart.variables): None when unknown, and
    # the tracking values never hold the MCF placeholder.
    order_status: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    ship_date: str | None = None
    estimated_delivery: str | None = None
    return_status: str | None = None


@dataclass(frozen=True)
class Rendered:
    text: str
    # Names the template used that the context does not define, or that were None and used bare.
    undefined: tuple[str, ...]
    # A syntax or sandbox error, readable ("line 3: unexpected '}'"); text is "" then.
    error: str | None


CONTEXT_VARIABLES: tuple[str, ...] = tuple(f.name for f in fields(ReplyContext))


_TOO_DEEP = "line 1: the template is nested too deeply"


def template_problems(template_body: str) -> list[str]:
    """Why a template cannot be saved: a syntax error, constructs outside the reply-template
    language, variables a ``ReplyContext`` does not have, or a cap or the time limit broken when
    it is rendered with the sample contexts. Empty when it is fine."""
    try:
        return _template_problems(template_body)
    except (RecursionError, SyntaxError):  # Jinja's parser, or Python compiling its output
        return [_TOO_DEEP]


def _template_problems(template_body: str) -> list[str]:
    tree, problems = parse(template_body)
    if tree is None:
        return [str(p) for p in problems]
    available = ", ".join(CONTEXT_VARIABLES)
    reported: set[str] = set()
    for name in variables_read(tree):
        if name.name not in CONTEXT_VARIABLES and name.name not in reported:
            reported.add(name.name)
            message = f"unknown variable '{name.name}' (available: {available})"
            problems.append(Problem(name.lineno, message))
    if problems:
        problems.sort(key=lambda p: p.lineno)
        return [str(p) for p in problems]
    try:
        template = ENVIRONMENT.from_string(tree)
    except TemplateSyntaxError as e:
        return [str(Problem(e.lineno, e.message or "invalid template"))]
    return _limit_problems(template)


# Threads as they come, to render a template with when it is saved: one with every value, one
# without the optional ones (so both sides of "{% if customer_name %}" run).
_SAMPLE_CONTEXT = ReplyContext(
    customer_name="Alice Example",
    order_number="1234567-12345678",
    subject="Where is my order?",
    last_customer_message=(
        "Hello, I ordered a set of kitchen towels two weeks ago and the tracking has not changed "
        "since it left the warehouse. The estimated delivery date was last Friday. Could you "
        "please tell me where the package is and when I can expect it? If it is lost, I would "
        "like a replacement or a refund. Thank you."
    ),
    signature="Acme Store Customer Care",
    order_status="Shipped",
    carrier="UPS",
    tracking_number="1Z999AA10123456784",
    tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
    ship_date="December 1, 2026",
    estimated_delivery="December 5, 2026",
    return_status="Initiated",
)
_SAMPLE_CONTEXTS = (
    _SAMPLE_CONTEXT,
    replace(
        _SAMPLE_CONTEXT,
        customer_name=None,
        order_number=None,
        order_status=None,
        carrier=None,
        tracking_number=None,
        tracking_url=None,
        ship_date=None,
        estimated_delivery=None,
        return_status=None,
    ),
)


def _limit_problems(template: Template) -> list[str]:
    """The first cap or time limit the template breaks with a sample context. Other run-time
    errors (``subject[99]``) depend on the thread and are reported when a draft is made."""
    for context in _SAMPLE_CONTEXTS:
        try:
            _generate(template, _values(context))
        except RenderLimitError as e:
            return [_runtime_message(e)]
        except Exception:  # noqa: BLE001, S112  the thread decides; see the docstring
            continue
    return []


def render(template_body: str, context: ReplyContext) -> Rendered:
    """The template filled in with ``context``. Never raises: a problem becomes ``error``."""
    try:
        return _render(template_body, context)
    except (RecursionError, SyntaxError):  # Jinja's parser, or Python compiling its output
        return _failed(_TOO_DEEP)
    except Exception as e:  # a filter's or an operator's error at run time: a readable message
        return _failed(_runtime_message(e))


def _values(context: ReplyContext) -> dict[str, Any]:
    values = {f.name: getattr(context, f.name) for f in fields(ReplyContext)}
    return {name: value for name, value in values.items() if value is not None}


def _render(template_body: str, context: ReplyContext) -> Rendered:
    tree, problems = parse(template_body)
    if tree is None or problems:
        return _failed("; ".join(str(p) for p in problems))

    with recording_placeholders() as recorded:
        try:
            text = _generate(ENVIRONMENT.from_string(tree), _values(context))
        except TemplateSyntaxError as e:
            return _failed(str(Problem(e.lineno, e.message or "invalid template")))

    undefined = [
        node.name
        for node in variables_read(tree)
        if node.name not in CONTEXT_VARIABLES or node.name in recorded
    ]
    return Rendered(text=text, undefined=tuple(dict.fromkeys(undefined)), error=None)


def _generate(template: Template, values: dict[str, Any]) -> str:
    """The template's text, consumed piece by piece within the caps and the time limit."""
    with render_allowance():
        parts: list[str] = []
        length = 0
        for part in template.generate(values):
            tick()
            length += len(part)
            if length > MAX_OUTPUT_CHARS:
                raise RenderLimitError(
                    f"the reply would be longer than {MAX_OUTPUT_CHARS:,} characters"
                )
            parts.append(part)
        return "".join(parts)


def _failed(error: str) -> Rendered:
    return Rendered(text="", undefined=(), error=error)


def _runtime_message(error: BaseException) -> str:
    """``line N: message``, N from the template's frame in the traceback (Jinja rewrites it)."""
    message = str(error) or type(error).__name__
    lines = [
        frame.lineno
        for frame in traceback.extract_tb(error.__traceback__)
        if frame.filename == "<template>"
    ]
    return f"line {lines[-1]}: {message}" if lines else message
