"""Reply templates: Jinja2 in a sandbox, rendered to plain text for a person to edit and approve.

A template is written by the seller's team and rendered with one thread's ``ReplyContext``. The
language is deliberately small: ``{{ variable }}``, a handful of text filters, ``{% if %}``,
``{% filter %}`` blocks and comments. There are no globals (``range``, ``lipsum``, ``cycler`` ...),
no attribute access, no function calls, no loops, macros or ``{% set %}``, and no loader, so a
template cannot read files or reach Python objects, and every expression is evaluated at most once
per appearance in the text: nothing in the language can loop or recurse.

What one render may build is capped as well, so a short template cannot take the process down
(``[[subject] * 1000] * 1000`` is a thousand items, but its text is 20 million characters):

- every value an operator, a filter, a slice or ``~`` produces is at most ``MAX_VALUE_CHARS``
  characters, a list's items counted through (see ``_size``). Repetition, ``+``, ``~``, ``%``,
  ``replace``, ``center``, ``indent``, ``wordwrap``, ``join`` and ``format`` work the size out
  before they build anything; other filters are checked on their result;
- everything built in one render adds up to at most ``MAX_RENDER_CHARS``, which bounds memory even
  when many capped values are alive at once (``[a, a, a ...]`` of literal repetitions);
- numbers are at most ``_MAX_NUMBER_BITS`` bits, and the reply at most ``MAX_OUTPUT_CHARS``;
- a render gets ``RENDER_CPU_SECONDS`` of CPU time, checked in every operator, filter, slice and
  ``~`` and between pieces of output.

Jinja's compile-time constant folding is off (``optimized=False`` and a finalize that needs the
context), so every expression is evaluated at render time, through these checks. A breach fails
the render with ``RenderLimitError`` (``Rendered.error`` names the cap and the line), and
``template_problems`` renders a template against sample contexts when it is saved, so a template
that breaks a cap whatever the thread is refused then.

A context value that is ``None`` is left undefined, so ``{% if customer_name %}`` and
``customer_name|default("there")`` work; used bare it renders as the visible placeholder
``[[customer_name]]``, and ``Rendered.undefined`` names it, so the person (and the lint) see what
is missing instead of "Hello None,".
"""

from __future__ import annotations

import functools
import re
import textwrap
import time
import traceback
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, fields, replace
from typing import Any

from jinja2 import Template, TemplateSyntaxError, Undefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.exceptions import FilterArgumentError, SecurityError
from jinja2.filters import do_indent
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

MAX_OUTPUT_CHARS = 100_000  # the reply
MAX_VALUE_CHARS = 100_000  # any one value built while rendering
MAX_RENDER_CHARS = 1_000_000  # all values built in one render, added up
RENDER_CPU_SECONDS = 1.0
_MAX_NUMBER_BITS = 4096

# The clock of the time limit: CPU time of the rendering thread, so a busy machine does not fail a
# render that a quiet one passes. A module attribute so that tests can stand in for it.
_cpu_time: Callable[[], float] = time.thread_time


@dataclass(frozen=True)
class ReplyContext:
    customer_name: str | None  # when known (e.g. "Alice" from the relay's display name)
    order_number: str | None
    subject: str
    last_customer_message: str  # plain text, quoted history already trimmed
    signature: str  # from ReplySettings.signature


@dataclass(frozen=True)
class Rendered:
    text: str
    # Names the template used that the context does not define, or that were None and used bare.
    undefined: tuple[str, ...]
    # A syntax or sandbox error, readable ("line 3: unexpected '}'"); text is "" then.
    error: str | None


CONTEXT_VARIABLES: tuple[str, ...] = tuple(f.name for f in fields(ReplyContext))


# Names rendered as placeholders during the current render (one list per render and thread).
_rendered_missing: ContextVar[list[str] | None] = ContextVar("_rendered_missing", default=None)


