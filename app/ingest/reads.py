"""Reading a folder's new messages from the server, a batch at a time: in Junk only those of
whitelisted senders (by a header that was read), each message whole or, over max_message_bytes,
its header alone; and the UIDs the server answered without what was asked. The next batch is read
while the poller stores the current one."""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from email.parser import BytesHeaderParser
from email.utils import getaddresses
from typing import TypeVar, cast

from app.config import MailboxSettings
from app.enums import FolderRole
from app.mail.classify import is_whitelisted
from app.mail.fetched import FetchedMessage
from app.mail.imap import ImapMailbox

BATCH_BYTES = 50 * 1024 * 1024


def _batches(uids: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(uids), size):
        yield list(uids[start : start + size])


def _by_bytes(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """Split a batch so no single FETCH holds more than BATCH_BYTES in memory."""
    part: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        if part and total + size > BATCH_BYTES:
            yield part
            part, total = [], 0
        part.append(uid)
        total += size
    if part:
        yield part


def _fetch(
    imap: ImapMailbox, uids: list[int], sizes: dict[int, int], *, max_message_bytes: int
) -> tuple[list[FetchedMessage], dict[int, str]]:
    """The messages of ``uids`` in UID order: whole, or only the header of one over the limit,
    with a note, so no single message decides how much memory a poll needs; and the UIDs the
    server answered without them, with what it did."""
    whole = [uid for uid in uids if sizes.get(uid, 0) <= max_message_bytes]
    too_big = [uid for uid in uids if sizes.get(uid, 0) > max_message_bytes]
    fetched: list[FetchedMessage] = []
    unanswered: dict[int, str] = {}
    if whole:
        answer = imap.fetch(whole)
        fetched.extend(answer.answered.values())
        unanswered.update(answer.unanswered)
    if too_big:
        headers = imap.fetch_headers(too_big, max_bytes=max_message_bytes)
        unanswered.update(headers.unanswered)
        for header in headers.answered.values():
            note = (
                f"message of {header.size} bytes is over max_message_bytes "
                f"({max_message_bytes}); only its headers were fetched"
            )
            if len(header.raw) >= max_message_bytes:
                note += f", and of those only the first {max_message_bytes} bytes"
            fetched.append(replace(header, problems=(note,)))
    # Stored in UID order: a reply finds the message it answers already stored.
    return sorted(fetched, key=lambda m: m.uid), unanswered


def _whitelisted_uids(
    imap: ImapMailbox, uids: list[int], patterns: Sequence[str]
) -> tuple[list[int], dict[int, str]]:
    """The UIDs of Walmart mail among ``uids``, and those whose sender header the server did not
    give: neither read nor skipped, whatever they are."""
    if not uids:
        return [], {}
    headers = imap.sender_headers(uids)
    parser = BytesHeaderParser()
    keep = []
    for uid in uids:
        if uid not in headers.answered:
            continue
        header = parser.parsebytes(headers.answered[uid])
        addresses = getaddresses([str(header.get("From", ""))])
        sender = addresses[0][1].lower() if addresses else None
        if is_whitelisted(sender, patterns):
            keep.append(uid)
    return keep, {uid: reason for uid, reason in headers.unanswered.items() if uid in uids}


@dataclass(frozen=True)
class Read:
    """One part of a folder read from the server, to be stored in one transaction."""

    up_to: int  # the cursor may pass every UID up to this one that is accounted for
    fetched: list[FetchedMessage]
    unanswered: dict[int, str]  # UIDs up to ``up_to`` the server answered without their content
    skipped: set[int]  # UIDs of the batch deliberately not read (spam of other senders)


def reads(
    imap: ImapMailbox,
    uids: Sequence[int],
    accounted: set[int],
    *,
    role: FolderRole,
    settings: MailboxSettings,
) -> Generator[Read, None, None]:
    """The folder's new messages in batches of ``batch_size`` UIDs, each split so no single
    FETCH holds more than BATCH_BYTES: a batch of big messages is never in memory at once."""
    for chunk in _batches(uids, settings.batch_size):
        # Above a cursor that waited for an unanswered UID, what was stored is not fetched again.
        todo = [uid for uid in chunk if uid not in accounted]
        wanted, unanswered = todo, dict[int, str]()
        if role == FolderRole.SPAM:
            wanted, unanswered = _whitelisted_uids(imap, todo, settings.spam_whitelist)
        skipped = set(todo) - set(wanted) - set(unanswered)
        sizes = imap.sizes(wanted) if wanted else {}
        # A message over the limit costs at most that much (of its header).
        costs = {uid: min(size, settings.max_message_bytes) for uid, size in sizes.items()}
        parts = list(_by_bytes(wanted, costs)) or [[]]
        noted: set[int] = set()
        for number, part in enumerate(parts, 1):
            up_to = max(chunk) if number == len(parts) else max(part)
            fetched, missing = _fetch(
                imap, part, sizes, max_message_bytes=settings.max_message_bytes
            )
            unanswered.update(missing)
            due = {uid: why for uid, why in unanswered.items() if uid <= up_to and uid not in noted}
            noted |= due.keys()
            yield Read(up_to=up_to, fetched=fetched, unanswered=due, skipped=skipped)


_END = object()
T = TypeVar("T")


def one_ahead(items: Iterator[T]) -> Generator[T, None, None]:
    """The items of ``items``, the next one made in another thread while the caller works on
    the current: the server reads the next batch while this one is stored. Closing it (the
    caller failed) waits for the item under way, so the connection is never used by two."""
    with ThreadPoolExecutor(1, thread_name_prefix="imap-read") as pool:
        future = pool.submit(next, items, _END)
        while (item := future.result()) is not _END:
            future = pool.submit(next, items, _END)
            yield cast(T, item)
