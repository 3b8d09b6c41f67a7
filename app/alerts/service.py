"""Alerts: recorded with the SLA transition (or mailbox outage) that causes them, in the caller's
transaction; app.alerts.jobs delivers them.

Each alert has a key naming its event, unique in the database, so no event alerts twice however
many sweeps run at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.alerts import repository, rules
from app.config import Settings
from app.enums import AlertState
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.models import Alert, Mailbox, Thread
from app.threads import queries
from app.threads.forecast import forecast_sentence
from app.threads.sweep import Reached
from app.threads.sweep_repository import DueThread

ALERT_PAGE = 1000  # alerts checked and inserted per statement


def _team(db: Session, settings: Settings, mailbox_name: str) -> list[str]:
    configured = registry.settings_for(db, settings, mailbox_name)
    if configured and configured.alert_recipients:
        return list(configured.alert_recipients)
    return list(settings.alerts.recipients)


def _record(db: Session, alert: Alert) -> Alert | None:
    """Add the alert unless its event already has one (also when another process races us)."""
    if repository.exists(db, alert.dedupe_key):
        return None
    try:
        with db.begin_nested():
            db.add(alert)
    except IntegrityError:
        return None
    return alert


def _thread_detail(thread: DueThread, mailbox_name: str, level: str) -> dict[str, object]:
    return {
        "subject": thread.subject,
        "counterpart": thread.counterpart,
        "order_number": thread.order_number,
        "mailbox": mailbox_name,
        "thread_kind": thread.kind.value,
        "found_in_spam": thread.source.value == "spam",
        "clock_started_at": thread.clock_started_at.isoformat()
        if thread.clock_started_at
        else None,
        "due_at": thread.due_at.isoformat() if thread.due_at else None,
        "level": level,
    }


def alerts_for_transitions(
    db: Session, transitions: Sequence[Reached], *, settings: Settings, now: datetime
) -> list[str]:
    """Record the alert of each transition that needs one, in the sweep's own transaction, a page
    at a time in one executemany; the keys of the alerts recorded."""
    names = {m.id: m.name for m in mailbox_repository.list_mailboxes(db)}
    teams: dict[int, list[str]] = {}
    rows: list[dict[str, Any]] = []
    for transition in transitions:
        thread = transition.thread
        rule = rules.thread_alert(
            from_level=transition.from_level, to_level=transition.to_level, kind=thread.kind
        )
        if rule is None:
            continue
        mailbox_name = names[thread.mailbox_id]
        if thread.mailbox_id not in teams:
            teams[thread.mailbox_id] = _team(db, settings, mailbox_name)
        rows.append(
            {
                "kind": rule.kind,
                "dedupe_key": (
                    f"thread:{thread.id}:{transition.clock_started_at.isoformat()}:"
                    f"{transition.to_level}"
                ),
                "thread_id": thread.id,
                "mailbox_id": thread.mailbox_id,
                "recipients": rules.recipients(
                    team=teams[thread.mailbox_id],
                    managers=settings.alerts.manager_recipients,
                    to_managers=rule.to_managers,
                ),
                "subject": thread.subject,
                "detail": _thread_detail(thread, mailbox_name, transition.to_level),
                "urgent": rule.urgent,
                "state": AlertState.PENDING,
                "attempts": 0,
                "created_at": now,
                "deliver_after": rules.release_time(
                    now=now,
                    urgent=rule.urgent,
                    breach_at=thread.due_at if thread.due_at and thread.due_at > now else None,
                    quiet=settings.alerts.quiet_hours,
                    digest_minutes=settings.alerts.digest_minutes,
                ),
            }
        )
    recorded = []
    for start in range(0, len(rows), ALERT_PAGE):
        page = rows[start : start + ALERT_PAGE]
        known = repository.existing_keys(db, [row["dedupe_key"] for row in page])
        fresh = [row for row in page if row["dedupe_key"] not in known]
        repository.insert_alerts(db, fresh)
        recorded += [row["dedupe_key"] for row in fresh]
    return recorded


def cancel_request_alert(
    db: Session,
    *,
    thread: Thread,
    mailbox_name: str,
    purchase_order_id: str,
    products: list[str],
    settings: Settings,
    now: datetime,
) -> Alert | None:
    """A customer asked to cancel an order (Walmart's INTENT_TO_CANCEL): the team and the
    managers at once, whatever the hour, since the line must be stopped before it ships. One
    alert per purchase order, however often Walmart or the poll reports the request."""
    requested = thread.cancel_requested_at
    return _record(
        db,
        Alert(
            kind="cancel_request",
            dedupe_key=f"cancel_request:{thread.mailbox_id}:{purchase_order_id}",
            thread_id=thread.id,
            mailbox_id=thread.mailbox_id,
            recipients=rules.recipients(
                team=_team(db, settings, mailbox_name),
                managers=settings.alerts.manager_recipients,
                to_managers=True,
            ),
            subject=thread.subject,
            detail={
                "subject": thread.subject,
                "counterpart": thread.counterpart,
                "order_number": purchase_order_id,
                "mailbox": mailbox_name,
                "products": products,
                "clock_started_at": requested.isoformat() if requested else None,
                "due_at": thread.cancel_due_at.isoformat() if thread.cancel_due_at else None,
                "reason": "the customer asked to cancel: stop the line before it ships, then "
                "cancel it in Seller Center or tell the customer why not",
            },
            urgent=True,
            state=AlertState.PENDING,
            deliver_after=now,
        ),
    )


def mailbox_alerts(db: Session, *, settings: Settings, now: datetime) -> list[Alert]:
    """A silent poller is the worst failure slawatch can have: alert when a mailbox has not been
    polled successfully for `poll_failure_minutes` (at once when its login was refused, by
    password or OAuth2: neither mends itself), and
    again when it recovers."""
    threshold = timedelta(minutes=settings.alerts.poll_failure_minutes)
    recorded = []
    for configured in registry.active(db, settings):
        mailbox = mailbox_repository.get_or_create_mailbox(db, configured.name)
        since = mailbox.last_success_at or mailbox.created_at
        refused = (
            mailbox.last_error_kind in ("auth", "reauthorize")
            and mailbox.last_error_at is not None
            and (mailbox.last_success_at is None or mailbox.last_error_at > mailbox.last_success_at)
        )
        down = refused or now - since >= threshold
        if down and mailbox.down_alerted_since is None:
            reason = mailbox.last_error or f"no poll has succeeded since {since:%Y-%m-%d %H:%M} UTC"
            alert = _mailbox_alert(db, mailbox, settings, "mailbox_down", since, reason, now)
            mailbox.down_alerted_since = since
        elif not down and mailbox.down_alerted_since is not None:
            alert = _mailbox_alert(
                db,
                mailbox,
                settings,
                "mailbox_recovered",
                mailbox.down_alerted_since,
                "polling works again",
                now,
            )
            mailbox.down_alerted_since = None
        else:
            continue
        if alert:
            recorded.append(alert)
    return recorded


def rate_alerts(db: Session, *, settings: Settings, now: datetime) -> list[Alert]:
    """Alert when one more missed customer would take a mailbox's 30-day response rate below
    its marketplace's line while customers wait: once a day (UTC) per mailbox while that holds,
    so the team answers the waiting ones in time."""
    targets = registry.rate_targets(db, settings)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    recorded = []
    for summary in queries.summary(db, now=now).mailboxes:
        forecast = queries.forecast_of(summary, targets[summary.mailbox_id])
        # Under 1 / (1 - line) decided waits (20 at 95 %) any single miss breaks the line: the
        # alerts of each waiting thread already say all there is to say.
        enough = forecast.decided >= math.ceil(1 / (1 - forecast.threshold) - 1e-9)
        if not (enough and forecast.waiting and forecast.one_miss_from_the_line):
            continue
        mailbox = mailbox_repository.get_mailbox(db, summary.mailbox_id)
        reason = forecast_sentence(forecast, now=now) or ""
        alert = _mailbox_alert(
            db, mailbox, settings, "rate_at_line", day, reason, now, urgent=False
        )
        if alert:
            recorded.append(alert)
    return recorded


def _mailbox_alert(
    db: Session,
    mailbox: Mailbox,
    settings: Settings,
    kind: str,
    since: datetime,
    reason: str,
    now: datetime,
    *,
    urgent: bool = True,
) -> Alert | None:
    return _record(
        db,
        Alert(
            kind=kind,
            dedupe_key=f"mailbox:{mailbox.id}:{kind}:{since.isoformat()}",
            mailbox_id=mailbox.id,
            recipients=rules.recipients(
                team=_team(db, settings, mailbox.name),
                managers=settings.alerts.manager_recipients,
                to_managers=True,
            ),
            subject=f"mailbox {mailbox.name}",
            detail={"mailbox": mailbox.name, "reason": reason, "since": since.isoformat()},
            urgent=urgent,
            state=AlertState.PENDING,
            deliver_after=rules.release_time(
                now=now,
                urgent=urgent,
                breach_at=None,
                quiet=settings.alerts.quiet_hours,
                digest_minutes=settings.alerts.digest_minutes,
            ),
        ),
    )
