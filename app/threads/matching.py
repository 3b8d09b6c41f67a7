"""Which conversation a message joins: pure rules over the threads a batch may join, so a whole
batch is threaded in memory from a few lookups and its own messages thread together.

The rules, in order: 1. the headers (the newest stored message among In-Reply-To and References);
notices and bounces join only so; 2. the same order (Walmart's relay mail may carry no reply
headers at all): the same counterpart's thread first, else any recent one; 3. the same counterpart
and subject, recently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Generic, Protocol, TypeVar

from app.enums import Classification
from app.mail.subjects import normalize_subject
from app.threads.summary import MessageFacts, ThreadFacts

# Without headers, a message joins a thread with the same counterpart and subject only this recent.
THREADING_WINDOW = timedelta(days=30)


class Joining(MessageFacts, Protocol):
    """A message about to be stored, as threading reads it."""

    @property
    def mailbox_id(self) -> int: ...
    @property
    def message_id_header(self) -> str | None: ...
    @property
    def in_reply_to(self) -> str | None: ...
    @property
    def references(self) -> Sequence[str]: ...
    @property
    def subject(self) -> str: ...
    @property
    def to_addresses(self) -> Sequence[str]: ...


class Joinable(ThreadFacts, Protocol):
    normalized_subject: str


def counterpart_of(message: Joining, seller_addresses: frozenset[str]) -> str | None:
    """Who the seller talks to: the sender of incoming mail, else the first other recipient."""
    if message.classification == Classification.SELLER:
        return next((a for a in message.to_addresses if a not in seller_addresses), None)
    return message.from_address


def referenced_ids(message: Joining) -> list[str]:
    """The Message-IDs a message names as its parents, nearest first."""
    return [m for m in [message.in_reply_to, *reversed(message.references)] if m]


T = TypeVar("T", bound=Joinable)


class ThreadIndex(Generic[T]):
    """The threads one batch may join: those its lookups found and those it starts. A thread's
    fields change as messages join it; lookups read them as they are at that moment, so a batch
    threads exactly as its messages would one by one."""

    def __init__(self, threads: Iterable[T], stored: Iterable[tuple[str, datetime, T]]) -> None:
        self._by_order: defaultdict[str, list[T]] = defaultdict(list)
        self._by_subject: defaultdict[str, list[T]] = defaultdict(list)
        # Message-ID -> (arrival, thread) of each stored message a batch's message refers to.
        self._by_message_id: defaultdict[str, list[tuple[datetime, T]]] = defaultdict(list)
        self._known: set[int] = set()
        for thread in threads:
            self.add_thread(thread)
        for message_id, received_at, thread in stored:
            self._by_message_id[message_id].append((received_at, thread))

    def add_thread(self, thread: T) -> None:
        if id(thread) in self._known:
            return
        self._known.add(id(thread))
        self._by_subject[thread.normalized_subject].append(thread)
        self.reindex(thread)

    def reindex(self, thread: T) -> None:
        """After a message joined: an order number a thread gained finds it too."""
        order = thread.order_number
        if order and not any(t is thread for t in self._by_order[order]):
            self._by_order[order].append(thread)

    def joined(self, message: Joining, thread: T) -> None:
        """A batch's message is in ``thread``: later replies to it find it there."""
        if message.message_id_header:
            self._by_message_id[message.message_id_header].append((message.received_at, thread))
        self.reindex(thread)

    def find(self, message: Joining, counterpart: str | None) -> T | None:
        parents = [
            found for ref in referenced_ids(message) for found in self._by_message_id.get(ref, ())
        ]
        if parents:
            return max(parents, key=lambda found: found[0])[1]
        if message.classification == Classification.AUTOMATED:
            return None
        since = message.received_at - THREADING_WINDOW
        if message.order_number:
            same_order = [
                t
                for t in self._by_order.get(message.order_number, ())
                if t.counterpart == counterpart or _since(t, since)
            ]
            if same_order:
                return max(same_order, key=lambda t: (t.counterpart == counterpart, _last(t)))
        subject = normalize_subject(message.subject)
        if counterpart and subject:
            same = [
                t
                for t in self._by_subject.get(subject, ())
                if t.counterpart == counterpart and _since(t, since)
            ]
            if same:
                return max(same, key=_last)
        return None


NEVER = datetime.min.replace(tzinfo=UTC)


def _since(thread: Joinable, since: datetime) -> bool:
    return thread.last_message_at is not None and thread.last_message_at >= since


def _last(thread: Joinable) -> datetime:
    return thread.last_message_at or NEVER
