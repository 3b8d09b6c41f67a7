"""Delivering alerts to chat and webhook channels: scheduled work that owns its transactions.

Like alert emails: each delivery was recorded before it is sent, is locked while it is sent
(SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL), and is retried with back-off when refused. Each
channel has its own deliveries, so one that fails holds back no other: after a failure, that
channel's other deliveries of the round wait for the next sweep instead of each waiting for its
own timeout."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.alerts import rules
from app.alerts.channels import payloads, posting, repository
from app.alerts.channels import service as channel_service
from app.config import AlertChannel, Settings
from app.db import session_scope
from app.enums import AlertState
from app.errors import ChannelError, ConfigError
from app.models import Alert, AlertDelivery

log = logging.getLogger(__name__)

# Each batch holds its transaction (on SQLite, the database's write lock) while it posts: a chat
# service answers in a few hundred milliseconds, so batches are kept small enough that another
# writer never waits out its lock timeout.
DELIVERY_BATCH = 20
# Alerts in one chat message at most: Slack refuses a message of more than 50 blocks (an alert
# takes up to four) and Teams a card of more than about 28 KB.
DIGEST_MAX = 10
# A broken channel's other deliveries of a round try again this much later (no attempt counted).
BROKEN_CHANNEL_WAIT = timedelta(minutes=1)

Due = tuple[AlertDelivery, Alert]


@dataclass
class ChannelReport:
    sent: int = 0
    retrying: int = 0
    failed: int = 0


def route(session_factory: sessionmaker[Session], settings: Settings, *, now: datetime) -> int:
    """Record the deliveries of the alerts raised since the last round (one transaction)."""
    with session_scope(session_factory) as db:
        return channel_service.route(db, settings=settings, now=now)


def _groups(due: list[Due], *, digest: bool) -> list[list[Due]]:
    """One message per alert; with a digest, a chat channel's non-urgent alerts in one. A
    webhook's consumer is a program: it gets one request per alert, always."""
    groups: list[list[Due]] = []
    batched: dict[str, list[Due]] = {}
    for item in due:
        delivery, alert = item
        if digest and not alert.urgent and delivery.channel_kind != "webhook":
            batched.setdefault(delivery.channel, []).append(item)
        else:
            groups.append([item])
    for items in batched.values():
        groups += [items[i : i + DIGEST_MAX] for i in range(0, len(items), DIGEST_MAX)]
    return groups


def _body(
    channel: AlertChannel,
    group: list[Due],
    *,
    where: dict[int, channel_service.Place],
    settings: Settings,
    now: datetime,
) -> bytes:
    notices = []
    for _, alert in group:
        place = where.get(alert.mailbox_id) if alert.mailbox_id else None
        notices.append(
            payloads.notice(
                alert,
                mailbox=place.mailbox if place else None,
                client=place.client if place else None,
                base_url=settings.base_url,
                now=now,
            )
        )
    if channel.kind == "slack":
        return payloads.encode(payloads.slack(notices))
    if channel.kind == "teams":
        return payloads.encode(payloads.teams(notices))
    (notice,) = notices
    return payloads.encode(payloads.webhook(notice))


def _deliver(
    channel: AlertChannel,
    group: list[Due],
    *,
    where: dict[int, channel_service.Place],
    settings: Settings,
    now: datetime,
    report: ChannelReport,
) -> bool:
    """Send one message; record its outcome on each delivery in it. False when it failed."""
    deliveries = [delivery for delivery, _ in group]
    try:
        posting.post(channel, _body(channel, group, where=where, settings=settings, now=now))
    except (ChannelError, ConfigError) as e:
        for delivery in deliveries:
            delivery.attempts += 1
            delivery.last_error = e.message
            if delivery.attempts >= settings.alerts.max_attempts:
                delivery.state = AlertState.FAILED
                report.failed += 1
                metrics.CHANNEL_DELIVERIES.labels(channel.kind, "failed").inc()
            else:
                delivery.deliver_after = now + rules.retry_delay(delivery.attempts)
                report.retrying += 1
                metrics.CHANNEL_DELIVERIES.labels(channel.kind, "retrying").inc()
        gave_up = any(delivery.state == AlertState.FAILED for delivery in deliveries)
        log.warning(
            "%s; alerts %s %s",
            e.message,
            [alert.id for _, alert in group],
            f"not delivered after {settings.alerts.max_attempts} attempts"
            if gave_up
            else "will be retried",
        )
        return False
    for delivery in deliveries:
        delivery.attempts += 1
        delivery.state, delivery.sent_at, delivery.last_error = AlertState.SENT, now, None
    report.sent += len(deliveries)
    metrics.CHANNEL_DELIVERIES.labels(channel.kind, "sent").inc(len(deliveries))
    return True


def deliver_due(
    session_factory: sessionmaker[Session], settings: Settings, *, now: datetime
) -> ChannelReport:
    """Send every channel delivery whose time has come; each batch holds its rows locked while
    sending."""
    channels = {channel.key: channel for channel in settings.alerts.channels}
    report = ChannelReport()
    if not channels:
        return report
    broken: set[str] = set()  # channels that failed this round
    while True:
        with session_scope(session_factory) as db:
            due = repository.lock_due(db, now=now, channels=channels, limit=DELIVERY_BATCH)
            where = channel_service.places(db) if due else {}
            for group in _groups(due, digest=settings.alerts.digest_minutes > 0):
                channel = channels[group[0][0].channel]
                if channel.key in broken:
                    for delivery, _ in group:
                        delivery.deliver_after = now + BROKEN_CHANNEL_WAIT
                    continue
                if not _deliver(
                    channel, group, where=where, settings=settings, now=now, report=report
                ):
                    broken.add(channel.key)
        if len(due) < DELIVERY_BATCH:
            return report
