"""What the mailbox tests share."""

from __future__ import annotations

import pytest

from app.config import ApiMailboxSettings, MailboxSettings
from tests.support.imap import ImapAccount


def config_mailbox(account: ImapAccount, monkeypatch: pytest.MonkeyPatch) -> MailboxSettings:
    """The account as the config file's mailbox "cfg", its password in a variable of its own: an
    API mailbox may not name a config mailbox's secret."""
    monkeypatch.setenv(f"CFG_{account.password_env}", account.password)
    return account.settings(name="cfg", password_env=f"CFG_{account.password_env}")


# The test accounts' passwords are in SLAWATCH_TEST_* variables.
API_MAILBOXES = ApiMailboxSettings(env_prefix="SLAWATCH_TEST_")
