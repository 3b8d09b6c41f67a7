"""A mailbox's Walmart API credentials: the client id, the secret named (never written), the API's
URL (https, or http only to this machine); for a mailbox created through the API, the same rules
as its other secrets and servers."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.config import ApiMailboxSettings, MailboxSettings, Settings, load_settings
from app.errors import ConfigError
from app.mailboxes.rules import ApiMailbox, problems
from tests.support.walmart_api import CLIENT_ID
from tests.test_config import MAILBOX, clean_env  # noqa: F401  (clean_env: autouse)

BASE = {
    "name": "store-1",
    "host": "imap.example.com",
    "username": "support@store.example",
    "password_env": "STORE1_PASS",
}


def test_credentials_from_the_config_file_with_the_default_api(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "slawatch.toml").write_text(
        MAILBOX + f'walmart_client_id = "{CLIENT_ID}"\nwalmart_client_secret_env = "WM_SECRET"\n'
    )
    mailbox = load_settings().mailboxes[0]
    assert mailbox.has_walmart_api
    assert mailbox.walmart_api_url == "https://marketplace.walmartapis.com"
    monkeypatch.setenv("WM_SECRET", "s3cret")
    assert mailbox.walmart_client_secret().get_secret_value() == "s3cret"
    assert "s3cret" not in repr(mailbox) and "s3cret" not in mailbox.model_dump_json()
    assert not MailboxSettings(**BASE).has_walmart_api


def test_the_secret_from_a_file(tmp_path: Path) -> None:
    secret = tmp_path / "walmart_secret"
    secret.write_text("from-a-file\n")
    mailbox = MailboxSettings(
        **BASE, walmart_client_id=CLIENT_ID, walmart_client_secret_file=str(secret)
    )
    assert mailbox.walmart_client_secret().get_secret_value() == "from-a-file"
    secret.write_text("")
    with pytest.raises(ConfigError, match="walmart_client_secret_file .* is empty"):
        mailbox.walmart_client_secret()


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            'walmart_client_id = "x"\nwalmart_client_secret_env = "S"\n'
            'walmart_api_url = "http://walmart.example"\n',
            "mailboxes[0].walmart_api_url",
        ),
        ('walmart_client_id = "x"\n', "walmart_client_id needs the client secret's source"),
        ('walmart_client_secret_env = "S"\n', "a Walmart client secret needs walmart_client_id"),
        (
            'walmart_client_id = "x"\nwalmart_client_secret_env = "S"\n'
            'walmart_client_secret_file = "/run/s"\n',
            "give walmart_client_secret_env or walmart_client_secret_file, not both",
        ),
        ('walmart_client_secret = "in-clear"\n', "walmart_client_secret"),
        (
            'walmart_webhook_secret_env = "H"\nwalmart_webhook_secret_file = "/run/h"\n',
            "give walmart_webhook_secret_env or walmart_webhook_secret_file, not both",
        ),
        ('walmart_webhook_secret = "in-clear"\n', "walmart_webhook_secret"),
    ],
)
def test_bad_credentials_name_the_key(tmp_path: Path, extra: str, expected: str) -> None:
    (tmp_path / "slawatch.toml").write_text(MAILBOX + extra)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert expected in str(raised.value)
    assert "in-clear" not in str(raised.value)


def test_plain_http_only_to_this_machine() -> None:
    with pytest.raises(ValidationError, match="http only to a loopback address"):
        MailboxSettings(
            **BASE,
            walmart_client_id="x",
            walmart_client_secret_env="S",
            walmart_api_url="http://10.0.0.8:8080",
        )
    local = MailboxSettings(
        **BASE,
        walmart_client_id="x",
        walmart_client_secret_env="S",
        walmart_api_url="http://127.0.0.1:8080/",
    )
    assert local.walmart_api_url == "http://127.0.0.1:8080"


def test_an_api_mailbox_reads_its_walmart_secret_only_within_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLAWATCH_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("SLAWATCH_MAILBOX_WM", "allowed")
    settings = Settings(api_mailboxes=ApiMailboxSettings(allow_private_hosts=True))
    values = {**BASE, "password_env": "SLAWATCH_MAILBOX_PW", "walmart_client_id": "x"}
    forbidden = ApiMailbox.load(
        {**values, "walmart_client_secret_env": "SLAWATCH_DATABASE_URL"}, settings
    )
    with pytest.raises(ConfigError, match="walmart_client_secret_env: SLAWATCH_DATABASE_URL holds"):
        forbidden.walmart_client_secret()
    allowed = ApiMailbox.load(
        {**values, "walmart_client_secret_env": "SLAWATCH_MAILBOX_WM"}, settings
    )
    assert allowed.walmart_client_secret().get_secret_value() == "allowed"


def test_an_api_mailbox_may_not_point_the_api_at_a_private_address() -> None:
    settings = Settings(
        database_url="sqlite:///x.db",
        api_mailboxes=ApiMailboxSettings(allow_private_hosts=False),
    )
    mailbox = MailboxSettings(
        **{**BASE, "host": "8.8.8.8", "password_env": "SLAWATCH_MAILBOX_PW"},
        walmart_client_id="x",
        walmart_client_secret_env="SLAWATCH_MAILBOX_WM",
        walmart_api_url="http://127.0.0.1:9",
    )
    assert any(
        p.startswith("walmart_api_url: 127.0.0.1 is a loopback address")
        for p in problems(mailbox, settings)
    )


def test_the_webhook_secret_is_named_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not MailboxSettings(**BASE).receives_walmart_webhooks
    monkeypatch.setenv("WM_HOOK", "hook-secret")
    by_env = MailboxSettings(**BASE, walmart_webhook_secret_env="WM_HOOK")
    assert by_env.receives_walmart_webhooks  # no API credentials needed to receive them
    assert by_env.walmart_webhook_secret().get_secret_value() == "hook-secret"
    assert "hook-secret" not in by_env.model_dump_json()
    secret = tmp_path / "hook"
    secret.write_text("from-a-file\n")
    by_file = MailboxSettings(**BASE, walmart_webhook_secret_file=str(secret))
    assert by_file.walmart_webhook_secret().get_secret_value() == "from-a-file"
    monkeypatch.delenv("WM_HOOK")
    with pytest.raises(ConfigError, match="WM_HOOK \\(walmart_webhook_secret_env\\) is not set"):
        by_env.walmart_webhook_secret()


def test_an_api_mailbox_reads_its_webhook_secret_only_within_the_rules(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLAWATCH_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("SLAWATCH_MAILBOX_HOOK", "allowed")
    settings = Settings(api_mailboxes=ApiMailboxSettings(allow_private_hosts=True))
    values = {**BASE, "password_env": "SLAWATCH_MAILBOX_PW"}
    forbidden = ApiMailbox.load(
        {**values, "walmart_webhook_secret_env": "SLAWATCH_DATABASE_URL"}, settings
    )
    with pytest.raises(ConfigError, match="walmart_webhook_secret_env: SLAWATCH_DATABASE_URL"):
        forbidden.walmart_webhook_secret()
    allowed = ApiMailbox.load(
        {**values, "walmart_webhook_secret_env": "SLAWATCH_MAILBOX_HOOK"}, settings
    )
    assert allowed.walmart_webhook_secret().get_secret_value() == "allowed"


def test_a_cancellation_request_has_its_own_policy(tmp_path: Path) -> None:
    (tmp_path / "slawatch.toml").write_text("[sla.cancellation]\nresponse_hours = 2\n")
    assert load_settings().sla.cancellation.response_hours == 2
    assert Settings().sla.cancellation.response_hours == 4
    (tmp_path / "slawatch.toml").write_text("[sla.cancellation]\nresponse_hours = 0\n")
    with pytest.raises(ConfigError, match="sla.cancellation.response_hours"):
        load_settings()
