"""What a FETCH gave: the messages by UID, and the UIDs it did not give with what the server did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class FetchedMessage:
    uid: int
    internal_date: datetime | None
    raw: bytes
    # True when ``raw`` is only the header: the message was too big to fetch whole.
    headers_only: bool = False
    # The whole message's size as the server reported it (RFC822.SIZE); None: len(raw).
    size: int | None = None
    # What is known to be wrong before parsing (a body left on the server), stored with the
    # message beside the parser's own problems.
    problems: tuple[str, ...] = ()


@dataclass(frozen=True)
class Fetch(Generic[T]):
    """What one FETCH gave, by UID, and why it did not give the rest: a UID the server listed but
    answered without the part asked for must not pass for one that was read."""

    answered: dict[int, T]
    unanswered: dict[int, str]  # UID -> what the server did


def unanswered_in(uids: Sequence[int], response: dict[int, Any], part: bytes) -> dict[int, str]:
    reasons = {}
    for uid in uids:
        if uid not in response:
            reasons[uid] = f"the server left UID {uid} out of its answer to FETCH"
        elif response[uid].get(part) is None:
            reasons[uid] = f"the server answered FETCH without {part.decode()} for UID {uid}"
    return reasons
