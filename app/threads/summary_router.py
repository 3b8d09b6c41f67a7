"""GET /api/v1/summary: counts, response figures, Walmart's own rate and the forecast of the
30-day rate, per mailbox and in total."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.clock import now
from app.deps import SessionDep, SettingsDep, ViewerUser
from app.enums import ThreadKind
from app.mailboxes import registry
from app.mailboxes import service as mailbox_service
from app.sla import ThreadState
from app.threads import queries
from app.threads.forecast import Forecast, combine
from app.walmart import rate_service
from app.walmart.rate_views import WalmartRateOut

router = APIRouter(prefix="/api/v1", tags=["threads"])


class ForecastOut(BaseModel):
    """Where the 30-day response rate is heading, as of the figures' last computation and the
    customers waiting now."""

    window_days: int
    threshold: float = Field(description="the rate the marketplace holds the seller to")
    rate_now: float | None
    rate_if_all_answered: float | None = Field(
        description="every waiting customer answered by their deadline"
    )
    rate_if_at_risk_missed: float | None = Field(
        description="the at-risk customers missed, the other waiting ones answered in time"
    )
    waiting: int = Field(description="customers waiting whose deadline has not passed")
    at_risk: int
    at_risk_due_at: datetime | None = Field(description="the soonest deadline of the at-risk")
    misses_allowed: int = Field(
        description="how many more missed waits keep the rate at or above the threshold "
        "(negative: below it even if every waiting customer is answered in time)"
    )

    @classmethod
    def of(cls, forecast: Forecast) -> ForecastOut:
        return cls(
            window_days=forecast.window_days,
            threshold=forecast.threshold,
            rate_now=forecast.rate_now,
            rate_if_all_answered=forecast.rate_if_all_answered,
            rate_if_at_risk_missed=forecast.rate_if_at_risk_missed,
            waiting=forecast.waiting,
            at_risk=forecast.at_risk,
            at_risk_due_at=forecast.at_risk_due_at,
            misses_allowed=forecast.misses_allowed,
        )


class ResponseRateOut(BaseModel):
    days: int
    decided: int = Field(description="waits answered, or past their deadline unanswered")
    answered_in_time: int
    rate: float | None = Field(description="answered_in_time / decided; Walmart wants > 0.95")


class ResponsesOut(BaseModel):
    response_rates: list[ResponseRateOut]
    median_first_response_seconds: float | None
    p90_first_response_seconds: float | None
    stats_computed_at: datetime | None = Field(description="rates and response times as of")

    @classmethod
    def of(cls, responses: queries.Responses) -> dict[str, Any]:
        return cls(
            response_rates=[
                ResponseRateOut(
                    days=r.days, decided=r.decided, answered_in_time=r.in_time, rate=r.rate
                )
                for r in responses.rates
            ],
            median_first_response_seconds=responses.median_first_response_seconds,
            p90_first_response_seconds=responses.p90_first_response_seconds,
            stats_computed_at=responses.computed_at,
        ).model_dump()


class MailboxSummaryOut(ResponsesOut):
    name: str
    client: str | None
    by_state: dict[ThreadState, int]
    waiting_by_kind: dict[ThreadKind, int]
    oldest_waiting_seconds: float | None
    last_poll_at: datetime | None
    last_success_at: datetime | None
    last_error_at: datetime | None
    last_error: str | None
    needs_reauthorization: bool = Field(
        description="its OAuth2 sign-in was refused: run `slawatch mailboxes authorize NAME`"
    )
    walmart_last_success_at: datetime | None = Field(
        description="the last call to Walmart's Marketplace API (orders) that succeeded"
    )
    walmart_last_error_at: datetime | None
    walmart_last_error: str | None = Field(
        description="why the API's last call failed, while no later call succeeded"
    )
    walmart_rate: WalmartRateOut | None = Field(
        description="Walmart's own Seller Response Rate of this seller account"
    )
    walmart_rate_error: str | None = Field(description="why there is no walmart_rate")
    forecast: ForecastOut


class SummaryOut(ResponsesOut):
    """Totals over all mailboxes (response figures of all of them together), then each one."""

    generated_at: datetime
    by_state: dict[ThreadState, int]
    waiting_by_kind: dict[ThreadKind, int]
    walmart_rate: WalmartRateOut | None = Field(
        description="Walmart's own rate of the seller account furthest from its standard (each "
        "account must meet it on its own)"
    )
    walmart_rate_error: str | None = Field(description="why there is no walmart_rate")
    forecast: ForecastOut = Field(
        description="of these mailboxes together, held to the strictest of their lines"
    )
    mailboxes: list[MailboxSummaryOut]


@router.get("/summary")
def get_summary(
    db: SessionDep,
    _: ViewerUser,
    settings: SettingsDep,
    client: Annotated[str | None, Query(max_length=100)] = None,
) -> SummaryOut:
    """Counts per state and kind, the longest wait, response rates (30 and 60 days) and the
    median and 90th-percentile first response, per mailbox and in total; with `client`, of
    that client's mailboxes only."""
    at = now()
    summary = queries.summary(
        db, now=at, selection=mailbox_service.selection_for(db, client=client)
    )
    walmart = rate_service.figures_of(db, [(m.mailbox_id, m.name) for m in summary.mailboxes])
    lowest = rate_service.lowest(list(walmart.values()))
    targets = registry.rate_targets(db, settings)
    forecasts = {
        m.mailbox_id: queries.forecast_of(m, targets[m.mailbox_id]) for m in summary.mailboxes
    }
    together = combine(list(forecasts.values()), max(targets.values(), default=0.95))
    return SummaryOut(
        generated_at=at,
        by_state=summary.by_state,
        waiting_by_kind=summary.waiting_by_kind,
        walmart_rate=WalmartRateOut.of(lowest),
        walmart_rate_error=lowest.reason,
        **ResponsesOut.of(summary.overall),
        forecast=ForecastOut.of(together),
        mailboxes=[
            MailboxSummaryOut(
                name=m.name,
                client=m.client,
                by_state=m.by_state,
                waiting_by_kind=m.waiting_by_kind,
                oldest_waiting_seconds=m.oldest_waiting_seconds,
                **ResponsesOut.of(m.responses),
                last_poll_at=m.last_poll_at,
                last_success_at=m.last_success_at,
                last_error_at=m.last_error_at,
                last_error=m.last_error,
                needs_reauthorization=m.needs_reauthorization,
                walmart_last_success_at=m.walmart_ok_at,
                walmart_last_error_at=m.walmart_error_at,
                walmart_last_error=m.walmart_error if m.walmart_failing else None,
                walmart_rate=WalmartRateOut.of(walmart[m.mailbox_id]),
                walmart_rate_error=walmart[m.mailbox_id].reason,
                forecast=ForecastOut.of(forecasts[m.mailbox_id]),
            )
            for m in summary.mailboxes
        ],
    )
