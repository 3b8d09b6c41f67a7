"""The caps on what one reply-template render may build, and the accounting that enforces them.

A short template must not be able to take the process down (``[[subject] * 1000] * 1000`` is a
thousand items, but its text is 20 million characters), so:

- every value an operator, a filter, a slice or ``~`` produces is at most ``MAX_VALUE_CHARS``
  characters, a list's items counted through (see ``size``). Repetition, ``+``, ``~``, ``%``,
  ``replace``, ``center``, ``indent``, ``wordwrap``, ``join`` and ``format`` work the size out
  before they build anything; other filters are checked on their result;
- everything built in one render adds up to at most ``MAX_RENDER_CHARS``, which bounds memory even
  when many capped values are alive at once (``[a, a, a ...]`` of literal repetitions);
- numbers are at most ``MAX_NUMBER_BITS`` bits, and the reply at most ``MAX_OUTPUT_CHARS``;
- a render gets ``RENDER_CPU_SECONDS`` of CPU time, checked in every operator, filter, slice and
  ``~`` and between pieces of output.

The sandbox (``app.replies.sandbox``) calls these checks from its hooks and filters; a render
opens its ``render_allowance()`` for them to spend from. A breach raises ``RenderLimitError``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from jinja2 import Undefined
from jinja2.exceptions import SecurityError

MAX_OUTPUT_CHARS = 100_000  # the reply
MAX_VALUE_CHARS = 100_000  # any one value built while rendering
MAX_RENDER_CHARS = 1_000_000  # all values built in one render, added up
RENDER_CPU_SECONDS = 1.0
MAX_NUMBER_BITS = 4096

# The clock of the time limit: CPU time of the rendering thread, so a busy machine does not fail a
# render that a quiet one passes. A module attribute so that tests can stand in for it.
_cpu_time: Callable[[], float] = time.thread_time


class RenderLimitError(SecurityError):
    """A render broke a cap or ran out of time; the message names which."""


def too_long() -> RenderLimitError:
    return RenderLimitError(
        f"the template builds a value longer than {MAX_VALUE_CHARS:,} characters "
        "(the cap on any one value)"
    )


def _number_too_large() -> RenderLimitError:
    return RenderLimitError(f"the template builds a number larger than {MAX_NUMBER_BITS} bits")


@dataclass
class _Allowance:
    """What the render in progress may still spend."""

    deadline: float  # on the _cpu_time clock
    chars: int


_allowance: ContextVar[_Allowance | None] = ContextVar("_allowance", default=None)


@contextmanager
def render_allowance() -> Iterator[None]:
    """The time and the characters one render may spend, from now until the block ends; outside
    such a block the checks below count nothing."""
    token = _allowance.set(
        _Allowance(deadline=_cpu_time() + RENDER_CPU_SECONDS, chars=MAX_RENDER_CHARS)
    )
    try:
        yield
    finally:
        _allowance.reset(token)


def tick() -> None:
    """Fail the render once it has used up its time."""
    allowance = _allowance.get()
    if allowance is not None and _cpu_time() > allowance.deadline:
        raise RenderLimitError(
            f"the template took longer than {RENDER_CPU_SECONDS:g} s of CPU time to render "
            "(the time limit)"
        )


def spend(chars: int) -> None:
    """Count ``chars`` built characters against the render-wide cap (and check the time)."""
    tick()
    allowance = _allowance.get()
    if allowance is not None:
        allowance.chars -= chars
        if allowance.chars < 0:
            raise RenderLimitError(
                f"the template builds more than {MAX_RENDER_CHARS:,} characters in all "
                "(the cap on one render)"
            )


def size(value: Any, limit: int = MAX_VALUE_CHARS) -> int:
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


def capped(value: Any) -> Any:
    """``value``, after counting it against the caps."""
    value_size = size(value)
    if value_size > MAX_VALUE_CHARS:
        raise too_long()
    spend(value_size)
    return value


def as_text(value: Any) -> str:
    """``str(value)``, refusing a text longer than the value cap (``|string`` of a big list)."""
    if isinstance(value, str):
        return value
    if isinstance(value, Undefined):
        return str(value)  # the [[name]] placeholder, or the undefined error
    if size(value) > MAX_VALUE_CHARS:
        raise too_long()
    text = str(value)
    if len(text) > MAX_VALUE_CHARS:
        raise too_long()
    return text


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse an operation whose result would break a cap, before it is built."""
    sequences = str | list | tuple
    both_ints = isinstance(left, int) and isinstance(right, int)
    if operator == "*":
        for seq, times in ((left, right), (right, left)):
            if isinstance(seq, sequences) and isinstance(times, int):
                bits = 0
                result_size = size(seq) * times
                break
        else:
            bits = left.bit_length() + right.bit_length() if both_ints else 0
            result_size = 0
    elif operator == "+" and isinstance(left, sequences) and isinstance(right, sequences):
        bits, result_size = 0, size(left) + size(right)
    elif operator == "**" and both_ints:
        bits, result_size = left.bit_length() * right, 0
    else:
        bits, result_size = 0, 0
    if result_size > MAX_VALUE_CHARS:
        raise too_long()
    if bits > MAX_NUMBER_BITS:
        raise _number_too_large()


# One %-conversion: %(key)s, flags, width, precision, length modifier, conversion.
_PERCENT_SPEC = re.compile(
    r"%(?:\((?P<key>[^)]*)\))?[#0\- +]*(?P<width>\*|\d+)?(?:\.(?P<precision>\*|\d+))?[hlL]?"
    r"(?P<conversion>.?)",
    re.DOTALL,
)


def percent_format(template: str, values: Any) -> str:
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
            raise too_long()
        if spec["conversion"] in ("r", "a"):
            shown = 10 * size(value) + 2  # repr escapes a character in at most 10
        elif spec["conversion"] in ("e", "E", "f", "F", "g", "G"):
            shown = 320  # the digits of the largest float
        else:
            shown = size(value)
        total += max(width, precision + shown)
        if total > MAX_VALUE_CHARS:
            raise too_long()
    return capped(template % values)