class _Placeholder(Undefined):
    """A missing variable: renders as ``[[name]]`` and records the name. A missing item
    (``subject[99]``) or a sandbox refusal fails the render instead of printing nothing."""

    __slots__ = ()

    def __str__(self) -> str:
        if self._undefined_obj is not missing or issubclass(
            self._undefined_exception, SecurityError
        ):
            self._fail_with_undefined_error()
        name = str(self._undefined_name)
        recorded = _rendered_missing.get()
        if recorded is not None and name not in recorded:
            recorded.append(name)
        return f"[[{name}]]"


class RenderLimitError(SecurityError):
    """A render broke a cap or ran out of time; the message names which."""


def _too_long() -> RenderLimitError:
    return RenderLimitError(
        f"the template builds a value longer than {MAX_VALUE_CHARS:,} characters "
        "(the cap on any one value)"
    )


@dataclass
class _Allowance:
    """What the render in progress may still spend."""

    deadline: float  # on the _cpu_time clock
    chars: int


_allowance: ContextVar[_Allowance | None] = ContextVar("_allowance", default=None)


def _start_allowance() -> _Allowance:
    return _Allowance(deadline=_cpu_time() + RENDER_CPU_SECONDS, chars=MAX_RENDER_CHARS)


def _tick() -> None:
    """Fail the render once it has used up its time."""
    allowance = _allowance.get()
    if allowance is not None and _cpu_time() > allowance.deadline:
        raise RenderLimitError(
            f"the template took longer than {RENDER_CPU_SECONDS:g} s of CPU time to render "
            "(the time limit)"
        )


def _spend(chars: int) -> None:
    _tick()
    allowance = _allowance.get()
    if allowance is not None:
        allowance.chars -= chars
        if allowance.chars < 0:
            raise RenderLimitError(
                f"the template builds more than {MAX_RENDER_CHARS:,} characters in all "
                "(the cap on one render)"
            )


def _size(value: Any, limit: int = MAX_VALUE_CHARS) -> int:
    """About how many characters ``value`` takes as text: a string's length; a list's, tuple's or
    dict's items counted through, plus 2 for each separator and the brackets. Stops counting soon
    after ``limit``, so measuring costs at most ``limit`` steps however much a list repeats."""
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, list | tuple | set | frozenset):
            total += 2 + 2 * len(item)
            if total <= limit:
                stack.extend(item)
        elif isinstance(item, dict):
            total += 2 + 4 * len(item)
            if total <= limit:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 2  # at least the decimal digits and a sign
        else:  # a float, a placeholder
            total += 24
        if total > limit:
            break
    return total


def _capped(value: Any) -> Any:
    """``value``, after counting it against the caps."""
    size = _size(value)
    if size > MAX_VALUE_CHARS:
        raise _too_long()
    _spend(size)
    return value


def _text(value: Any) -> str:
    """``str(value)``, refusing a text longer than the value cap (``|string`` of a big list)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return str(value)  # the [[name]] placeholder, or the undefined error
    if _size(value) > MAX_VALUE_CHARS:
        raise _too_long()
    text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        raise _too_long()
    return text


def _check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would break a cap, before it is built."""
    sequences = str | list | tuple
    both_ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, sequences) and isinstance(times, int):
                bits = 0
                size = _size(seq) * times
                break
        else:
            bits = left.bit_length() + right.bit_length() if both_ints else 0
            size = 0
    elif operator == "+" and isinstance(left, sequences) and isinstance(right, sequences):
        bits, size = 0, _size(left) + _size(right)
    elif operator == "**" and both_ints:
        bits, size = left.bit_length() * right, 0
    else:
        bits, size = 0, 0
    if size > MAX_VALUE_CHARS:
        raise _too_long()
    if bits > _MAX_NUMBER_BITS:
        raise _number_too_large()


def _number_too_large() -> RenderLimitError:
    return RenderLimitError(f"the template builds a number larger than {_MAX_NUMBER_BITS} bits")


# One %-conversion: %(key)s, flags, width, precision, length modifier, conversion.
_PERCENT_SPEC = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?"
    r"(?P<conversion>.?)",
    re.DOTALL,
)


