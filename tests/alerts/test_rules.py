"""Which levels alert whom, and when an alert may go out: the pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from app.alerts.rules import recipients, release_time, retry_delay, thread_alert
from app.config import AlertSettings, MailboxSettings, QuietHours
from app.enums import ThreadKind

C, E, P = ThreadKind.CUSTOMER, ThreadKind.ESCALATION, ThreadKind.COMPLAINT


@pytest.mark.parametrize(
    ("from_level", "to_level", "kind", "expected"),
    [
        (None, "waiting", C, None),
        (None, "waiting", E, ("escalation", False, True)),
        (None, "waiting", P, ("complaint", True, True)),
        ("waiting", "at_risk", C, ("at_risk", False, False)),
        ("waiting", "at_risk", E, ("at_risk", False, True)),
        ("at_risk", "overdue", C, ("overdue", False, True)),
        ("at_risk", "overdue", E, ("overdue", True, True)),
        (None, "overdue", P, ("overdue", True, True)),
        ("waiting", "warn_24h", C, ("warn_24h", False, False)),
        ("at_risk", "remind_6h", C, ("remind_6h", False, False)),
        ("remind_6h", "remind_1h", E, ("remind_1h", False, True)),
        ("waiting", "remind_0.25h", P, ("remind_0.25h", True, True)),
    ],
)
def test_thread_alert_table(from_level, to_level, kind, expected) -> None:  # type: ignore[no-untyped-def]
    rule = thread_alert(from_level=from_level, to_level=to_level, kind=kind)
    assert (rule and (rule.kind, rule.urgent, rule.to_managers)) == expected


def test_recipients_are_the_team_plus_managers_when_asked() -> None:
    team, managers = ["Team@Store.example"], ["boss@store.example", "team@store.example"]
    assert recipients(team=team, managers=managers, to_managers=False) == ["team@store.example"]
    assert recipients(team=team, managers=managers, to_managers=True) == [
        "boss@store.example",
        "team@store.example",
    ]


NIGHT = QuietHours(start=time(22, 0), end=time(7, 0), timezone="America/Chicago")
# 2026-01-15 23:30 in Chicago (CST, UTC-6) is 05:30 UTC the next day.
LATE_EVENING = datetime(2026, 1, 16, 5, 30, tzinfo=UTC)
NEXT_MORNING = datetime(2026, 1, 16, 13, 0, tzinfo=UTC)  # 07:00 CST


def test_non_urgent_alerts_wait_for_the_end_of_quiet_hours() -> None:
    release = release_time(
        now=LATE_EVENING, urgent=False, breach_at=None, quiet=NIGHT, digest_minutes=0
    )
    assert release == NEXT_MORNING


def test_an_alert_for_a_thread_that_breaches_during_quiet_hours_goes_out_at_once() -> None:
    breach = LATE_EVENING + timedelta(hours=3)  # 02:30 in Chicago: before the team is back
    assert (
        release_time(
            now=LATE_EVENING, urgent=False, breach_at=breach, quiet=NIGHT, digest_minutes=0
        )
        == LATE_EVENING
    )


def test_urgent_alerts_ignore_quiet_hours_and_the_digest() -> None:
    assert (
        release_time(now=LATE_EVENING, urgent=True, breach_at=None, quiet=NIGHT, digest_minutes=60)
        == LATE_EVENING
    )


def test_outside_quiet_hours_alerts_go_at_once_or_at_the_next_digest_slot() -> None:
    noon = datetime(2026, 1, 16, 18, 10, tzinfo=UTC)  # 12:10 in Chicago
    assert (
        release_time(now=noon, urgent=False, breach_at=None, quiet=NIGHT, digest_minutes=0) == noon
    )
    assert release_time(
        now=noon, urgent=False, breach_at=None, quiet=NIGHT, digest_minutes=30
    ) == datetime(2026, 1, 16, 18, 30, tzinfo=UTC)


def test_quiet_hours_follow_the_teams_daylight_saving_time() -> None:
    # 2026-07-15 23:30 in Chicago is CDT (UTC-5): quiet hours end at 07:00 CDT = 12:00 UTC.
    summer_night = datetime(2026, 7, 16, 4, 30, tzinfo=UTC)
    assert release_time(
        now=summer_night, urgent=False, breach_at=None, quiet=NIGHT, digest_minutes=0
    ) == datetime(2026, 7, 16, 12, 0, tzinfo=UTC)


def test_retries_back_off_up_to_an_hour() -> None:
    assert [retry_delay(n) for n in (1, 2, 3, 7, 20)] == [
        timedelta(minutes=1),
        timedelta(minutes=2),
        timedelta(minutes=4),
        timedelta(hours=1),
        timedelta(hours=1),
    ]


@pytest.mark.parametrize(
    "address",
    [
        "0123456789ABCDEF0123456789ABCDEF@relay.walmart.com",
        "x@es.relay.walmart.com",
        "buyer@marketplace.amazon.com",
    ],
)
def test_a_customer_relay_address_can_never_be_an_alert_recipient(address: str) -> None:
    with pytest.raises(ValueError, match="relay"):
        AlertSettings(recipients=[address])
    with pytest.raises(ValueError, match="relay"):
        AlertSettings(manager_recipients=[address])
    with pytest.raises(ValueError, match="relay"):
        MailboxSettings(
            name="m",
            host="127.0.0.1",
            security="plain",
            username="u",
            password_env="P",
            seller_addresses=["s@store.example"],
            alert_recipients=[address],
        )
