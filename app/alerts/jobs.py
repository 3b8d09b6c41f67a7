"""Alert jobs: the SLA sweep and alert delivery, scheduled jobs and commands that own their
transactions.

The sweep records SLA transitions and the alerts they cause in one transaction, so neither exists
without the other. Delivery locks due alerts (SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL), so two
processes never send the same one; a refused send is retried with back-off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from email.utils import make_msgid

from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.alerts import emails, repository, rules
from app.alerts import service as alert_service
from app.alerts.channels import jobs as channel_jobs
from app.config import Settings, SmtpSettings
from app.db import session_scope
from app.enums import AlertState
from app.mail import smtp
from app.mailboxes import registry
from app.marketplaces import is_marketplace_relay
from app.models import Alert
from app.threads.sweep import Reached, transitions_due

log = logging.getLogger(__name__)

DELIVERY_BATCH = 50


# What an alert that could not be emailed because there is no server to mail it through says.
EMAIL_OFF = "not emailed: SMTP is not configured (no [smtp] section)"


@dataclass
class DeliveryReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    skipped: int = 0  # no SMTP server: recorded, never emailed


def _groups(due: list[Alert], *, digest: bool) -> list[list[Alert]]:
    """One email per alert; with a digest, the non-urgent ones per recipient list in one."""
    if not digest:
        return [[alert] for alert in due]
    batched: dict[tuple[str, ...], list[Alert]] = {}
    groups = []
    for alert in due:
        if alert.urgent:
            groups.append([alert])
        else:
            batched.setdefault(tuple(alert.recipients), []).append(alert)
    return groups + list(batched.values())


def _deliver(
    group: list[Alert],
    *,
    mailer: smtp.SmtpSession,
    settings: Settings,
    server: SmtpSettings,
    now: datetime,
    report: DeliveryReport,
) -> None:
    to = group[0].recipients
    sender = settings.alerts.from_address or server.from_address
    problem = None
    if not to:
        problem = "no recipients configured: set [alerts] recipients"
    elif any(is_marketplace_relay(address) for address in to):
        problem = "refused: an alert recipient is a customer (relay) address"
    elif sender is None:
        problem = "no sender configured: set [alerts] from_address or [smtp] from_address"
    if problem:
        for alert in group:
            alert.state, alert.last_error, alert.attempts = AlertState.FAILED, problem, 1
        report.failed += len(group)
        log.error("alert %s not sent: %s", [a.id for a in group], problem)
        return
    assert sender is not None  # noqa: S101 (checked above)
    message_id = make_msgid(domain=sender.rpartition("@")[2])
    message = emails.compose(
        group, settings=settings, sender=sender, message_id=message_id, now=now
    )
    try:
        mailer.send(message, recipients=to)
    except smtp.SmtpError as e:
        for alert in group:
            alert.attempts += 1
            alert.last_error = e.reason
            if alert.attempts >= settings.alerts.max_attempts:
                alert.state = AlertState.FAILED
                report.failed += 1
            else:
                alert.deliver_after = now + rules.retry_delay(alert.attempts)
                report.retrying += 1
        log.warning("alerts %s: send failed (%s); will retry", [a.id for a in group], e.reason)
        metrics.SMTP_SENDS.labels("alert", "refused").inc()
        return
    for alert in group:
        alert.attempts += 1
        alert.state, alert.sent_at, alert.message_id = AlertState.SENT, now, message_id
        alert.last_error = None
    report.sent += len(group)
    metrics.SMTP_SENDS.labels("alert", "accepted").inc()


def deliver_due(
    session_factory: sessionmaker[Session], settings: Settings, *, now: datetime
) -> DeliveryReport:
    """Send every alert whose time has come; each batch holds its rows locked while sending."""
    report = DeliveryReport()
    server = settings.smtp
    while True:
        with session_scope(session_factory) as db:
            due = repository.lock_due(db, now=now, limit=DELIVERY_BATCH)
            if server is None:
                _skip(due, report)
            else:
                with smtp.SmtpSession(server) as mailer:
                    for group in _groups(due, digest=settings.alerts.digest_minutes > 0):
                        _deliver(
                            group,
                            mailer=mailer,
                            settings=settings,
                            server=server,
                            now=now,
                            report=report,
                        )
        if len(due) < DELIVERY_BATCH:
            return report


def _skip(due: list[Alert], report: DeliveryReport) -> None:
    """Monitoring only (no [smtp]): each alert stays recorded, closed once with the reason, so
    none is retried, logged at every sweep, or mailed in a flood once SMTP is configured."""
    for alert in due:
        alert.state, alert.last_error = AlertState.FAILED, EMAIL_OFF
    report.skipped += len(due)


@dataclass
class SweepReport:
    transitions: list[Reached]
    alerts: list[str]  # the keys of the alerts raised
    delivery: DeliveryReport
    channels: channel_jobs.ChannelReport


def sweep(
    session_factory: sessionmaker[Session], settings: Settings, *, now: datetime
) -> SweepReport:
    """One sweep: record SLA transitions and the alerts they cause (one transaction, so neither
    exists without the other), check the mailboxes' health, then deliver what is due by email
    and to the channels. Channels are routed before the email is sent (a refused email's
    back-off is no channel's) and delivered whatever happened to the email."""
    with session_scope(session_factory) as db:
        transitions = transitions_due(
            db,
            now=now,
            sla_settings=settings.sla,
            marketplaces=registry.marketplaces(db, settings),
        )
        alerts = alert_service.alerts_for_transitions(db, transitions, settings=settings, now=now)
        alerts += [
            alert.dedupe_key
            for alert in alert_service.mailbox_alerts(db, settings=settings, now=now)
            + alert_service.rate_alerts(db, settings=settings, now=now)
        ]
    channel_jobs.route(session_factory, settings, now=now)
    try:
        delivery = deliver_due(session_factory, settings, now=now)
    finally:
        channels = channel_jobs.deliver_due(session_factory, settings, now=now)
    for outcome in ("sent", "retrying", "failed", "skipped"):
        metrics.ALERTS.labels(outcome).inc(getattr(delivery, outcome))
    return SweepReport(transitions, alerts, delivery, channels)
