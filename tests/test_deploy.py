"""deploy/: the Grafana dashboard and the Prometheus example match what /metrics really exposes."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from fastapi.testclient import TestClient

from app.config import load_settings
from tests.support.scrape import exposed_names

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
DASHBOARD_PATH = DEPLOY / "grafana" / "slawatch-dashboard.json"
PROMETHEUS_PATH = DEPLOY / "prometheus.yml"
METRIC_NAME = re.compile(r"slawatch_[a-z0-9_]+")
DATASOURCE = "${DS_PROMETHEUS}"


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD_PATH.read_text(encoding="utf-8"))
    return loaded


def prometheus_config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(PROMETHEUS_PATH.read_text(encoding="utf-8"))
    return loaded


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, those inside collapsed rows included."""
    for panel in board["panels"]:
        yield panel
        yield from panel.get("panels", [])


def queries(board: dict[str, Any]) -> list[str]:
    """Every PromQL expression: the panels' targets and the template variables' queries."""
    found = [target["expr"] for panel in panels(board) for target in panel.get("targets", [])]
    for variable in board["templating"]["list"]:
        query = variable.get("query")
        found.append(query["query"] if isinstance(query, dict) else query or "")
    return found


def test_dashboard_is_an_importable_grafana_dashboard() -> None:
    board = dashboard()
    assert board["schemaVersion"] == 39
    assert board["uid"] == "slawatch"
    assert board["title"] == "slawatch — customer-message SLA"
    assert board["refresh"] == "1m"
    assert board["time"] == {"from": "now-24h", "to": "now"}
    assert board["id"] is None  # Grafana assigns one on import
    (source,) = board["__inputs"]
    assert source["name"] == "DS_PROMETHEUS"
    assert (source["type"], source["pluginId"]) == ("datasource", "prometheus")
    panel_ids = [panel["id"] for panel in panels(board)]
    assert len(panel_ids) == len(set(panel_ids))


def test_every_panel_has_a_title_a_datasource_and_a_query() -> None:
    board = dashboard()
    assert list(panels(board))
    for panel in panels(board):
        assert panel.get("title"), panel
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE}, panel["title"]
        assert panel.get("targets"), panel["title"]
        ref_ids = [target["refId"] for target in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target.get("datasource", panel["datasource"])["uid"] == DATASOURCE


def test_client_and_mailbox_variables_filter_every_panel() -> None:
    variables = {v["name"]: v for v in dashboard()["templating"]["list"]}
    assert list(variables) == ["client", "mailbox"]  # the mailbox list follows the client
    assert variables["client"]["query"]["query"] == "label_values(slawatch_threads, client)"
    assert variables["mailbox"]["query"]["query"] == (
        'label_values(slawatch_threads{client=~"$client"}, mailbox)'
    )
    for variable in variables.values():
        assert variable["type"] == "query" and variable["datasource"]["uid"] == DATASOURCE
        assert variable["multi"] is True and variable["includeAll"] is True
    per_mailbox = [q for q in queries(dashboard()) if "label_values" not in q and "mailbox" in q]
    assert per_mailbox and all('mailbox=~"$mailbox"' in q for q in per_mailbox)


def test_the_dashboard_queries_only_metrics_that_metrics_exposes(client: TestClient) -> None:
    response = client.get(prometheus_config()["scrape_configs"][0]["metrics_path"])
    assert response.status_code == 200
    exposed = exposed_names(response.text)
    assert {"slawatch_threads", "slawatch_alerts_total"} <= exposed  # the scrape is read

    used = {name for expr in queries(dashboard()) for name in METRIC_NAME.findall(expr)}
    assert "slawatch_poll_duration_seconds_bucket" in used
    missing = sorted(used - exposed)
    assert not missing, f"the dashboard queries metrics that /metrics does not expose: {missing}"


def test_prometheus_example_scrapes_slawatch() -> None:
    config = prometheus_config()
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "slawatch"]
    assert job["metrics_path"] == "/metrics"
    assert job["scrape_interval"] == "30s"
    assert job["static_configs"] == [{"targets": ["slawatch:8000"]}]
    assert job["authorization"] == {
        "type": "Bearer",
        "credentials_file": "/etc/prometheus/slawatch-token",
    }


def test_compose_runs_postgres_an_api_and_two_workers_on_the_example_config() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert services["api"]["command"][:3] == ["slawatch", "serve", "--no-scheduler"]
    assert services["worker"]["command"] == ["slawatch", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["slawatch", "migrate"]
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        url = services[name]["environment"]["SLAWATCH_DATABASE_URL"]
        assert url.startswith("postgresql://") and "@postgres:5432/" in url
    # The example config it mounts is valid, and names its secrets by file, never inline: the
    # password mailbox's password, and the key of the OAuth2 mailbox's stored tokens.
    settings = load_settings(DEPLOY / "slawatch.toml")
    by_auth = {m.auth: m for m in settings.mailboxes}
    assert set(by_auth) == {"password", "oauth2"}
    assert by_auth["oauth2"].smtp_host == "smtp.office365.com"
    secret_paths = {f"/run/secrets/{name}" for name in compose["secrets"]}
    assert by_auth["password"].password_file in secret_paths
    assert settings.token_key_file in secret_paths
