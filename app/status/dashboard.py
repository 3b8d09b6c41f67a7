"""The status page's read model: tiles, charts, the most urgent threads and mailbox health, for
all mailboxes or one, over the last 24 hours, 7 or 30 days.

Every figure comes from the same cheap sources as the API's summary (live counts of running
clocks, tallies, the stats job's figures) and from the hourly activity rows, so the page costs the
same with a thousand threads as with a million.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.clock import duration_text
from app.config import StatusSettings
from app.config.sla import RESPONSE_RATE_TARGET
from app.enums import ThreadKind, ThreadSource
from app.mailboxes import repository as mailbox_repository
from app.mailboxes import service as mailbox_service
from app.models import ResponseFigures
from app.sla import WAITING_STATES, ThreadState
from app.status import charts
from app.status.masking import mask_subject
from app.threads import activity, queries, stats
from app.threads.forecast import combine, forecast_sentence
from app.threads.queries import MailboxSummary, Responses
from app.threads.repository import ThreadFilter
from app.walmart import rate_service
from app.walmart.rate_service import FigureOrReason

URGENT_ROWS = 10
# The response-time buckets of app.threads.stats as the chart shows them, and their colours.
BUCKET_NAMES = ("< 1 h", "1–4 h", "4–12 h", "12–24 h", "24–48 h", "> 48 h", "no answer")
BUCKET_CSS = ("ok", "ok", "ok", "ok", "warn", "bad", "bad")
WALMART_LINE = RESPONSE_RATE_TARGET["walmart"]  # Walmart's Seller Response Rate standard


class Range(StrEnum):
    DAY = "24h"
    WEEK = "7d"
    MONTH = "30d"

    @property
    def days(self) -> int:
        return {"24h": 1, "7d": 7, "30d": 30}[self.value]


class Level(StrEnum):
    OK = "ok"
    WARN = "warn"
    BAD = "bad"
    NONE = "none"  # nothing to judge yet


@dataclass(frozen=True)
class Tile:
    key: str
    label: str
    value: float | None  # the number the tile shows, for tests and screen readers
    text: str
    level: Level
    note: str = ""


@dataclass(frozen=True)
class UrgentThread:
    thread_id: int
    state: ThreadState
    kind: ThreadKind
    from_spam: bool
    seconds_left: float | None
    subject: str
    customer: str | None  # None on a public page
    order_number: str | None
    mailbox: str


@dataclass(frozen=True)
class MailboxHealth:
    name: str
    healthy: bool
    never_polled: bool
    last_poll_at: datetime | None
    last_success_at: datetime | None
    consecutive_failures: int
    needs_reauthorization: bool
    last_error: str | None  # None on a public page
    walmart_error: str | None = None  # the Walmart API's failure; None on a public page


@dataclass
class Dashboard:
    generated_at: datetime
    range: Range
    mailbox: str | None
    client: str | None
    mailbox_names: list[str]
    clients: list[str]
    public: bool
    zone: ZoneInfo
    tiles: list[Tile]
    forecast: str | None  # where the 30-day rate is heading, in words
    line: float  # the response rate the marketplace wants
    traffic: charts.LineChart
    waiting: charts.LineChart
    distribution: charts.BarChart
    distribution_total: int
    figures_as_of: datetime | None
    urgent: list[UrgentThread]
    more_urgent: bool
    health: list[MailboxHealth]


def _count_level(count: int, when_positive: Level) -> Level:
    return when_positive if count else Level.OK


def _tiles(
    chosen: list[MailboxSummary], responses: Responses, spam_today: int, line: float
) -> list[Tile]:
    def count(states: tuple[ThreadState, ...], kinds: tuple[ThreadKind, ...]) -> int:
        return sum(m.counts[s, k] for m in chosen for s in states for k in kinds)

    every_kind = tuple(ThreadKind)
    waiting = count((ThreadState.WAITING,), every_kind)
    at_risk = count((ThreadState.AT_RISK,), every_kind)
    overdue = count((ThreadState.OVERDUE,), every_kind)
    escalations = count(WAITING_STATES, (ThreadKind.ESCALATION,))
    escalations_late = count((ThreadState.OVERDUE,), (ThreadKind.ESCALATION,))
    oldest = max((m.oldest_waiting_seconds or 0 for m in chosen), default=0) or None
    month = next((r for r in responses.rates if r.days == 30), None)
    rate = month.rate if month else None
    median = responses.median_first_response_seconds
    return [
        Tile("waiting", "Waiting", waiting, str(waiting), Level.OK, "answer within the deadline"),
        Tile("at_risk", "At risk", at_risk, str(at_risk), _count_level(at_risk, Level.WARN)),
        Tile("overdue", "Overdue", overdue, str(overdue), _count_level(overdue, Level.BAD)),
        Tile(
            "escalations",
            "Escalations open",
            escalations,
            str(escalations),
            Level.BAD if escalations_late else _count_level(escalations, Level.WARN),
            f"{escalations_late} overdue" if escalations_late else "Walmart customer care",
        ),
        Tile(
            "spam_today",
            "Found in spam today",
            spam_today,
            str(spam_today),
            _count_level(spam_today, Level.WARN),
            "customer mail the spam filter caught",
        ),
        Tile(
            "response_rate",
            "Response rate 30 d",
            rate,
            "—" if rate is None else f"{rate:.1%}",
            Level.NONE if rate is None else Level.OK if rate >= line else Level.BAD,
            f"the marketplace wants {line:.0%}"
            + (f" · {month.in_time} of {month.decided} in time" if month else ""),
        ),
        Tile(
            "median_first_response",
            "Median first response",
            median,
            "—" if median is None else duration_text(median),
            _hours_level(median),
            "last 30 days",
        ),
        Tile(
            "oldest_waiting",
            "Longest wait",
            oldest,
            "—" if oldest is None else duration_text(oldest),
            _hours_level(oldest),
            "nobody waiting" if oldest is None else "of the customers waiting now",
        ),
    ]


def _walmart_tile(found: FigureOrReason, *, accounts: int, public: bool, zone: ZoneInfo) -> Tile:
    """Walmart's own rate beside slawatch's: of the account furthest from the standard. The
    public view shows the figure, never why it is missing (a Walmart error may name the key)."""
    figure = found.figure
    if figure is None:
        note = "not available" if public else (found.reason or "")
        return Tile("walmart_rate", "Walmart's own rate 30 d", None, "—", Level.NONE, note)
    rate = figure.rate_30d if figure.rate_30d is not None else figure.rate_60d
    days = 30 if figure.rate_30d is not None else 60
    read = figure.fetched_at.astimezone(zone).strftime("%b %d") if figure.fetched_at else "?"
    parts = [f"as Walmart reports it, {read}"]
    if accounts > 1:
        parts.append(f"lowest of {accounts} accounts: {figure.mailbox}")
    if figure.risk_level:
        parts.append(f"risk {figure.risk_level}")
    return Tile(
        "walmart_rate",
        f"Walmart's own rate {days} d",
        rate,
        "—" if rate is None else f"{rate:.1%}",
        Level.NONE if rate is None else Level.OK if rate >= WALMART_LINE else Level.BAD,
        " · ".join(parts),
    )


def _hours_level(seconds: float | None) -> Level:
    if seconds is None:
        return Level.NONE
    hours = seconds / 3600
    return Level.OK if hours < 24 else Level.WARN if hours < 48 else Level.BAD


def _distribution(
    figures: dict[int, ResponseFigures] | None, days: int
) -> tuple[list[int], datetime | None]:
    window = (figures or {}).get(days)
    if window is None:
        return [0] * len(stats.BUCKET_LABELS), None
    counts = list(window.distribution)[: len(stats.BUCKET_LABELS)]
    return counts + [0] * (len(stats.BUCKET_LABELS) - len(counts)), window.computed_at


def build(
    db: Session,
    settings: StatusSettings,
    *,
    range_: Range,
    mailbox: str | None,
    client: str | None,
    now: datetime,
    public: bool,
    rate_targets: dict[int, float],
) -> Dashboard:
    zone = ZoneInfo(settings.timezone)
    known = mailbox_repository.list_mailboxes(db)
    selection = mailbox_service.selection_for(db, mailbox=mailbox, client=client)
    summary = queries.summary(db, now=now, selection=selection)
    chosen = summary.mailboxes
    responses = summary.overall

    local_midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    since = now - timedelta(days=range_.days)
    series = activity.hours(
        db, since=min(since, local_midnight), now=now, mailbox_ids=selection.ids
    )
    spam_today = sum(h.spam_found for h in series if h.start >= local_midnight)
    series = [h for h in series if h.start >= activity.hour_of(since)]
    by_state = {s: sum(m.by_state[s] for m in chosen) for s in ThreadState}
    activity.set_live_sample(series[-1], by_state)
    starts = [h.start for h in series]

    counts, figures_as_of = _distribution(summary.figures.get(selection.scope), range_.days)

    page = queries.page_of_threads(
        db,
        ThreadFilter(states=frozenset(WAITING_STATES), mailbox_ids=selection.ids),
        limit=URGENT_ROWS,
        cursor=None,
        now=now,
    )
    names = {m.id: m.name for m in known}
    walmart = rate_service.figures_of(db, [(m.mailbox_id, m.name) for m in chosen])
    forecast = combine(
        [queries.forecast_of(m, rate_targets[m.mailbox_id]) for m in chosen],
        max((rate_targets[m.mailbox_id] for m in chosen), default=WALMART_LINE),
    )
    tiles = _tiles(chosen, responses, spam_today, forecast.threshold)
    rate_at = next(i for i, t in enumerate(tiles) if t.key == "response_rate") + 1
    tiles.insert(
        rate_at,
        _walmart_tile(
            rate_service.lowest(list(walmart.values())),
            accounts=sum(1 for f in walmart.values() if f.figure is not None),
            public=public,
            zone=zone,
        ),
    )
    return Dashboard(
        generated_at=now,
        range=range_,
        mailbox=mailbox,
        client=client,
        mailbox_names=[m.name for m in known],
        clients=mailbox_service.clients(db),
        public=public,
        zone=zone,
        tiles=tiles,
        forecast=forecast_sentence(forecast, now=now),
        line=forecast.threshold,
        traffic=charts.line_chart(
            starts,
            [
                charts.Series("customer messages in", "in", [h.customer_in for h in series]),
                charts.Series("replies out", "out", [h.replies_out for h in series]),
            ],
            zone=zone,
        ),
        waiting=charts.line_chart(
            starts,
            [
                charts.Series("overdue", "bad", [h.overdue for h in series]),
                charts.Series("at risk", "warn", [h.at_risk for h in series]),
            ],
            zone=zone,
        ),
        distribution=charts.bar_chart(BUCKET_NAMES, counts, BUCKET_CSS),
        distribution_total=sum(counts),
        figures_as_of=figures_as_of,
        urgent=[
            UrgentThread(
                thread_id=t.id,
                state=queries.state_of(t, now),
                kind=t.kind,
                from_spam=t.source == ThreadSource.SPAM,
                seconds_left=(t.due_at - now).total_seconds() if t.due_at else None,
                subject=mask_subject(t.subject) if public else t.subject,
                customer=None if public else t.counterpart,
                order_number=None if public else t.order_number,
                mailbox=names[t.mailbox_id],
            )
            for t in page.threads
        ],
        more_urgent=page.next_cursor is not None,
        health=[
            MailboxHealth(
                name=m.name,
                healthy=m.healthy,
                never_polled=m.last_poll_at is None,
                last_poll_at=m.last_poll_at,
                last_success_at=m.last_success_at,
                consecutive_failures=m.consecutive_failures,
                needs_reauthorization=m.needs_reauthorization,
                last_error=None if public else m.last_error,
                walmart_error=m.walmart_error if m.walmart_failing and not public else None,
            )
            for m in chosen
        ],
    )
