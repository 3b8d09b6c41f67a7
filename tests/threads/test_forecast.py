"""The response-rate forecast: its arithmetic against a count done miss by miss, and the summary
API's forecast over real mail (Dovecot, a poll, the figures job), per mailbox and in total."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings
from app.db import make_read_session_factory, make_session_factory, session_scope
from app.enums import Role
from app.mailboxes import service as mailbox_service
from app.main import create_app
from app.threads import jobs as thread_jobs
from app.threads.forecast import Forecast
from tests.support.imap import ImapAccount
from tests.support.polling import poll
from tests.support.web import auth


def _forecast(decided: int, in_time: int, waiting: int, at_risk: int = 0, line: float = 0.95):
    return Forecast(
        threshold=line,
        window_days=30,
        decided=decided,
        in_time=in_time,
        waiting=waiting,
        at_risk=at_risk,
        at_risk_due_at=None,
    )


def _misses_by_counting(decided: int, in_time: int, waiting: int, line: float) -> int:
    """Miss one more at a time (the waiting first, then customers yet to write), everything
    else answered in time, until the rate would fall below the line."""
    target = Fraction(str(line))
    answered, total = in_time + waiting, decided + waiting
    if total and Fraction(answered, total) < target:
        short = 0  # how many counted misses would have had to be in time to be on the line
        while Fraction(answered + short, total) < target:
            short += 1
        return -short
    misses = 0
    while True:
        if misses < waiting:
            answered_after, total_after = answered - misses - 1, total
        else:
            answered_after, total_after = in_time, total + misses + 1 - waiting
        if Fraction(answered_after, total_after) < target:
            return misses
        misses += 1


def test_the_arithmetic_of_a_seller_near_the_line() -> None:
    forecast = _forecast(decided=100, in_time=96, waiting=3, at_risk=1)
    assert forecast.rate_now == pytest.approx(0.96)
    assert forecast.rate_if_all_answered == pytest.approx(99 / 103)
    assert forecast.rate_if_at_risk_missed == pytest.approx(98 / 103)
    assert forecast.misses_allowed == 1  # 98/103 = 95.1 %; a second miss: 97/103 = 94.2 %
    # Exactly on the line counts as on it: 19 of 20 is 95 %, and one more miss is not.
    assert _forecast(decided=20, in_time=19, waiting=0).misses_allowed == 0
    assert _forecast(decided=20, in_time=19, waiting=0).one_miss_from_the_line
    # Below the line: 90 of 100, even with both waiting answered in time (92 of 102), five of
    # the misses would have had to be in time.
    assert _forecast(decided=100, in_time=90, waiting=2).misses_allowed == -5
    assert _forecast(decided=0, in_time=0, waiting=0).rate_now is None


def test_misses_allowed_matches_a_count_miss_by_miss() -> None:
    rng = random.Random(18)
    for _ in range(3000):
        decided = rng.randint(0, 300)
        in_time = rng.randint(0, decided)
        waiting = rng.randint(0, 20)
        line = rng.choice([0.9, 0.95, 0.99, 0.5])
        assert _forecast(decided, in_time, waiting, line=line).misses_allowed == (
            _misses_by_counting(decided, in_time, waiting, line)
        ), (decided, in_time, waiting, line)


def test_the_summary_forecasts_each_mailbox_and_all_together(
    make_imap_account: Callable[[], ImapAccount],
    session_factory: sessionmaker[Session],
    database_url: str,
    engine: Engine,
    make_token: Callable[[Role], str],
) -> None:
    walmart, amazon = make_imap_account(), make_imap_account()
    settings = Settings(
        database_url=database_url,
        mailboxes=[walmart.settings(), amazon.settings(marketplace="amazon")],
    )
    arrived = datetime.now(UTC)
    # Walmart: Ann answered in an hour; Bea past 48 h unanswered; Cid at risk (40 h); Dot
    # waiting (10 h). Decided 2 (1 in time), waiting 2, one of them at risk.
    walmart.answered("Ann", order="108829272810001", asked_hours_ago=20, answered_hours_ago=19)
    for buyer, hours, order in (
        ("Bea", 50, "108829272810002"),
        ("Cid", 40, "108829272810003"),
        ("Dot", 10, "108829272810004"),
    ):
        walmart.asked(buyer, order=order, hours_ago=hours)
    # Amazon (24 h): Eve answered in two hours, Fay waiting (2 h).
    amazon.answered("Eve", order="108829272810005", asked_hours_ago=5, answered_hours_ago=3)
    amazon.asked("Fay", order="108829272810006", hours_ago=2)

    with session_scope(session_factory) as db:
        mailbox_service.sync_configured(db, settings)
    for account, configured in zip((walmart, amazon), settings.mailboxes, strict=True):
        assert poll(session_factory, configured).ok, account
    thread_jobs.refresh_all(
        read_factory=make_read_session_factory(engine),
        write_factory=make_session_factory(engine),
        now=now(),
    )
    with TestClient(create_app(settings)) as api:
        summary = api.get("/api/v1/summary", headers=auth(make_token(Role.VIEWER))).json()

    by_name = {m["name"]: m["forecast"] for m in summary["mailboxes"]}
    shop = by_name[walmart.settings().name]
    cid_due = arrived - timedelta(hours=40) + timedelta(hours=48)
    assert {k: v for k, v in shop.items() if k != "at_risk_due_at"} == {
        "window_days": 30,
        "threshold": 0.95,
        "rate_now": 0.5,
        "rate_if_all_answered": 0.75,
        "rate_if_at_risk_missed": 0.5,
        "waiting": 2,
        "at_risk": 1,
        "misses_allowed": -1,  # 3 of 4 at best: one miss too many for 95 %
    }
    assert abs(datetime.fromisoformat(shop["at_risk_due_at"]) - cid_due) < timedelta(seconds=2)
    other = by_name[amazon.settings().name]
    assert (other["threshold"], other["rate_now"], other["waiting"], other["at_risk"]) == (
        0.9,
        1.0,
        1,
        0,
    )
    assert other["misses_allowed"] == 0  # 2 of 2 with Fay; one miss: 1 of 2
    together = summary["forecast"]
    assert together["threshold"] == 0.95  # the strictest line of the two
    assert (together["rate_now"], together["waiting"], together["at_risk"]) == (2 / 3, 3, 1)
    assert together["rate_if_all_answered"] == pytest.approx(5 / 6)
    assert together["misses_allowed"] == -1
