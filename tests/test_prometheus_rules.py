"""deploy/prometheus/alerts.yml: valid rules that fire on what slawatch's /metrics really shows.

promtool (Debian's `prometheus` package) checks the rules and the example configuration that
loads them, then evaluates the rules over series taken from a real scrape of slawatch in a known
state (an overdue customer, a rate of 50 %, a mailbox whose poll fails), and over hand-written
series for what a scrape cannot show here (slawatch down, a worker gone, a refused OAuth2 sign-in).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings
from app.db import make_read_session_factory, make_session_factory, session_scope
from app.mailboxes import service as mailbox_service
from app.main import create_app
from app.threads import jobs as thread_jobs
from tests.support.ci import unavailable
from tests.support.imap import ImapAccount
from tests.support.polling import poll
from tests.support.scrape import exposed_names

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
RULES = DEPLOY / "prometheus" / "alerts.yml"
EVAL_AT = timedelta(hours=2)  # past every rule's `for`
SCRAPES = 130  # one a minute, from 0 to past EVAL_AT


@pytest.fixture
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        unavailable("promtool is not installed (Debian package: prometheus)")
    assert found
    return found


def _run(promtool: str, *args: str, cwd: Path) -> str:
    result = subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def _selector(name: str, labels: dict[str, str]) -> str:
    escaped = (v.replace("\\", "\\\\").replace('"', '\\"') for v in labels.values())
    inner = ",".join(f'{k}="{v}"' for k, v in zip(labels, escaped, strict=True))
    return f"{name}{{{inner}}}"


def _series_of(scrape: str, scraped_at: float) -> list[dict[str, str]]:
    """The scrape as promtool input series, each value constant over the test's span.

    promtool's clock starts at 0, so a Unix timestamp is moved by the scrape's own time: at
    EVAL_AT, ``time() - value`` is the age the timestamp had when scraped."""
    series = []
    for family in text_string_to_metric_families(scrape):
        for sample in family.samples:
            value = sample.value
            if sample.name.endswith("_timestamp_seconds"):
                value = value - scraped_at + EVAL_AT.total_seconds()
            series.append(
                {
                    "series": _selector(sample.name, sample.labels),
                    "values": f"{value!r}+0x{SCRAPES}",
                }
            )
    return series


def _alert(name: str, labels: dict[str, str], annotations: dict[str, str]) -> dict[str, Any]:
    return {
        "alertname": name,
        "eval_time": "2h",
        "exp_alerts": [{"exp_labels": labels, "exp_annotations": annotations}],
    }


def _none(name: str) -> dict[str, Any]:
    return {"alertname": name, "eval_time": "2h", "exp_alerts": []}


def _write_test(where: Path, series: list[dict[str, str]], alerts: list[dict[str, Any]]) -> Path:
    shutil.copy(RULES, where / "alerts.yml")
    path = where / "alerts_test.yml"
    test = {
        "rule_files": ["alerts.yml"],
        "evaluation_interval": "1m",
        "tests": [{"interval": "1m", "input_series": series, "alert_rule_test": alerts}],
    }
    path.write_text(yaml.safe_dump(test, sort_keys=False))
    return path


def _description(rule: str) -> str:
    """A rule's description as written (folded YAML), for the expected annotations."""
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    (found,) = [r for g in groups for r in g["rules"] if r.get("alert") == rule]
    description: str = found["annotations"]["description"]
    assert "{{" not in description  # the expectations below take it as it is
    return description


def test_the_rules_and_the_example_configuration_that_loads_them_are_valid(
    promtool: str, tmp_path: Path
) -> None:
    output = _run(promtool, "check", "rules", str(RULES), cwd=tmp_path)
    assert "SUCCESS: 7 rules found" in output
    # The example configuration, with a token file of its own: its rule_files path finds them.
    (tmp_path / "prometheus").mkdir()
    shutil.copy(RULES, tmp_path / "prometheus" / "alerts.yml")
    token = tmp_path / "slawatch-token"
    token.write_text("a-metrics-token\n")
    config = (DEPLOY / "prometheus.yml").read_text(encoding="utf-8")
    assert "/etc/prometheus/slawatch-token" in config
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/slawatch-token", str(token))
    )
    output = _run(promtool, "check", "config", "prometheus.yml", cwd=tmp_path)
    assert "SUCCESS: 7 rules found" in output


