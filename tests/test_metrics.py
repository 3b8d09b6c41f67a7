"""/metrics as Prometheus reads it: parsed with prometheus_client's parser, matching the summary."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings, StatusSettings
from app.db import make_read_session_factory, make_session_factory
from app.enums import Role
from app.main import create_app
from app.threads import jobs as thread_jobs
from tests.support.imap import ImapAccount
from tests.support.polling import poll
from tests.support.web import auth


def samples(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append((sample.labels, sample.value))
    return found


def ingested(text: str, mailbox: str) -> float:
    return sum(
        v
        for labels, v in samples(text).get("slawatch_messages_ingested_total", [])
        if labels["mailbox"] == mailbox
    )


def test_metrics_match_the_summary(
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    database_url: str,
    engine: Engine,
    make_token: Callable[..., str],
) -> None:
    settings = Settings(database_url=database_url, mailboxes=[imap_account.settings()])
    name = imap_account.settings().name
    imap_account.answered("Ann", order="108829272810001", asked_hours_ago=20, answered_hours_ago=19)
    for hours, buyer, order in (
        (50, "Bea", "108829272810002"),
        (40, "Cid", "108829272810003"),
        (10, "Dot", "108829272810004"),
    ):
        imap_account.asked(buyer, order=order, hours_ago=hours, subject=f"From {buyer}")
    with TestClient(create_app(settings)) as api:
        before = ingested(api.get("/metrics").text, name)
        assert poll(session_factory, imap_account.settings()).ok
        thread_jobs.refresh_all(
            read_factory=make_read_session_factory(engine),
            write_factory=make_session_factory(engine),
            now=now(),
        )
        scraped = api.get("/metrics")
        summary = api.get("/api/v1/summary", headers=auth(make_token(Role.VIEWER))).json()

    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    found = samples(scraped.text)
    (mailbox,) = summary["mailboxes"]
    by_state: dict[str, float] = {}
    for labels, value in found["slawatch_threads"]:
        assert labels["mailbox"] == name
        by_state[labels["state"]] = by_state.get(labels["state"], 0) + value
    assert by_state == {state: float(count) for state, count in mailbox["by_state"].items()}
    assert by_state["overdue"] == 1 and by_state["at_risk"] == 1 and by_state["answered"] == 1
    ((_, oldest),) = found["slawatch_oldest_waiting_seconds"]
    assert oldest == pytest.approx(mailbox["oldest_waiting_seconds"], abs=5)
    rates = {labels["window"]: v for labels, v in found["slawatch_response_rate"]}
    assert rates["30d"] == mailbox["response_rates"][0]["rate"] == 0.5
    assert ingested(scraped.text, name) - before == 5  # this poll's new messages
    assert found["slawatch_mailbox_healthy"] == [({"mailbox": name, "client": ""}, 1.0)]
    month = {
        labels["bucket"]: v
        for labels, v in found["slawatch_first_response_waits"]
        if labels["window"] == "30d"
    }
    # Ann's wait, answered in an hour, and Bea's, overdue and unanswered; the others are in time.
    assert month == {
        "<1h": 0,
        "1-4h": 1,
        "4-12h": 0,
        "12-24h": 0,
        "24-48h": 0,
        ">48h": 0,
        "unanswered overdue": 1,
    }
    assert found["slawatch_poll_duration_seconds_count"]


def test_metrics_need_the_token_when_one_is_configured(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLAWATCH_TEST_METRICS_TOKEN", "scrape-secret-123")
    settings = Settings(
        database_url=database_url,
        status=StatusSettings(metrics_token_env="SLAWATCH_TEST_METRICS_TOKEN"),
    )
    with TestClient(create_app(settings)) as api:
        assert api.get("/metrics").status_code == 401
        assert api.get("/metrics", headers=auth("wrong")).status_code == 401
        ok = api.get("/metrics", headers=auth("scrape-secret-123"))
    assert ok.status_code == 200 and "slawatch_threads" in ok.text
