"""Reply templates: Jinja2 in a sandbox, rendered to plain text for a person to edit and approve.

A template is written by the seller's team and rendered with one thread's ``ReplyContext``. The
language is deliberately small: ``{{ variable }}``, a handful of text filters, ``{% if %}``,
``{% filter %}`` blocks and comments. There are no globals (``range``, ``lipsum``, ``cycler`` ...),
no attribute access, no function calls, no loops, macros or ``{% set %}``, and no loader, so a
template cannot read files, reach Python objects, or spend unbounded time or memory: every
expression is evaluated at most once per appearance in the text and string repetition and powers
are capped. ``template_problems`` reports the same limits when a template is saved.

A context value that is ``None`` is left undefined, so ``{% if customer_name %}`` and
``customer_name|default("there")`` work; used bare it renders as the visible placeholder
``[[customer_name]]``, and ``Rendered.undefined`` names it, so the person (and the lint) see what
is missing instead of "Hello None,".
"""

from __future__ import annotations

import traceback
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, fields
from typing import Any

from jinja2 import TemplateSyntaxError, Undefined, nodes
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

MAX_OUTPUT_CHARS = 100_000
_MAX_POWER_BITS = 4096


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


def _replace(value: Any, old: str, new: str, count: int | None = None) -> str:
    """Jinja's ``replace`` filter, refusing a result longer than a reply may be."""
    text, old, new = str(value), str(old), str(new)
    occurrences = text.count(old) if count is None else min(text.count(old), max(count, 0))
    if len(text) + occurrences * (len(new) - len(old)) > MAX_OUTPUT_CHARS:
        raise SecurityError(f"replace would produce more than {MAX_OUTPUT_CHARS} characters")
    return text.replace(old, new, -1 if count is None else count)


def _is_none(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


# Text filters only: no attribute lookups (attr, map, groupby ...), no width or format
# arguments that multiply a string (center, indent, format), nothing random.
_FILTERS: dict[str, Callable[..., Any]] = {
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
            "string",
            "title",
            "trim",
            "truncate",
            "upper",
            "wordcount",
        )
    },
    "replace": _replace,
}


def _sequence_repeat_too_long(left: Any, right: Any) -> bool:
    for seq, times in ((left, right), (right, left)):
        if isinstance(seq, str | list | tuple) and isinstance(times, int):
            return len(seq) * times > MAX_OUTPUT_CHARS
    return False


class _ReplyEnvironment(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        return False

    def getattr(self, obj: Any, attribute: str) -> Any:
        return self.unsafe_undefined(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        # Indexing and slicing only; never the sandbox's fallback to attributes ("x['format']").
        try:
            return obj[argument]
        except (TypeError, LookupError):
            return self.undefined(obj=obj, name=argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and _sequence_repeat_too_long(left, right):
            raise SecurityError(f"repetition would produce more than {MAX_OUTPUT_CHARS} items")
        if operator == "%" and isinstance(left, str):
            raise SecurityError("'%' string formatting is not available in reply templates")
        if (
            operator == "**"
            and isinstance(left, int)
            and isinstance(right, int)
            and left.bit_length() * right > _MAX_POWER_BITS
        ):
            raise SecurityError("the power is too large")
        return super().call_binop(context, operator, left, right)


def _make_environment() -> _ReplyEnvironment:
    env = _ReplyEnvironment(
        loader=None,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=_Placeholder,
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
    language, and variables a ``ReplyContext`` does not have. Empty when it is fine."""
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
    if not problems:
        try:
            _ENV.from_string(tree)
        except TemplateSyntaxError as e:
            problems.append(_Problem(e.lineno, e.message or "invalid template"))
    problems.sort(key=lambda p: p.lineno)
    return [str(p) for p in problems]


def render(template_body: str, context: ReplyContext) -> Rendered:
    """The template filled in with ``context``. Never raises: a problem becomes ``error``."""
    try:
        return _render(template_body, context)
    except (RecursionError, SyntaxError):  # Jinja's parser, or Python compiling its output
        return _failed(_TOO_DEEP)
    except Exception as e:  # a filter's or an operator's error at run time: a readable message
        return _failed(_runtime_message(e))


def _render(template_body: str, context: ReplyContext) -> Rendered:
    tree, problems = _parse(template_body)
    if tree is None or problems:
        return _failed("; ".join(str(p) for p in problems))
    values = {f.name: getattr(context, f.name) for f in fields(ReplyContext)}
    values = {name: value for name, value in values.items() if value is not None}

    recorded: list[str] = []
    token = _rendered_missing.set(recorded)
    try:
        template = _ENV.from_string(tree)
        parts: list[str] = []
        length = 0
        for part in template.generate(values):
            length += len(part)
            if length > MAX_OUTPUT_CHARS:
                return _failed(f"the reply would be longer than {MAX_OUTPUT_CHARS} characters")
            parts.append(part)
    except TemplateSyntaxError as e:
        return _failed(str(_Problem(e.lineno, e.message or "invalid template")))
    finally:
        _rendered_missing.reset(token)

    undefined = [
        node.name
        for node in _names(tree)
        if node.name not in CONTEXT_VARIABLES or node.name in recorded
    ]
    return Rendered(text="".join(parts), undefined=tuple(dict.fromkeys(undefined)), error=None)


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
