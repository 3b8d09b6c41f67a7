"""Walmart's report beside slawatch's threads: the orders Walmart counted that slawatch has no
thread for or judges differently, and slawatch's threads about an order Walmart's report does not
list, each with the likely reason. Pure: plain data in, findings out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

# Walmart's and slawatch's clocks may start a little apart (relay delay, polling).
CLOCK_SLACK = timedelta(hours=1)
# A report row's received time is matched to a wait starting this close to it.
MATCH_WINDOW = timedelta(days=2)


class Verdict(StrEnum):
    IN_TIME = "in_time"
    LATE = "late"  # answered after its deadline
    MISSED = "missed"  # deadline passed with no answer seen
    WAITING = "waiting"  # not decided yet


class Finding(StrEnum):
    NO_THREAD = "no_thread"
    WALMART_LATE = "walmart_late"  # Walmart: late or missed; slawatch: answered in time
    WALMART_IN_TIME = "walmart_in_time"  # Walmart: in time; slawatch: late or missed
    NOT_IN_REPORT = "not_in_report"


@dataclass(frozen=True)
class WalmartOrder:
    purchase_order_id: str | None
    customer_order_id: str | None
    received_at: datetime | None
    responded_at: datetime | None
    in_time: bool | None


@dataclass(frozen=True)
class Wait:
    started_at: datetime
    due_at: datetime
    answered_at: datetime | None
    channel: str | None  # where an answer outside the mailbox was given; None: by mail


@dataclass(frozen=True)
class ThreadOrder:
    thread_id: int
    order_number: str
    purchase_order_id: str | None  # from the order's copy, when read
    customer_order_id: str | None
    waits: Sequence[Wait] = field(default_factory=tuple)

    @property
    def numbers(self) -> set[str]:
        return {n for n in (self.order_number, self.purchase_order_id, self.customer_order_id) if n}


@dataclass(frozen=True)
class Difference:
    finding: Finding
    reason: str
    purchase_order_id: str | None
    customer_order_id: str | None
    thread_ids: list[int]
    walmart_in_time: bool | None
    slawatch: Verdict | None
    received_at: datetime | None = None
    responded_at: datetime | None = None


def verdict(waits: Sequence[Wait], *, now: datetime) -> Verdict | None:
    """slawatch's verdict on some waits: missed or late if any was, waiting while one runs."""
    if not waits:
        return None
    if any(w.answered_at is None and w.due_at <= now for w in waits):
        return Verdict.MISSED
    if any(w.answered_at is not None and w.answered_at > w.due_at for w in waits):
        return Verdict.LATE
    if any(w.answered_at is None for w in waits):
        return Verdict.WAITING
    return Verdict.IN_TIME


def reconcile(
    orders: Sequence[WalmartOrder],
    threads: Sequence[ThreadOrder],
    *,
    connected_at: datetime,
    window_start: datetime,
    report_at: datetime,
    now: datetime,
) -> list[Difference]:
    """The differences between Walmart's report (covering ``window_start`` to ``report_at``) and
    slawatch's threads of a mailbox connected at ``connected_at``."""
    found: list[Difference] = []
    matched: set[int] = set()
    for order in orders:
        numbers = {n for n in (order.purchase_order_id, order.customer_order_id) if n}
        mine = [t for t in threads if t.numbers & numbers]
        matched.update(t.thread_id for t in mine)
        difference = _compare(order, mine, connected_at=connected_at, now=now)
        if difference is not None:
            found.append(difference)
    for thread in threads:
        waits = [w for w in thread.waits if window_start <= w.started_at < report_at]
        if thread.thread_id in matched or not waits:
            continue
        found.append(
            Difference(
                finding=Finding.NOT_IN_REPORT,
                reason=(
                    "not in Walmart's report: the buyer may have written to you directly, not "
                    "through Walmart's relay, or the message came after Walmart made the report"
                ),
                purchase_order_id=thread.purchase_order_id,
                customer_order_id=thread.customer_order_id,
                thread_ids=[thread.thread_id],
                walmart_in_time=None,
                slawatch=verdict(waits, now=now),
            )
        )
    return found


def _compare(
    order: WalmartOrder, threads: Sequence[ThreadOrder], *, connected_at: datetime, now: datetime
) -> Difference | None:
    def difference(finding: Finding, reason: str, slawatch: Verdict | None) -> Difference:
        return Difference(
            finding=finding,
            reason=reason,
            purchase_order_id=order.purchase_order_id,
            customer_order_id=order.customer_order_id,
            thread_ids=[t.thread_id for t in threads],
            walmart_in_time=order.in_time,
            slawatch=slawatch,
            received_at=order.received_at,
            responded_at=order.responded_at,
        )

    if not threads:
        if order.received_at is not None and order.received_at < connected_at:
            reason = "no thread: the message arrived before the mailbox was connected to slawatch"
        else:
            reason = (
                "no thread: the mail may be in a folder slawatch does not watch, or arrived "
                "before the mailbox was connected"
            )
        return difference(Finding.NO_THREAD, reason, None)
    waits = [w for t in threads for w in t.waits]
    if order.received_at is not None:
        near = [w for w in waits if abs(w.started_at - order.received_at) <= MATCH_WINDOW]
        waits = near or waits
    mine = verdict(waits, now=now)
    if order.in_time is None or mine in (None, Verdict.WAITING):
        return None
    if order.in_time is False and mine == Verdict.IN_TIME:
        return difference(Finding.WALMART_LATE, _walmart_late_reason(order, waits), mine)
    if order.in_time is True and mine in (Verdict.LATE, Verdict.MISSED):
        if mine == Verdict.MISSED:
            reason = "answered in Seller Center (slawatch saw no reply in Sent)"
        else:
            reason = "answered after 48 h by slawatch's clock"
            if any(w.channel for w in waits):
                reason += " (an answer recorded as given outside the mailbox came late)"
        return difference(Finding.WALMART_IN_TIME, reason, mine)
    return None


def _walmart_late_reason(order: WalmartOrder, waits: Sequence[Wait]) -> str:
    started = min(w.started_at for w in waits)
    if order.received_at is not None and order.received_at < started - CLOCK_SLACK:
        return (
            "Walmart received the message before slawatch saw it: the mail reached the mailbox "
            "late (a spam filter, a forward) or an earlier message was missed"
        )
    channels = sorted({w.channel for w in waits if w.channel})
    if channels:
        return (
            f"answered outside the mailbox ({', '.join(channels)}): Walmart did not count that "
            "answer in time"
        )
    return (
        "answered in time by mail by slawatch's clock, but Walmart did not count the reply: was "
        "it sent from the address registered in Seller Center, to the buyer's relay address?"
    )
