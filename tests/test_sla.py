"""The SLA clock as pure functions: every case a seller's team would ask about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.config import COMPLAINT_POLICY, KindPolicy, SlaSettings
from app.enums import Classification
from app.sla import (
    ClockMessage,
    ThreadState,
    arrival_time,
    clock_from,
    episodes,
    running_clock,
    thread_state,
)

WALMART = KindPolicy(response_hours=48, at_risk_hours=12)
C, S, A, E = (
    Classification.CUSTOMER,
    Classification.SELLER,
    Classification.AUTOMATED,
    Classification.ESCALATION,
)
T0 = datetime(2026, 3, 6, 15, 0, tzinfo=UTC)  # a Friday


def msgs(*items: tuple[float, Classification]) -> list[ClockMessage]:
    """(hours after T0, classification) pairs."""
    return [ClockMessage(T0 + timedelta(hours=h), c) for h, c in items]


def state_at(
    messages: list[ClockMessage], hours: float, policy: KindPolicy = WALMART, closed: bool = False
) -> ThreadState:
    clock = running_clock(episodes(messages, policy), policy)
    return thread_state(
        has_customer_messages=any(m.classification in (C, E) for m in messages),
        closed=closed,
        due_at=None if closed or clock is None else clock.due_at,
        at_risk_at=None if closed or clock is None else clock.at_risk_at,
        now=T0 + timedelta(hours=hours),
    )


def test_first_customer_message_starts_a_48_hour_clock() -> None:
    clock = running_clock(episodes(msgs((0, C)), WALMART), WALMART)
    assert clock is not None
    assert (clock.started_at, clock.due_at) == (T0, T0 + timedelta(hours=48))
    assert clock.at_risk_at == T0 + timedelta(hours=36)


@pytest.mark.parametrize(
    ("hours", "expected"),
    [
        (0, "waiting"),
        (35.99, "waiting"),
        (36, "at_risk"),
        (47.99, "at_risk"),
        (48, "overdue"),
        (500, "overdue"),
    ],
)
def test_waiting_then_at_risk_then_overdue(hours: float, expected: str) -> None:
    assert state_at(msgs((0, C)), hours) == expected


def test_a_seller_reply_answers_and_stops_the_clock() -> None:
    thread = msgs((0, C), (5, S))
    assert state_at(thread, 100) == ThreadState.ANSWERED
    (wait,) = episodes(thread, WALMART)
    assert wait.answered_at == T0 + timedelta(hours=5) and wait.answered_in_time


def test_a_new_customer_message_after_the_reply_starts_a_new_clock() -> None:
    thread = msgs((0, C), (5, S), (30, C))
    clock = running_clock(episodes(thread, WALMART), WALMART)
    assert clock is not None and clock.started_at == T0 + timedelta(hours=30)
    assert state_at(thread, 70) == ThreadState.AT_RISK  # 40 h into the new wait
    assert len(episodes(thread, WALMART)) == 2


def test_several_customer_messages_before_a_reply_count_from_the_first() -> None:
    thread = msgs((0, C), (10, C), (20, C))
    clock = running_clock(episodes(thread, WALMART), WALMART)
    assert clock is not None and clock.started_at == T0
    assert state_at(thread, 49) == ThreadState.OVERDUE
    assert state_at(thread + msgs((60, S)), 61) == ThreadState.ANSWERED
    (late,) = episodes(thread + msgs((60, S)), WALMART)
    assert not late.answered_in_time


def test_seller_only_and_automated_only_threads_are_informational() -> None:
    assert state_at(msgs((0, S)), 100) == ThreadState.INFORMATIONAL
    assert state_at(msgs((0, A), (1, A)), 100) == ThreadState.INFORMATIONAL
    assert episodes(msgs((0, S), (1, A)), WALMART) == []


def test_automated_messages_neither_start_nor_stop_a_clock() -> None:
    # A vacation auto-reply (automated, even from the seller) is no answer.
    thread = msgs((0, C), (0.01, A), (49, A))
    assert state_at(thread, 50) == ThreadState.OVERDUE


def test_an_escalation_starts_a_clock_like_a_customer() -> None:
    assert state_at(msgs((0, E)), 40) == ThreadState.AT_RISK


def test_a_reply_at_the_same_instant_answers_the_question() -> None:
    assert state_at(msgs((3, C), (3, S)), 100) == ThreadState.ANSWERED


def test_order_of_input_does_not_matter() -> None:
    thread = msgs((30, C), (5, S), (0, C))
    assert running_clock(episodes(thread, WALMART), WALMART).started_at == T0 + timedelta(hours=30)


def test_weekends_count_in_full() -> None:
    friday_evening = datetime(2026, 3, 6, 22, 0, tzinfo=UTC)
    clock = clock_from(friday_evening, WALMART)
    assert clock.due_at == datetime(2026, 3, 8, 22, 0, tzinfo=UTC)  # Sunday, same time


def test_a_dst_change_does_not_bend_the_deadline() -> None:
    # US DST began 2026-03-08 02:00 in New York: wall clocks jump an hour, the deadline does not.
    new_york = ZoneInfo("America/New_York")
    arrived = datetime(2026, 3, 7, 12, 0, tzinfo=new_york)  # Saturday noon EST
    clock = clock_from(arrived.astimezone(UTC), WALMART)
    assert clock.due_at - clock.started_at == timedelta(hours=48)
    assert clock.due_at.astimezone(new_york).hour == 13  # Monday 13:00 EDT, 48 real hours later


def test_arrival_is_the_servers_internaldate_even_for_mail_found_in_spam() -> None:
    internal = T0
    date_header = T0 + timedelta(hours=-3)
    stored = T0 + timedelta(hours=20)  # rescued from spam 20 h later: the wait already counts
    assert arrival_time(internal_date=internal, date_header=date_header, stored_at=stored) == T0


def test_missing_internaldate_falls_back_to_the_date_header_then_to_storage_time() -> None:
    stored = T0 + timedelta(hours=1)
    assert arrival_time(internal_date=None, date_header=T0, stored_at=stored) == T0
    assert arrival_time(internal_date=None, date_header=None, stored_at=stored) == stored


def test_a_date_header_in_the_future_is_never_used() -> None:
    stored = T0
    future = T0 + timedelta(days=2)
    assert arrival_time(internal_date=None, date_header=future, stored_at=stored) == stored


def test_a_complaint_has_one_hour() -> None:
    thread = msgs((0, E))
    assert state_at(thread, 0.4, COMPLAINT_POLICY) == ThreadState.WAITING
    assert state_at(thread, 0.6, COMPLAINT_POLICY) == ThreadState.AT_RISK
    assert state_at(thread, 1.01, COMPLAINT_POLICY) == ThreadState.OVERDUE


def test_closed_threads_stay_closed_until_reopened() -> None:
    thread = msgs((0, C))
    assert state_at(thread, 60, closed=True) == ThreadState.CLOSED
    assert state_at(thread, 60, closed=False) == ThreadState.OVERDUE


def test_warning_levels_are_crossed_in_time_order() -> None:
    policy = KindPolicy(response_hours=48, at_risk_hours=12, warn_after_hours=[44, 24])
    clock = clock_from(T0, policy)
    assert [level for _, level in clock.events()] == ["warn_24h", "at_risk", "warn_44h", "overdue"]
    assert clock.level_at(T0 + timedelta(hours=23)) == "waiting"
    assert clock.level_at(T0 + timedelta(hours=25)) == "warn_24h"
    assert clock.level_at(T0 + timedelta(hours=45)) == "warn_44h"
    assert clock.next_change_after(T0 + timedelta(hours=25)) == T0 + timedelta(hours=36)
    assert clock.next_change_after(T0 + timedelta(hours=48)) is None


def test_reminders_come_before_the_deadline_and_at_risk_wins_a_tie() -> None:
    policy = KindPolicy(
        response_hours=48, at_risk_hours=12, warn_after_hours=[36], remind_before_hours=[1, 6, 12]
    )
    clock = clock_from(T0, policy)
    # warn_36h and remind_12h fall on the at-risk moment: at risk is the level reached then.
    assert [level for _, level in clock.events()] == [
        "remind_12h",
        "warn_36h",
        "at_risk",
        "remind_6h",
        "remind_1h",
        "overdue",
    ]
    assert clock.level_at(T0 + timedelta(hours=36)) == "at_risk"
    assert clock.level_at(T0 + timedelta(hours=42)) == "remind_6h"
    assert clock.level_at(T0 + timedelta(hours=47, minutes=30)) == "remind_1h"
    assert clock.next_change_after(T0 + timedelta(hours=42)) == T0 + timedelta(hours=47)


def test_a_reminder_outside_the_window_is_refused() -> None:
    with pytest.raises(ValueError, match=r"remind_before_hours \[48.0\] must lie between"):
        KindPolicy(response_hours=48, at_risk_hours=12, remind_before_hours=[6, 48])
    sla = SlaSettings.model_validate({"remind_before_hours": [6, 2, 1]})
    assert sla.policy("walmart", "customer").remind_before_hours == [6, 2, 1]
    assert sla.policy("amazon", "customer").remind_before_hours == []


def test_policy_table_presets_and_overrides() -> None:
    sla = SlaSettings.model_validate(
        {"marketplaces": {"walmart": {"escalation": {"response_hours": 24, "at_risk_hours": 6}}}}
    )
    assert sla.policy("walmart", "customer").response_hours == 48
    assert sla.policy("walmart", "escalation").response_hours == 24
    assert sla.policy("walmart", "complaint").response_hours == 1
    assert sla.policy("amazon", "customer").response_hours == 24
    assert sla.policy("amazon", "escalation").response_hours == 24


def test_closing_counts_in_walmart_rate_not_amazon_unless_configured() -> None:
    presets = SlaSettings()
    assert presets.close_counts_in_rate("walmart") is True  # "all messages require a response"
    assert presets.close_counts_in_rate("amazon") is False  # "no response needed" removes it
    configured = SlaSettings.model_validate(
        {
            "marketplaces": {
                "walmart": {"close_counts_in_rate": False},
                "bestbuy": {"customer": {"response_hours": 24, "at_risk_hours": 6}},
            }
        }
    )
    assert configured.close_counts_in_rate("walmart") is False
    assert configured.close_counts_in_rate("amazon") is False
    assert configured.close_counts_in_rate("bestbuy") is True  # a rate is not flattered by closing
    assert configured.policy("walmart", "customer").response_hours == 48


def test_an_answer_outside_the_mailbox_answers_the_wait_it_falls_in() -> None:
    waits = episodes(
        [
            ClockMessage(T0, C),
            ClockMessage(T0 + timedelta(hours=50), S, "phone"),  # late
            ClockMessage(T0 + timedelta(hours=60), C),
            ClockMessage(T0 + timedelta(hours=61), S),  # by mail, in time
        ],
        WALMART,
    )
    assert [(w.answered_channel, w.answered_in_time) for w in waits] == [
        ("phone", False),
        (None, True),
    ]
