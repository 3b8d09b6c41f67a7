"""Which SLA levels raise an alert, who receives it and when it may go out. Pure: no I/O.

- at risk, the reminders before the deadline and the optional warnings go to the team; overdue
  threads and escalations or complaints also to the managers, and their at risk and reminders;
- urgent alerts (an overdue escalation or complaint, a complaint arriving, a mailbox down) go out
  at once; the others may wait for the digest or the end of quiet hours, but never past the
  thread's deadline: the customer's clock runs 24/7 whatever the team's hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from app.config import QuietHours
from app.enums import ThreadKind
from app.sla import ThreadState, is_reminder

SEVERE_KINDS = (ThreadKind.ESCALATION, ThreadKind.COMPLAINT)


@dataclass(frozen=True)
class ThreadAlert:
    kind: str  # at_risk, overdue, warn_24h, remind_6h, escalation, complaint
    urgent: bool
    to_managers: bool


def thread_alert(*, from_level: str | None, to_level: str, kind: ThreadKind) -> ThreadAlert | None:
    """The alert for a thread reaching ``to_level``, or None when the level needs none."""
    severe = kind in SEVERE_KINDS
    if to_level == ThreadState.WAITING:
        if from_level is None and severe:  # an escalation or complaint has just arrived
            return ThreadAlert(kind.value, urgent=kind == ThreadKind.COMPLAINT, to_managers=True)
        return None
    if to_level == ThreadState.OVERDUE:
        return ThreadAlert("overdue", urgent=severe, to_managers=True)
    if to_level == ThreadState.AT_RISK or is_reminder(to_level):
        return ThreadAlert(to_level, urgent=kind == ThreadKind.COMPLAINT, to_managers=severe)
    return ThreadAlert(to_level, urgent=False, to_managers=False)  # warn_24h and the like


def recipients(*, team: list[str], managers: list[str], to_managers: bool) -> list[str]:
    chosen = [*team, *(managers if to_managers else [])]
    return sorted({address.lower() for address in chosen})


def _quiet_end(moment: datetime, quiet: QuietHours) -> datetime | None:
    """When the quiet hours around ``moment`` end, or None when ``moment`` is not inside them."""
    zone = ZoneInfo(quiet.timezone)
    local = moment.astimezone(zone)
    clock = local.time()
    overnight = quiet.start > quiet.end
    inside = (
        (clock >= quiet.start or clock < quiet.end)
        if overnight
        else (quiet.start <= clock < quiet.end)
    )
    if not inside:
        return None
    end_day = (
        local.date() + timedelta(days=1) if overnight and clock >= quiet.start else local.date()
    )
    return datetime.combine(end_day, quiet.end, tzinfo=zone).astimezone(UTC)


def release_time(
    *,
    now: datetime,
    urgent: bool,
    breach_at: datetime | None,
    quiet: QuietHours | None,
    digest_minutes: int,
) -> datetime:
    """When an alert may be sent: at once if urgent; else at the next digest slot and after quiet
    hours, but never later than the thread's deadline (``breach_at``)."""
    if urgent:
        return now
    release = now
    if digest_minutes:
        period = timedelta(minutes=digest_minutes)
        release = datetime.fromtimestamp(
            (now.timestamp() // period.total_seconds() + 1) * period.total_seconds(), UTC
        )
    if quiet is not None:
        release = _quiet_end(release, quiet) or release
    if breach_at is not None and release > breach_at:
        return now
    return release


def retry_delay(attempts: int) -> timedelta:
    """After a failed send: 1, 2, 4 … minutes, at most an hour."""
    return min(timedelta(minutes=2 ** max(attempts - 1, 0)), timedelta(hours=1))