def _percent_format(template: str, values: Any) -> str:
    """``template % values`` (the ``%`` operator and the ``format`` filter), its length worked
    out from the conversions' widths, precisions and values before anything is built."""
    mapping = values if isinstance(values, dict) else None
    positional = values if isinstance(values, tuple) else (values,)
    total = len(template)
    index = 0
    for spec in _PERCENT_SPEC.finditer(template):
        if "*" in (spec["width"], spec["precision"]):
            raise SecurityError("'*' widths are not available in reply templates")
        if spec["conversion"] == "%":
            continue
        if spec["key"] is not None:
            if "(" in spec["key"]:
                raise SecurityError("'%(...)' keys with parentheses are not available")
            value = mapping.get(spec["key"]) if mapping is not None else None
        else:
            value = positional[index] if index < len(positional) else None
            index += 1
        width, precision = int(spec["width"] or 0), int(spec["precision"] or 0)
        if width > MAX_VALUE_CHARS or precision > MAX_VALUE_CHARS:
            raise _too_long()
        if spec["conversion"] in ("r", "a"):
            shown = 10 * _size(value) + 2  # repr escapes a character in at most 10
        elif spec["conversion"] in ("e", "E", "f", "F", "g", "G"):
            shown = 320  # the digits of the largest float
        else:
            shown = _size(value)
        total += max(width, precision + shown)
        if total > MAX_VALUE_CHARS:
            raise _too_long()
    return _capped(template % values)


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    """Jinja's ``replace`` filter, refusing a result longer than the value cap."""
    text, old, new = _text(value), _text(old), _text(new)
    occurrences = text.count(old) if count is None else min(text.count(old), max(count, 0))
    if len(text) + occurrences * (len(new) - len(old)) > MAX_VALUE_CHARS:
        raise _too_long()
    return text.replace(old, new, -1 if count is None else count)


def _center(value: Any, width: int = 80) -> str:
    text = _text(value)
    if isinstance(width, int) and width > MAX_VALUE_CHARS:
        raise _too_long()
    return text.center(width)


