"""The forecast in words, as the status page says it: each case from a hand-made forecast."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.threads.forecast import Forecast, forecast_sentence

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _say(decided: int, in_time: int, waiting: int, at_risk: int = 0, due_in_hours: float = 5):
    forecast = Forecast(
        threshold=0.95,
        window_days=30,
        decided=decided,
        in_time=in_time,
        waiting=waiting,
        at_risk=at_risk,
        at_risk_due_at=NOW + timedelta(hours=due_in_hours) if at_risk else None,
    )
    return forecast_sentence(forecast, now=NOW)


def test_the_at_risk_who_would_take_the_rate_below_the_line_come_first() -> None:
    # 190 of 200 in time (95 %); 3 at risk and 2 more waiting: missing the 3 gives 192 of 205.
    assert _say(200, 190, 5, at_risk=3) == (
        "Answer these 3 within 5 h 00 min or the 30-day rate falls to 93.7%, below the 95% line."
    )


def test_at_the_line_one_more_miss_is_too_many() -> None:
    assert _say(20, 19, 0) == "One more missed customer takes the 30-day rate below the 95% line."


def test_room_to_spare_says_how_much() -> None:
    # 100 of 100 and one waiting, at risk but harmless: 101 of 101, misses allowed 5.
    assert _say(100, 100, 1, at_risk=1) == (
        "The 30-day rate stays at or above 95% with up to 5 more missed customers."
    )


def test_below_the_line_says_the_best_it_can_be() -> None:
    assert _say(100, 90, 2) == (
        "The 30-day rate is below the 95% line even if every waiting customer is answered in "
        "time (at best 90.2%); it recovers as late answers leave the window."
    )


def test_nothing_decided_and_nobody_waiting_says_nothing() -> None:
    assert _say(0, 0, 0) is None
