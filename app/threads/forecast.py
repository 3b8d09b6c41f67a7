"""Where the response rate is heading: the 30-day rate now, if every waiting customer is answered
in time, if the at-risk ones are missed, and how many more misses the rate can take before it
falls below the marketplace's line. Pure arithmetic on counts; exact (fractions), so a rate that
lands on the line is "at or above" it, never off by a rounding."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction

from app.clock import duration_text

WINDOW_DAYS = 30  # the window Walmart's Seller Response Rate is judged on


@dataclass(frozen=True)
class Forecast:
    threshold: float
    window_days: int
    decided: int  # waits of the window answered, or past their deadline unanswered
    in_time: int
    waiting: int  # running clocks not yet past their deadline (at risk included)
    at_risk: int
    at_risk_due_at: datetime | None  # the soonest deadline of the at-risk ones

    @property
    def rate_now(self) -> float | None:
        return _rate(self.in_time, self.decided)

    @property
    def rate_if_all_answered(self) -> float | None:
        """Every waiting customer answered by their deadline."""
        return _rate(self.in_time + self.waiting, self.decided + self.waiting)

    @property
    def rate_if_at_risk_missed(self) -> float | None:
        """The at-risk customers missed, the others answered in time."""
        return _rate(self.in_time + self.waiting - self.at_risk, self.decided + self.waiting)

    @property
    def misses_allowed(self) -> int:
        """How many more missed waits leave the rate at or above the threshold, the waiting ones
        answered in time otherwise: a miss among the waiting takes one off the answered in time,
        a miss beyond them (a customer yet to write) adds one to the decided. Negative, -k: below
        the line even with every waiting customer answered in time; k of the misses already
        counted would have had to be answered in time to be on it."""
        line = Fraction(str(self.threshold))
        answered, decided = self.in_time + self.waiting, self.decided + self.waiting
        among_waiting = math.floor(answered - line * decided)
        if among_waiting < self.waiting:
            return among_waiting
        # Every waiting one missed and still on the line: new customers missed on top of them.
        return self.waiting + math.floor(Fraction(self.in_time) / line - decided)

    @property
    def one_miss_from_the_line(self) -> bool:
        """At or above the line now that every waiting customer is counted in time, and below it
        after one more miss."""
        return self.misses_allowed == 0


def _rate(in_time: int, decided: int) -> float | None:
    return in_time / decided if decided else None


def combine(forecasts: list[Forecast], threshold: float) -> Forecast:
    """Several mailboxes as one (a client's, or all): the counts add up; ``threshold`` is the
    line they are held to together."""
    due = [f.at_risk_due_at for f in forecasts if f.at_risk_due_at is not None]
    return Forecast(
        threshold=threshold,
        window_days=WINDOW_DAYS,
        decided=sum(f.decided for f in forecasts),
        in_time=sum(f.in_time for f in forecasts),
        waiting=sum(f.waiting for f in forecasts),
        at_risk=sum(f.at_risk for f in forecasts),
        at_risk_due_at=min(due, default=None),
    )


def forecast_sentence(forecast: Forecast, *, now: datetime) -> str | None:
    """The forecast in words, the most pressing fact first; None when there is nothing to say
    (no wait decided and nobody waiting)."""
    line = f"{forecast.threshold:.0%}"
    if forecast.rate_now is None and not forecast.waiting:
        return None
    allowed = forecast.misses_allowed
    if allowed < 0:
        best = forecast.rate_if_all_answered
        return (
            f"The 30-day rate is below the {line} line even if every waiting customer is "
            f"answered in time (at best {best:.1%}); it recovers as late answers leave the window."
            if best is not None
            else None
        )
    at_risk_missed = forecast.rate_if_at_risk_missed
    if (
        forecast.at_risk
        and forecast.at_risk_due_at is not None
        and at_risk_missed is not None
        and at_risk_missed < forecast.threshold
    ):
        left = max((forecast.at_risk_due_at - now).total_seconds(), 60)
        these = "this one" if forecast.at_risk == 1 else f"these {forecast.at_risk}"
        return (
            f"Answer {these} within {duration_text(left)} or the 30-day rate falls to "
            f"{at_risk_missed:.1%}, below the {line} line."
        )
    if allowed == 0:
        return f"One more missed customer takes the 30-day rate below the {line} line."
    customers = "customer" if allowed == 1 else "customers"
    return f"The 30-day rate stays at or above {line} with up to {allowed} more missed {customers}."