def _indent(value: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = _text(value)
    step = len(width) if isinstance(width, str) else max(width, 0) if isinstance(width, int) else 0
    if step > MAX_VALUE_CHARS or len(text) + (text.count("\n") + 2) * step > MAX_VALUE_CHARS:
        raise _too_long()
    return do_indent(text, width, first, blank)


def _wordwrap(
    value: Any,
    width: int = 79,
    break_long_words: bool = True,
    wrapstring: str | None = None,
    break_on_hyphens: bool = True,
) -> str:
    """Jinja's ``wordwrap``: each paragraph wrapped on its own, the length counted before the
    lines are joined."""
    separator = "\n" if wrapstring is None else _text(wrapstring)
    paragraphs: list[list[str]] = []
    total = -len(separator)
    for paragraph in _text(value).splitlines():
        _tick()
        lines = textwrap.wrap(
            paragraph,
            width=width,
            expand_tabs=False,
            replace_whitespace=False,
            break_long_words=break_long_words,
            break_on_hyphens=break_on_hyphens,
        )
        total += sum(map(len, lines)) + len(separator) * max(len(lines) - 1, 0) + len(separator)
        if total > MAX_VALUE_CHARS:
            raise _too_long()
        paragraphs.append(lines)
    return separator.join(separator.join(lines) for lines in paragraphs)


def _join(value: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    if attribute is not None:
        raise SecurityError("join(attribute=...) is not available in reply templates")
    separator = _text(d)
    texts: list[str] = []
    total = -len(separator)
    for item in value:
        text = _text(item)
        total += len(separator) + len(text)
        if total > MAX_VALUE_CHARS:
            raise _too_long()
        texts.append(text)
    return separator.join(texts)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    if args and kwargs:
        raise FilterArgumentError("can't handle positional and keyword arguments at the same time")
    return _percent_format(_text(value), kwargs or args)


def _is_none(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that checks the time limit first and counts its result against the caps.
    ``functools.wraps`` keeps Jinja's ``pass_environment`` marks."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        _tick()
        return _capped(function(*args, **kwargs))

    return guarded


# Text filters only: no attribute lookups (attr, map, groupby ...), nothing random; the ones that
# can multiply a text (replace, center, indent, wordwrap, join, format) are capped versions.
_FILTERS: dict[str, Callable[..., Any]] = {
    name: _guarded(function)
    for name, function in {
        **{
            name: DEFAULT_FILTERS[name]
            for name in (
                "capitalize",
                "count",
                "d",
                "default",
                "first",
                "last",
                "length",
                "lower",
                "title",
                "trim",
                "truncate",
                "upper",
                "wordcount",
            )
        },
        "center": _center,
        "format": _format,
        "indent": _indent,
        "join": _join,
        "replace": _replace,
        "string": _text,
        "wordwrap": _wordwrap,
    }.items()
}


@pass_context
def _finalize(context: Context, value: Any) -> str:
    """Each ``{{ ... }}`` as text, counted against the caps. Needing the context keeps Jinja from
    evaluating constant expressions at compile time, out of reach of the time limit."""
    text = _text(value)
    _spend(len(text))
    return text


class _CodeGenerator(CodeGenerator):
    """Jinja's, with ``~`` going through ``_ReplyEnvironment.capped_concat``."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.capped_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _ReplyEnvironment(ImmutableSandboxedEnvironment):
    code_generator_class = _CodeGenerator
    intercepted_binops = frozenset({"+", "-", "*", "/", "//", "%", "**"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False

    def is_safe_callable(self, obj: Any) -> bool:
        return False

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self.unsafe_undefined(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        # Indexing and slicing only; never the sandbox's fallback to attributes ("x['format']").
        _tick()
        try:
            value = obj[argument]
        except (TypeError, LookupError):
            return self.undefined(obj=obj, name=argument)
        return _capped(value) if isinstance(argument, slice) else value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        _tick()
        if operator == "%" and isinstance(left, str):
            return _percent_format(left, right)
        _check_binop(operator, left, right)
        return _capped(super().call_binop(context, operator, left, right))

    def capped_concat(self, values: tuple[Any, ...]) -> str:
        """``a ~ b ~ c``, its length counted before it is built."""
        _tick()
        texts = [_text(value) for value in values]
        if sum(map(len, texts)) > MAX_VALUE_CHARS:
            raise _too_long()
        return _capped("".join(texts))


def _make_environment() -> _ReplyEnvironment:
    env = _ReplyEnvironment(
        loader=None,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=_Placeholder,
        finalize=_finalize,
        optimized=False,
    )
    env.globals.clear()
    env.filters = _FILTERS
    env.tests["none"] = _is_none
    return env


_ENV = _make_environment()

# The template language, as an allowlist of syntax nodes; anything else is refused by name.
_ALLOWED_NODES: tuple[type[nodes.Node], ...] = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.If,
    nodes.FilterBlock,
    nodes.Name,
    nodes.Const,
    nodes.Filter,
    nodes.Test,
    nodes.Keyword,
    nodes.CondExpr,
    nodes.And,
    nodes.Or,
    nodes.Not,
    nodes.Neg,
    nodes.Pos,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
    nodes.Add,
    nodes.Sub,
    nodes.Mul,
    nodes.Div,
    nodes.FloorDiv,
    nodes.Mod,
    nodes.Pow,
    nodes.Getitem,
    nodes.Slice,
    nodes.Tuple,
    nodes.List,
)
_REFUSED_NODES: dict[type[nodes.Node], str] = {
    nodes.For: "loops ({% for %})",
    nodes.Macro: "macros ({% macro %})",
    nodes.CallBlock: "{% call %}",
    nodes.Assign: "{% set %}",
    nodes.AssignBlock: "{% set %}",
    nodes.With: "{% with %}",
    nodes.Block: "{% block %}",
    nodes.Extends: "{% extends %}: a template cannot read other templates",
    nodes.Include: "{% include %}: a template cannot read other templates or files",
    nodes.Import: "{% import %}: a template cannot read other templates or files",
    nodes.FromImport: "{% from ... import %}: a template cannot read other templates or files",
    nodes.Getattr: "attribute access ('.name'); use a filter such as |upper",
    nodes.Call: "function or method calls",
}


@dataclass(frozen=True)
class _Problem:
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"line {self.lineno}: {self.message}"


_FILTER_HINT = f" (available: {', '.join(sorted(_FILTERS))})"


def _language_problems(tree: nodes.Template) -> list[_Problem]:
    """Constructs outside the reply-template language, in order of appearance."""
    problems: list[_Problem] = []
    for node in _walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            what = _REFUSED_NODES.get(type(node), f"'{type(node).__name__}'")
            problem = _Problem(node.lineno, f"reply templates do not support {what}")
        elif isinstance(node, nodes.Name) and node.name == "self":
            problem = _Problem(node.lineno, "reply templates do not support 'self'")
        elif isinstance(node, nodes.Filter) and node.name not in _ENV.filters:
            problem = _Problem(node.lineno, f"unknown filter '{node.name}'{_FILTER_HINT}")
        elif isinstance(node, nodes.Test) and node.name not in _ENV.tests:
            problem = _Problem(node.lineno, f"unknown test '{node.name}'")
        else:
            continue
        if problem not in problems:
            problems.append(problem)
    return problems


def _walk(tree: nodes.Node) -> Iterator[nodes.Node]:
    """Every node, depth first in source order."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(list(node.iter_child_nodes())))


def _names(tree: nodes.Template) -> list[nodes.Name]:
    """Variables the template reads, in order of appearance (``self`` is refused apart)."""
    return [
        node
        for node in _walk(tree)
        if isinstance(node, nodes.Name) and node.ctx == "load" and node.name != "self"
    ]


def _parse(template_body: str) -> tuple[nodes.Template | None, list[_Problem]]:
    try:
        tree = _ENV.parse(template_body)
    except TemplateSyntaxError as e:
        return None, [_Problem(e.lineno, e.message or "syntax error")]
    return tree, _language_problems(tree)


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
    tree, problems = _parse(template_body)
    if tree is None:
        return [str(p) for p in problems]
    available = ", ".join(CONTEXT_VARIABLES)
    reported: set[str] = set()
    for name in _names(tree):
        if name.name not in CONTEXT_VARIABLES and name.name not in reported:
            reported.add(name.name)
            message = f"unknown variable '{name.name}' (available: {available})"
            problems.append(_Problem(name.lineno, message))
    if problems:
        problems.sort(key=lambda p: p.lineno)
        return [str(p) for p in problems]
    try:
        template = _ENV.from_string(tree)
    except TemplateSyntaxError as e:
        return [str(_Problem(e.lineno, e.message or "invalid template"))]
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
)
_SAMPLE_CONTEXTS = (
    _SAMPLE_CONTEXT,
    replace(_SAMPLE_CONTEXT, customer_name=None, order_number=None),
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
    tree, problems = _parse(template_body)
    if tree is None or problems:
        return _failed("; ".join(str(p) for p in problems))

    recorded: list[str] = []
    token = _rendered_missing.set(recorded)
    try:
        text = _generate(_ENV.from_string(tree), _values(context))
    except TemplateSyntaxError as e:
        return _failed(str(_Problem(e.lineno, e.message or "invalid template")))
    finally:
        _rendered_missing.reset(token)

    undefined = [
        node.name
        for node in _names(tree)
        if node.name not in CONTEXT_VARIABLES or node.name in recorded
    ]
    return Rendered(text=text, undefined=tuple(dict.fromkeys(undefined)), error=None)


def _generate(template: Template, values: dict[str, Any]) -> str:
    """The template's text, consumed piece by piece within the caps and the time limit."""
    token = _allowance.set(_start_allowance())
    try:
        parts: list[str] = []
        length = 0
        for part in template.generate(values):
            _tick()
            length += len(part)
            if length > MAX_OUTPUT_CHARS:
                raise RenderLimitError(
                    f"the reply would be longer than {MAX_OUTPUT_CHARS:,} characters"
                )
            parts.append(part)
        return "".join(parts)
    finally:
        _allowance.reset(token)


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
