"""The single source of the current time: aware UTC, replaceable in tests."""

from collections.abc import Callable
from datetime import UTC, datetime


def _system_now() -> datetime:
    return datetime.now(UTC)


_now: Callable[[], datetime] = _system_now


def now() -> datetime:
    return _now()


def set_clock(source: Callable[[], datetime] | None) -> None:
    """Use ``source`` for now() (tests freeze time with it); ``None`` restores the system clock."""
    global _now
    _now = source or _system_now


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive datetime is refused, because its zone can only be guessed."""
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


def duration_text(seconds: float) -> str:
    """'2 h 05 min' for a person: how long is left, or how late."""
    minutes = int(abs(seconds)) // 60
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} d {hours} h"
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min"
