"""The threads API end to end: mail with chosen arrival times in Dovecot, polled, listed."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.alerts.jobs import sweep
from app.clock import now
from app.config import Settings
from app.db import make_read_session_factory, make_session_factory
from app.enums import Role, ThreadKind, ThreadSource
from app.mailboxes import repository as mailbox_repository
from app.main import create_app
from app.models import AuditEntry, Thread, ThreadTransition
from app.sla import ThreadState, thread_state
from app.threads import jobs as thread_jobs
from app.threads import repository
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer, message, message_id_of, seller_reply
from tests.support.polling import poll
from tests.support.web import auth


@dataclass
class Scenario:
    api: TestClient
    viewer: str
    agent: str
    settings: Settings
    subjects: dict[str, str]  # label -> subject


HOURS_AGO = {"overdue_50h": 50, "at_risk_47h": 47, "at_risk_40h": 40, "waiting_10h": 10}


@pytest.fixture
def scenario(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    database_url: str,
    make_token: Callable[..., str],
) -> Iterator[Scenario]:
    arrived = datetime.now(UTC)
    subjects = {}
    for i, (label, hours) in enumerate(HOURS_AGO.items()):
        subjects[label] = f"Question {label}"
        order = f"10882927281{i:04d}"
        raw = customer(
            f"Buyer {label}",
            order=order,
            subject=subjects[label],
            body=f"Order #{order}: where is my package? <script>alert(1)</script>",
        )
        imap_account.append("INBOX", [raw], when=arrived - timedelta(hours=hours))
    question = customer("Answered buyer", order="200011419023224", subject="Answered question")
    imap_account.append("INBOX", [question], when=arrived - timedelta(hours=30))
    imap_account.append(
        "Sent",
        [
            seller_reply(
                "Answered buyer", in_reply_to=message_id_of(question), subject="Answered question"
            )
        ],
        when=arrived - timedelta(hours=29),
    )
    subjects["answered"] = "Answered question"
    notice = message(
        sender="mp-payments@relay.walmart.com",
        subject="Payment sent",
        body="Your settlement is on its way.",
    )
    imap_account.append("INBOX", [notice], when=arrived - timedelta(hours=1))
    subjects["informational"] = "Payment sent"
    assert poll(session_factory, imap_account.settings()).ok

    settings = Settings(database_url=database_url, mailboxes=[imap_account.settings()])
    with TestClient(create_app(settings)) as api:
        yield Scenario(api, make_token(Role.VIEWER), make_token(Role.AGENT), settings, subjects)


def subjects_of(response_json: dict) -> list[str]:
    return [item["subject"] for item in response_json["items"]]


def test_each_state_lists_the_right_threads_by_deadline(scenario: Scenario) -> None:
    def listed(query: str) -> list[str]:
        response = scenario.api.get(f"/api/v1/threads{query}", headers=auth(scenario.viewer))
        assert response.status_code == 200, response.text
        return subjects_of(response.json())

    s = scenario.subjects
    assert listed("?state=overdue") == [s["overdue_50h"]]
    assert listed("?state=at_risk") == [s["at_risk_47h"], s["at_risk_40h"]]
    assert listed("?state=waiting") == [s["waiting_10h"]]
    assert listed("?state=answered") == [s["answered"]]
    assert listed("?state=informational") == [s["informational"]]
    assert listed("") == [s["overdue_50h"], s["at_risk_47h"], s["at_risk_40h"], s["waiting_10h"]]
    assert listed("?state=overdue&state=answered") == [s["overdue_50h"], s["answered"]]


def test_items_carry_the_deadline_and_the_time_left(scenario: Scenario) -> None:
    response = scenario.api.get("/api/v1/threads?state=at_risk", headers=auth(scenario.viewer))
    first = response.json()["items"][0]
    assert first["mailbox"] == scenario.settings.mailboxes[0].name
    assert first["kind"] == "customer" and first["source"] == "inbox"
    assert first["counterpart"].endswith("@relay.walmart.com")
    assert first["order_number"] == "108829272810001"
    assert abs(first["time_left_seconds"] - 3600) < 120  # 47 h of 48 gone
    due = datetime.fromisoformat(first["due_at"])
    started = datetime.fromisoformat(first["clock_started_at"])
    assert due.utcoffset() == timedelta(0) and due - started == timedelta(hours=48)
    overdue = scenario.api.get("/api/v1/threads?state=overdue", headers=auth(scenario.viewer))
    assert overdue.json()["items"][0]["time_left_seconds"] < -7000


def test_pages_follow_the_cursor_without_gaps_or_repeats(scenario: Scenario) -> None:
    seen: list[str] = []
    url = "/api/v1/threads?limit=1&state=overdue&state=at_risk&state=waiting&state=answered"
    cursor = None
    for _ in range(10):
        page = scenario.api.get(
            url + (f"&cursor={cursor}" if cursor else ""), headers=auth(scenario.viewer)
        ).json()
        seen += subjects_of(page)
        cursor = page["next_cursor"]
        if cursor is None:
            break
    s = scenario.subjects
    assert seen == [
        s["overdue_50h"],
        s["at_risk_47h"],
        s["at_risk_40h"],
        s["waiting_10h"],
        s["answered"],
    ]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("?state=late", "state"),
        ("?kind=vip", "kind"),
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?cursor=not-a-cursor", "invalid cursor"),
        ("?mailbox=nope", "no mailbox named 'nope'"),
        ("?q=" + "x" * 201, "q"),
    ],
)
def test_bad_queries_get_a_422_with_the_reason(scenario: Scenario, query: str, reason: str) -> None:
    response = scenario.api.get(f"/api/v1/threads{query}", headers=auth(scenario.viewer))
    assert response.status_code == 422
    assert reason in response.text


def test_search_and_filters(scenario: Scenario) -> None:
    by_order = scenario.api.get(
        "/api/v1/threads?q=108829272810002&state=at_risk", headers=auth(scenario.viewer)
    )
    assert subjects_of(by_order.json()) == [scenario.subjects["at_risk_40h"]]
    mailbox = scenario.settings.mailboxes[0].name
    mine = scenario.api.get(f"/api/v1/threads?mailbox={mailbox}", headers=auth(scenario.viewer))
    assert len(mine.json()["items"]) == 4
    none = scenario.api.get("/api/v1/threads?kind=escalation", headers=auth(scenario.viewer))
    assert none.json()["items"] == []


def test_thread_detail_returns_text_never_html(scenario: Scenario) -> None:
    listing = scenario.api.get("/api/v1/threads?state=answered", headers=auth(scenario.viewer))
    thread_id = listing.json()["items"][0]["id"]
    detail = scenario.api.get(f"/api/v1/threads/{thread_id}", headers=auth(scenario.viewer))
    assert detail.status_code == 200
    body = detail.json()
    assert [m["direction"] for m in body["messages"]] == ["in", "out"]
    assert body["state"] == "answered" and body["last_seller_at"]
    assert detail.headers["content-type"] == "application/json"
    overdue = scenario.api.get("/api/v1/threads?state=overdue", headers=auth(scenario.viewer))
    text = scenario.api.get(
        f"/api/v1/threads/{overdue.json()['items'][0]['id']}", headers=auth(scenario.viewer)
    ).json()["messages"][0]["text"]
    assert "<script>alert(1)</script>" in text  # as text, for the client to escape
    assert scenario.api.get(
        "/api/v1/threads/999999", headers=auth(scenario.viewer)
    ).status_code == (404)


def test_close_needs_an_agent_and_a_reason_and_is_audited(
    scenario: Scenario, imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    overdue = scenario.api.get("/api/v1/threads?state=overdue", headers=auth(scenario.viewer))
    thread_id = overdue.json()["items"][0]["id"]
    url = f"/api/v1/threads/{thread_id}/close"
    assert scenario.api.post(
        url, json={"reason": "x"}, headers=auth(scenario.viewer)
    ).status_code == (403)
    assert scenario.api.post(
        url, json={"reason": ""}, headers=auth(scenario.agent)
    ).status_code == (422)
    closed = scenario.api.post(
        url, json={"reason": "Buyer confirmed by phone"}, headers=auth(scenario.agent)
    )
    assert closed.status_code == 200 and closed.json()["state"] == "closed"
    assert scenario.api.post(
        url, json={"reason": "again"}, headers=auth(scenario.agent)
    ).status_code == (409)
    with session_factory() as db:
        entry = db.scalars(select(AuditEntry).where(AuditEntry.action == "thread.close")).one()
        assert entry.detail == {"reason": "Buyer confirmed by phone"}
        assert entry.target_id == str(thread_id) and entry.actor.startswith("agent")

    # The customer writes again: the thread reopens by itself, with a new clock.
    with session_factory() as db:
        thread = db.get(Thread, thread_id)
        assert thread is not None
        counterpart = thread.counterpart
    follow_up = message(sender=counterpart or "", subject=f"Re: {scenario.subjects['overdue_50h']}")
    imap_account.append("INBOX", [follow_up])
    assert poll(session_factory, imap_account.settings()).ok
    again = scenario.api.get(f"/api/v1/threads/{thread_id}", headers=auth(scenario.viewer)).json()
    assert again["state"] == "waiting" and again["closed_at"] is None


def test_reopen_restores_the_clock(scenario: Scenario) -> None:
    overdue = scenario.api.get("/api/v1/threads?state=overdue", headers=auth(scenario.viewer))
    thread_id = overdue.json()["items"][0]["id"]
    base = f"/api/v1/threads/{thread_id}"
    assert scenario.api.post(f"{base}/reopen", headers=auth(scenario.agent)).status_code == 409
    scenario.api.post(f"{base}/close", json={"reason": "spam"}, headers=auth(scenario.agent))
    reopened = scenario.api.post(f"{base}/reopen", headers=auth(scenario.agent))
    assert reopened.status_code == 200 and reopened.json()["state"] == "overdue"


def test_a_complaint_gets_one_hour(scenario: Scenario) -> None:
    waiting = scenario.api.get("/api/v1/threads?state=waiting", headers=auth(scenario.viewer))
    thread_id = waiting.json()["items"][0]["id"]
    marked = scenario.api.post(
        f"/api/v1/threads/{thread_id}/complaint", headers=auth(scenario.agent)
    )
    assert marked.status_code == 200
    assert (marked.json()["kind"], marked.json()["state"]) == ("complaint", "overdue")
    started = datetime.fromisoformat(marked.json()["clock_started_at"])
    assert datetime.fromisoformat(marked.json()["due_at"]) - started == timedelta(hours=1)


def test_summary_counts_match_the_lists(scenario: Scenario, engine: Engine) -> None:
    before = scenario.api.get("/api/v1/summary", headers=auth(scenario.viewer)).json()
    assert before["mailboxes"][0]["response_rates"] == []  # not computed yet: said, not guessed
    thread_jobs.refresh_all(
        read_factory=make_read_session_factory(engine),
        write_factory=make_session_factory(engine),
        now=now(),
    )
    summary = scenario.api.get("/api/v1/summary", headers=auth(scenario.viewer))
    assert summary.status_code == 200
    body = summary.json()
    for state in ThreadState:
        listed = scenario.api.get(
            f"/api/v1/threads?state={state}&limit=100", headers=auth(scenario.viewer)
        ).json()["items"]
        assert body["by_state"][state] == len(listed), state
    (mailbox,) = body["mailboxes"]
    assert mailbox["waiting_by_kind"]["customer"] == 4
    assert 49.9 * 3600 < mailbox["oldest_waiting_seconds"] < 50.1 * 3600
    rate_30 = mailbox["response_rates"][0]
    # Decided: the answered wait (in time) and the overdue one (missed).
    assert (rate_30["days"], rate_30["decided"], rate_30["answered_in_time"]) == (30, 2, 1)
    assert rate_30["rate"] == 0.5
    assert abs(mailbox["median_first_response_seconds"] - 3600) < 5
    assert mailbox["last_success_at"] is not None


def test_sweep_records_each_transition_once(
    scenario: Scenario, session_factory: sessionmaker[Session]
) -> None:
    first = sweep(session_factory, scenario.settings, now=now()).transitions
    assert sorted(t.to_level for t in first) == ["at_risk", "at_risk", "overdue", "waiting"]
    assert sweep(session_factory, scenario.settings, now=now()).transitions == []
    # Ten hours on, the 40-hour thread is overdue and the 10-hour one is not yet at risk.
    later = sweep(session_factory, scenario.settings, now=now() + timedelta(hours=10)).transitions
    assert sorted((t.from_level, t.to_level) for t in later) == [
        ("at_risk", "overdue"),
        ("at_risk", "overdue"),
    ]
    with session_factory() as db:
        assert len(db.scalars(select(ThreadTransition)).all()) == 6


def test_sql_states_agree_with_the_clock_for_random_threads(
    session_factory: sessionmaker[Session], client: TestClient, make_token: Callable[..., str]
) -> None:
    rng = random.Random(7)
    at = now()
    with session_factory.begin() as db:
        mailbox = mailbox_repository.get_or_create_mailbox(db, "random")
        for _ in range(200):
            started = at - timedelta(hours=rng.uniform(0, 60))
            waiting = rng.random() < 0.6
            db.add(
                Thread(
                    mailbox_id=mailbox.id,
                    kind=rng.choice(list(ThreadKind)),
                    source=ThreadSource.INBOX,
                    has_customer_messages=rng.random() < 0.9,
                    clock_started_at=started if waiting else None,
                    due_at=started + timedelta(hours=48) if waiting else None,
                    at_risk_at=started + timedelta(hours=36) if waiting else None,
                    closed_at=at if rng.random() < 0.1 else None,
                )
            )
    with session_factory() as db:
        expected = {
            t.id: thread_state(
                has_customer_messages=t.has_customer_messages,
                closed=t.closed_at is not None,
                due_at=t.due_at,
                at_risk_at=t.at_risk_at,
                now=at,
            )
            for t in db.scalars(select(Thread))
        }
    token = make_token(Role.VIEWER)
    for state in ThreadState:
        ids: list[int] = []
        cursor = None
        while True:
            page = client.get(
                f"/api/v1/threads?state={state}&limit=100"
                + (f"&cursor={cursor}" if cursor else ""),
                headers=auth(token),
            ).json()
            ids += [item["id"] for item in page["items"]]
            assert all(item["state"] == state for item in page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(ids) == sorted(i for i, s in expected.items() if s == state), state


def test_tallies_kept_with_each_change_equal_a_full_recount(
    scenario: Scenario, imap_account: ImapAccount, session_factory: sessionmaker[Session]
) -> None:
    def listed(state: str) -> list[dict]:
        return scenario.api.get(
            f"/api/v1/threads?state={state}", headers=auth(scenario.viewer)
        ).json()["items"]

    overdue, waiting = listed("overdue")[0], listed("waiting")[0]
    scenario.api.post(
        f"/api/v1/threads/{overdue['id']}/close",
        json={"reason": "duplicate"},
        headers=auth(scenario.agent),
    )
    scenario.api.post(f"/api/v1/threads/{waiting['id']}/complaint", headers=auth(scenario.agent))
    answered = listed("answered")[0]
    imap_account.append(
        "INBOX", [message(sender=answered["counterpart"], subject=f"Re: {answered['subject']}")]
    )
    assert poll(session_factory, imap_account.settings()).ok

    def snapshot() -> set[tuple[int, str, str, int]]:
        with session_factory() as db:
            return {
                (t.mailbox_id, t.kind, t.bucket, t.count) for t in repository.tallies(db) if t.count
            }

    kept = snapshot()
    with session_factory.begin() as db:
        repository.rebuild_tallies(db)
    assert kept == snapshot()
    assert "closed" in {bucket for _, _, bucket, _ in kept}
