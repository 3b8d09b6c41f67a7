"""[[alerts.channels]]: what the config accepts, which alerts a channel wants, and check-config
reading each channel's URL (https only, except to a loopback address) without ever printing it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import AlertChannel, AlertSettings
from tests.support.polling import ROOT

SLACK_URL = "https://hooks.slack.com/services/T0001/B0002/s3cr3tT0kenInThePath"


@pytest.mark.parametrize(
    ("channel", "expected"),
    [
        ({"kind": "slack"}, "give url_env"),
        ({"kind": "slack", "url_env": "A", "url_file": "/b"}, "exactly one"),
        ({"kind": "slack", "url_env": "A", "secret_env": "K"}, "sign webhooks only"),
        ({"kind": "webhook", "url_env": "A", "events": ["late"]}, "unknown events ['late']"),
        ({"kind": "discord", "url_env": "A"}, "'slack', 'teams' or 'webhook'"),
        ({"kind": "slack", "url": SLACK_URL}, "Extra inputs are not permitted"),
    ],
)
def test_a_bad_channel_is_refused_naming_the_problem(
    channel: dict[str, object], expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        AlertChannel.model_validate(channel)


def test_channels_need_distinct_names() -> None:
    with pytest.raises(ValidationError, match="repeated: slack:SLACK"):
        AlertSettings.model_validate({"channels": [{"kind": "slack", "url_env": "SLACK"}] * 2})
    named = AlertSettings.model_validate(
        {
            "channels": [
                {"kind": "slack", "url_env": "SLACK", "name": "acme"},
                {"kind": "slack", "url_env": "SLACK", "name": "globex"},
            ]
        }
    )
    assert [c.key for c in named.channels] == ["acme", "globex"]


def test_a_channel_wants_its_events_and_its_mailboxes_or_clients() -> None:
    anything = AlertChannel(kind="slack", url_env="A")
    assert anything.wants(event="cancel_request", mailbox=None, client=None)
    acme = AlertChannel(
        kind="slack",
        url_env="A",
        events=["overdue", "remind_1h", "cancel_request"],
        mailboxes=["store-9"],
        clients=["acme"],
    )
    assert acme.wants(event="overdue", mailbox="store-1", client="acme")
    assert acme.wants(event="cancel_request", mailbox="store-9", client=None)
    assert acme.wants(event="remind_1h", mailbox="store-2", client="acme")
    assert not acme.wants(event="at_risk", mailbox="store-1", client="acme")
    assert not acme.wants(event="overdue", mailbox="store-1", client="globex")
    assert not acme.wants(event="overdue", mailbox=None, client=None)


def check_config(tmp_path: Path, toml: str, **env: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "slawatch.toml").write_text(toml)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLAWATCH_")}
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "check-config"],
        cwd=tmp_path,
        env={**clean, "PYTHONPATH": str(ROOT), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


CHANNEL = '[[alerts.channels]]\nkind = "slack"\nurl_env = "TEAM_SLACK_URL"\n'


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        (None, "environment variable TEAM_SLACK_URL (url_env) is not set"),
        ("http://hooks.example.com/x/s3cr3tT0kenInThePath", "is not https (http only to a"),
        ("ftp://s3cr3tT0kenInThePath", "is not an http(s) URL"),
    ],
)
def test_check_config_exits_2_for_a_channel_url_it_cannot_use_and_never_prints_it(
    tmp_path: Path, url: str | None, problem: str
) -> None:
    result = check_config(tmp_path, CHANNEL, **({"TEAM_SLACK_URL": url} if url else {}))
    assert result.returncode == 2
    assert "alert channel 'slack:TEAM_SLACK_URL'" in result.stderr and problem in result.stderr
    assert "s3cr3tT0ken" not in result.stdout + result.stderr


@pytest.mark.parametrize("url", [SLACK_URL, "http://127.0.0.1:8080/s3cr3tT0kenInThePath"])
def test_check_config_accepts_https_and_loopback_http_without_printing_the_url(
    tmp_path: Path, url: str
) -> None:
    result = check_config(tmp_path, CHANNEL, TEAM_SLACK_URL=url)
    assert result.returncode == 0, result.stderr
    assert "alert channel slack:TEAM_SLACK_URL (slack)" in result.stdout
    assert "s3cr3tT0ken" not in result.stdout + result.stderr
