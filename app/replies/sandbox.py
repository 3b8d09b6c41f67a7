"""The Jinja environment reply templates render in: sandboxed, with every value it builds capped.

``ENVIRONMENT`` has no globals (``range``, ``lipsum``, ``cycler`` ...), no loader, no attribute
access and no function calls, so a template cannot read files or reach Python objects. Its hooks
(operators, item access, ``~``, each ``{{ ... }}``) and its filters count what they build against
the caps in ``app.replies.caps`` and check the time limit.

Jinja's compile-time constant folding is off (``optimized=False`` and a finalize that needs the
context), so every expression is evaluated at render time, through these checks.

A context value that is ``None`` is left undefined; used bare it renders as the visible
placeholder ``[[name]]``, and ``recording_placeholders()`` collects the names so the person (and
the lint) see what is missing instead of "Hello None,".
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from jinja2 import Undefined, nodes, pass_context
from jinja2.compiler import CodeGenerator, Frame
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.exceptions import FilterArgumentError, SecurityError
from jinja2.filters import do_indent
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from app.replies.caps import (
    MAX_VALUE_CHARS,
    as_text,
    capped,
    check_binop,
    percent_format,
    spend,
    tick,
    too_long,
)

# Names rendered as placeholders during the current render (one list per render and thread).
_rendered_missing: ContextVar[list[str] | None] = ContextVar("_rendered_missing", default=None)


@contextmanager
def recording_placeholders() -> Iterator[list[str]]:
    """The names rendered as ``[[name]]`` placeholders while the block runs, in order."""
    recorded: list[str] = []
    token = _rendered_missing.set(recorded)
    try:
        yield recorded
    finally:
        _rendered_missing.reset(token)


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


# The capped filters: Jinja's, with the result's length worked out before it is built.


def _replace(value: Any, old: Any, new: Any, count: int | None = None) -> str:
    """Jinja's ``replace`` filter, refusing a result longer than the value cap."""
    text, old, new = as_text(value), as_text(old), as_text(new)
    occurrences = text.count(old) if count is None else min(text.count(old), max(count, 0))
    if len(text) + occurrences * (len(new) - len(old)) > MAX_VALUE_CHARS:
        raise too_long()
    return text.replace(old, new, -1 if count is None else count)


def _center(value: Any, width: int = 80) -> str:
    text = as_text(value)
    if isinstance(width, int) and width > MAX_VALUE_CHARS:
        raise too_long()
    return text.center(width)


def _indent(value: Any, width: int | str = 4, first: bool = False, blank: bool = False) -> str:
    text = as_text(value)
    step = len(width) if isinstance(width, str) else max(width, 0) if isinstance(width, int) else 0
    if step > MAX_VALUE_CHARS or len(text) + (text.count("\n") + 2) * step > MAX_VALUE_CHARS:
        raise too_long()
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
    separator = "\n" if wrapstring is None else as_text(wrapstring)
    paragraphs: list[list[str]] = []
    total = -len(separator)
    for paragraph in as_text(value).splitlines():
        tick()
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
            raise too_long()
        paragraphs.append(lines)
    return separator.join(separator.join(lines) for lines in paragraphs)


def _join(value: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    if attribute is not None:
        raise SecurityError("join(attribute=...) is not available in reply templates")
    separator = as_text(d)
    texts: list[str] = []
    total = -len(separator)
    for item in value:
        text = as_text(item)
        total += len(separator) + len(text)
        if total > MAX_VALUE_CHARS:
            raise too_long()
        texts.append(text)
    return separator.join(texts)


def _format(value: Any, *args: Any, **kwargs: Any) -> str:
    if args and kwargs:
        raise FilterArgumentError("can't handle positional and keyword arguments at the same time")
    return percent_format(as_text(value), kwargs or args)


def _is_none(value: Any) -> bool:
    return value is None or isinstance(value, Undefined)


def _guarded(function: Callable[..., Any]) -> Callable[..., Any]:
    """A filter that checks the time limit first and counts its result against the caps.
    ``functools.wraps`` keeps Jinja's ``pass_environment`` marks."""

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        tick()
        return capped(function(*args, **kwargs))

    return guarded


# Text filters only: no attribute lookups (attr, map, groupby ...), nothing random; the ones that
# can multiply a text (replace, center, indent, wordwrap, join, format) are capped versions.
FILTERS: dict[str, Callable[..., Any]] = {
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
        "string": as_text,
        "wordwrap": _wordwrap,
    }.items()
}


@pass_context
def _finalize(context: Context, value: Any) -> str:
    """Each ``{{ ... }}`` as text, counted against the caps. Needing the context keeps Jinja from
    evaluating constant expressions at compile time, out of reach of the time limit."""
    text = as_text(value)
    spend(len(text))
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
        tick()
        try:
            value = obj[argument]
        except (TypeError, LookupError):
            return self.undefined(obj=obj, name=argument)
        return capped(value) if isinstance(argument, slice) else value

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        tick()
        if operator == "%" and isinstance(left, str):
            return percent_format(left, right)
        check_binop(operator, left, right)
        return capped(super().call_binop(context, operator, left, right))

    def capped_concat(self, values: tuple[Any, ...]) -> str:
        """``a ~ b ~ c``, its length counted before it is built."""
        tick()
        texts = [as_text(value) for value in values]
        if sum(map(len, texts)) > MAX_VALUE_CHARS:
            raise too_long()
        return capped("".join(texts))


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
    env.filters = FILTERS
    env.tests["none"] = _is_none
    return env


ENVIRONMENT = _make_environment()
