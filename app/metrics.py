"""Prometheus metrics: event counters kept by this process, state read from the database at scrape.

Counters (messages ingested, polls, alerts, channel deliveries, SMTP sends) count what this
process did, as Prometheus expects of each scraped instance; the state of the threads and the
response rates come from the database on each scrape, through the same cheap queries as the
summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings
from app.mailboxes import registry as mailbox_registry
from app.threads import queries, stats

# The process's event counters; each app adds the database gauges in its own registry.
registry = CollectorRegistry()

MESSAGES_INGESTED = Counter(
    "slawatch_messages_ingested",
    "Messages stored, by mailbox, folder and classification.",
    ["mailbox", "folder", "classification"],
    registry=registry,
)
POLL_SECONDS = Histogram(
    "slawatch_poll_duration_seconds",
    "Time of one poll of a mailbox (all its folders).",
    ["mailbox"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
    registry=registry,
)
POLL_FAILURES = Counter(
    "slawatch_poll_failures",
    "Polls that failed, by mailbox and reason.",
    ["mailbox", "kind"],
    registry=registry,
)
ALERTS = Counter(
    "slawatch_alerts",
    "Alert emails by outcome (sent, retrying, failed; skipped: no SMTP server configured).",
    ["outcome"],
    registry=registry,
)
CHANNEL_DELIVERIES = Counter(
    "slawatch_channel_deliveries",
    "Alerts delivered to chat and webhook channels, by kind (slack, teams, webhook) and outcome "
    "(sent, retrying, failed).",
    ["kind", "outcome"],
    registry=registry,
)
SMTP_SENDS = Counter(
    "slawatch_smtp_sends",
    "Messages handed to the SMTP server, by purpose and outcome.",
    ["purpose", "outcome"],
    registry=registry,
)


class DatabaseCollector(Collector):
    """Gauges of the current state, computed when Prometheus scrapes."""

    def __init__(self, read_factory: sessionmaker[Session], settings: Settings) -> None:
        self._read_factory = read_factory
        self._settings = settings

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with self._read_factory() as db:
            summary = queries.summary(db, now=now())
            marketplaces = mailbox_registry.marketplaces(db, self._settings)
        summaries, figures = summary.mailboxes, summary.figures
        threads = GaugeMetricFamily(
            "slawatch_threads",
            "Threads by state, kind and mailbox.",
            labels=["mailbox", "client", "state", "kind"],
        )
        oldest = GaugeMetricFamily(
            "slawatch_oldest_waiting_seconds",
            "How long the longest-waiting customer of a mailbox has waited.",
            labels=["mailbox", "client"],
        )
        rate = GaugeMetricFamily(
            "slawatch_response_rate",
            "Share of waits answered within the deadline (Walmart wants above 0.95).",
            labels=["mailbox", "client", "window"],
        )
        target = GaugeMetricFamily(
            "slawatch_response_rate_target",
            "The response rate the mailbox's marketplace holds the seller to (Walmart 0.95).",
            labels=["mailbox", "client"],
        )
        first_response = GaugeMetricFamily(
            "slawatch_first_response_seconds",
            "First-response time over 30 days.",
            labels=["mailbox", "client", "quantile"],
        )
        distribution = GaugeMetricFamily(
            "slawatch_first_response_waits",
            "Waits started in the window, by how fast they were first answered (bucket), or "
            "'unanswered overdue'.",
            labels=["mailbox", "client", "window", "bucket"],
        )
        healthy = GaugeMetricFamily(
            "slawatch_mailbox_healthy",
            "1 when the mailbox has been polled and its last poll succeeded, else 0.",
            labels=["mailbox", "client"],
        )
        reauthorize = GaugeMetricFamily(
            "slawatch_mailbox_needs_reauthorization",
            "1 when the mailbox's OAuth2 sign-in was refused and a person must authorise it "
            "again (slawatch mailboxes authorize NAME), else 0.",
            labels=["mailbox", "client"],
        )
        last_success = GaugeMetricFamily(
            "slawatch_mailbox_last_success_timestamp_seconds",
            "When the mailbox was last polled successfully (Unix time).",
            labels=["mailbox", "client"],
        )
        for m in summaries:
            who = [m.name, m.client or ""]
            for (state, kind), count in m.counts.items():
                threads.add_metric([*who, state.value, kind.value], count)
            oldest.add_metric(who, m.oldest_waiting_seconds or 0.0)
            for r in m.responses.rates:
                if r.rate is not None:
                    rate.add_metric([*who, f"{r.days}d"], r.rate)
            target.add_metric(
                who, self._settings.sla.response_rate_target(marketplaces[m.mailbox_id])
            )
            for quantile, value in (
                ("0.5", m.responses.median_first_response_seconds),
                ("0.9", m.responses.p90_first_response_seconds),
            ):
                if value is not None:
                    first_response.add_metric([*who, quantile], value)
            for days, window in figures.get(stats.scope_of(m.mailbox_id), {}).items():
                for bucket, count in zip(stats.BUCKET_LABELS, window.distribution, strict=False):
                    distribution.add_metric([*who, f"{days}d", bucket], count)
            healthy.add_metric(who, 1.0 if m.healthy else 0.0)
            reauthorize.add_metric(who, 1.0 if m.needs_reauthorization else 0.0)
            if m.last_success_at is not None:
                last_success.add_metric(who, _unix(m.last_success_at))
        yield from (
            threads,
            oldest,
            rate,
            target,
            first_response,
            distribution,
            healthy,
            reauthorize,
            last_success,
        )


def _unix(moment: datetime) -> float:
    return moment.timestamp()


class _ProcessCounters(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from registry.collect()


def app_registry(read_factory: sessionmaker[Session], settings: Settings) -> CollectorRegistry:
    """What /metrics exposes: this process's counters and the database's current state."""
    exposed = CollectorRegistry(auto_describe=False)
    exposed.register(_ProcessCounters())
    exposed.register(DatabaseCollector(read_factory, settings))
    return exposed
