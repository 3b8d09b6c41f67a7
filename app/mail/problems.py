"""What the parser could not read: the capped list of problems kept with each message."""

from __future__ import annotations

from app.mail.storable import storable_text

MAX_PROBLEMS = 50
_SHOWN_VALUE_CHARS = 80


class Problems:
    """An ordered set of problem descriptions, capped so a torture message stays small."""

    def __init__(self) -> None:
        self._items: list[str] = []
        self._seen: set[str] = set()
        self._dropped = 0

    def add(self, problem: str) -> None:
        problem = storable_text(problem)
        if problem in self._seen:
            return
        if len(self._items) >= MAX_PROBLEMS:
            self._dropped += 1
            return
        self._seen.add(problem)
        self._items.append(problem)

    def as_tuple(self) -> tuple[str, ...]:
        if self._dropped:
            return (*self._items, f"{self._dropped} more problems not listed")
        return tuple(self._items)


def shown_value(value: str) -> str:
    """A header value quoted in a problem: repr, cut short."""
    value = " ".join(value.split())
    if len(value) > _SHOWN_VALUE_CHARS:
        value = value[:_SHOWN_VALUE_CHARS] + "…"
    return repr(value)
