"""The channel tests' settings, bound to the local receiver and the test's database."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.alerts.channel_factories import ChannelSettings, channel_settings
from tests.support.chat_receiver import ChatReceiver


@pytest.fixture
def channels(
    chat: ChatReceiver, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> ChannelSettings:
    """``channels(**alerts)``: settings with the Slack, Teams and webhook test channels."""
    return lambda **alerts: channel_settings(database_url, chat, tmp_path, monkeypatch, **alerts)