def test_the_rules_fire_on_a_real_scrape_of_slawatch(
    promtool: str,
    imap_account: ImapAccount,
    session_factory: sessionmaker[Session],
    database_url: str,
    engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    shop = imap_account.settings(client="acme")
    broken = imap_account.settings(
        name="shop-2", client="acme", password_env="SLAWATCH_TEST_PROMETHEUS_WRONG"
    )
    monkeypatch.setenv("SLAWATCH_TEST_PROMETHEUS_WRONG", "not-the-password")
    settings = Settings(database_url=database_url, mailboxes=[shop, broken])
    imap_account.answered("Ann", order="108829272810001", asked_hours_ago=20, answered_hours_ago=19)
    imap_account.asked("Bea", order="108829272810002", hours_ago=50)
    with session_scope(session_factory) as db:
        mailbox_service.sync_configured(db, settings)  # as the worker does when it starts
    with TestClient(create_app(settings)) as api:
        assert poll(session_factory, shop).ok
        assert not poll(session_factory, broken).ok
        thread_jobs.refresh_all(
            read_factory=make_read_session_factory(engine),
            write_factory=make_session_factory(engine),
            now=now(),
        )
        scraped_at = time.time()
        scrape = api.get("/metrics")
    assert scrape.status_code == 200

    series = [
        *_series_of(scrape.text, scraped_at),
        {"series": 'up{job="slawatch",instance="slawatch:8000"}', "values": f"1+0x{SCRAPES}"},
    ]
    who = {"mailbox": shop.name, "client": "acme"}
    alerts = [
        _alert(
            "SlawatchOverdueThreads",
            {**who, "severity": "critical"},
            {
                "summary": f"1 customer(s) of {shop.name} waited past the deadline",
                "description": _description("SlawatchOverdueThreads"),
            },
        ),
        # Ann answered in time, Bea not: 50 %.
        _alert(
            "SlawatchResponseRateBelowTarget",
            {**who, "window": "30d", "severity": "warning"},
            {
                "summary": f"30-day response rate of {shop.name} is 50%",
                "description": _description("SlawatchResponseRateBelowTarget"),
            },
        ),
        _alert(
            "SlawatchMailboxFailing",
            {"mailbox": "shop-2", "client": "acme", "severity": "warning"},
            {
                "summary": "Mailbox shop-2 is not being polled",
                "description": _description("SlawatchMailboxFailing"),
            },
        ),
        # Polled a moment ago, up, signed in with a password: nothing else fires.
        _none("SlawatchMailboxStale"),
        _none("SlawatchMailboxNeedsReauthorization"),
        _none("SlawatchDown"),
        _none("SlawatchMetricsMissing"),
    ]
    output = _run(
        promtool, "test", "rules", str(_write_test(tmp_path, series, alerts)), cwd=tmp_path
    )
    assert "SUCCESS" in output


def test_the_rules_fire_when_slawatch_or_its_worker_stops(promtool: str, tmp_path: Path) -> None:
    """What a scrape of a running slawatch cannot show: the target down, the last successful
    poll getting old (the worker stopped), a sign-in refused; and the 96 % of a Walmart
    mailbox that is above its line next to the 93 % of one that is not."""
    labels = 'mailbox="shop",client="acme"'
    series = [
        {"series": 'up{job="slawatch",instance="slawatch:8000"}', "values": "1x30 0x100"},
        # Polled until minute 60, then never again (the worker died; the gauge stays).
        {
            "series": f"slawatch_mailbox_last_success_timestamp_seconds{{{labels}}}",
            "values": "0+60x60 3600x70",
        },
        {"series": f"slawatch_mailbox_healthy{{{labels}}}", "values": "1x130"},
        {
            "series": f"slawatch_mailbox_needs_reauthorization{{{labels}}}",
            "values": "0x100 1x30",
        },
        {"series": f'slawatch_response_rate{{{labels},window="30d"}}', "values": "0.96x130"},
        {"series": f"slawatch_response_rate_target{{{labels}}}", "values": "0.95x130"},
        {
            "series": 'slawatch_response_rate{mailbox="other",client="acme",window="30d"}',
            "values": "0.93x130",
        },
        {
            "series": 'slawatch_response_rate_target{mailbox="other",client="acme"}',
            "values": "0.95x130",
        },
    ]
    shop = {"mailbox": "shop", "client": "acme"}
    alerts = [
        _alert(
            "SlawatchDown",
            {"job": "slawatch", "instance": "slawatch:8000", "severity": "critical"},
            {
                "summary": "slawatch at slawatch:8000 does not answer Prometheus",
                "description": _description("SlawatchDown"),
            },
        ),
        # At 2 h the last success is an hour old.
        _alert(
            "SlawatchMailboxStale",
            {**shop, "severity": "warning"},
            {
                "summary": "Mailbox shop has not been polled for 1h 0m 0s",
                "description": _description("SlawatchMailboxStale"),
            },
        ),
        _alert(
            "SlawatchMailboxNeedsReauthorization",
            {**shop, "severity": "critical"},
            {
                "summary": "Mailbox shop must be authorised again",
                "description": (
                    "The mail provider refused slawatch's OAuth2 sign-in; polling stops until a "
                    "person runs `slawatch mailboxes authorize shop`."
                ),
            },
        ),
        _alert(
            "SlawatchResponseRateBelowTarget",
            {"mailbox": "other", "client": "acme", "window": "30d", "severity": "warning"},
            {
                "summary": "30-day response rate of other is 93%",
                "description": _description("SlawatchResponseRateBelowTarget"),
            },
        ),
        _none("SlawatchMailboxFailing"),
        _none("SlawatchMetricsMissing"),
    ]
    output = _run(
        promtool, "test", "rules", str(_write_test(tmp_path, series, alerts)), cwd=tmp_path
    )
    assert "SUCCESS" in output


def test_a_missing_target_is_noticed(promtool: str, tmp_path: Path) -> None:
    series = [{"series": 'other_up{job="node"}', "values": "1x130"}]
    alerts = [
        _alert(
            "SlawatchMetricsMissing",
            {"job": "slawatch", "severity": "critical"},
            {
                "summary": "Prometheus has no slawatch target",
                "description": _description("SlawatchMetricsMissing"),
            },
        )
    ]
    output = _run(
        promtool, "test", "rules", str(_write_test(tmp_path, series, alerts)), cwd=tmp_path
    )
    assert "SUCCESS" in output


def test_every_metric_the_rules_use_is_one_slawatch_exposes(client: TestClient) -> None:
    used = set(re.findall(r"slawatch_[a-z0-9_]+", RULES.read_text(encoding="utf-8")))
    missing = sorted(used - exposed_names(client.get("/metrics").text))
    assert not missing, f"the rules use metrics /metrics does not expose: {missing}"
