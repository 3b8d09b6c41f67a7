"""Settings from TOML and the environment, and how a bad configuration is reported."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from app.config import DEFAULT_SPAM_WHITELIST, load_settings
from app.errors import ConfigError


def slawatch(*args: str, cwd: Path, env: dict[str, str] | None = None):
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[1]), **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


MAILBOX = """
[[mailboxes]]
name = "store-1"
host = "imap.example.com"
username = "support@store.example"
password_env = "STORE1_PASS"
seller_addresses = ["support@store.example"]
"""


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("SLAWATCH_") and name != "SLAWATCH_TEST_POSTGRES_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def test_defaults_without_a_config_file() -> None:
    settings = load_settings()
    assert settings.database_url == "sqlite:///./slawatch.db"
    assert settings.sla.response_hours == 48
    assert settings.sla.at_risk_hours == 12
    assert settings.mailboxes == []


@pytest.mark.parametrize(
    ("toml", "env", "server"),
    [
        ("", {}, None),  # monitoring only
        ("[smtp]\n", {}, ("localhost", 587, "starttls")),  # the old default, asked for
        (
            '[smtp]\nhost = "smtp.example.com"\nport = 465\nsecurity = "ssl"\n',
            {},
            ("smtp.example.com", 465, "ssl"),
        ),
        ("", {"SLAWATCH_SMTP__HOST": "mail.example.com"}, ("mail.example.com", 587, "starttls")),
    ],
)
def test_smtp_is_configured_only_by_a_section_or_a_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, toml: str, env: dict[str, str], server: Any
) -> None:
    (tmp_path / "slawatch.toml").write_text(toml)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    smtp = load_settings().smtp
    assert ((smtp.host, smtp.smtp_port, smtp.security) if smtp else None) == server


def test_toml_file_in_working_directory_is_read(tmp_path: Path) -> None:
    (tmp_path / "slawatch.toml").write_text(
        "[sla]\nresponse_hours = 24\nat_risk_hours = 6\n"
        '[alerts]\nrecipients = ["Team@Store.example"]\n' + MAILBOX
    )
    settings = load_settings()
    assert settings.sla.response_hours == 24
    assert settings.alerts.recipients == ["team@store.example"]
    mailbox = settings.mailboxes[0]
    assert (mailbox.name, mailbox.imap_port, mailbox.security) == ("store-1", 993, "ssl")
    assert mailbox.spam_whitelist == DEFAULT_SPAM_WHITELIST


def test_environment_wins_over_the_file_key_by_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "elsewhere.toml"
    config.write_text(
        'database_url = "sqlite:///file.db"\n[sla]\nresponse_hours = 24\nat_risk_hours = 6\n'
    )
    monkeypatch.setenv("SLAWATCH_CONFIG", str(config))
    monkeypatch.setenv("SLAWATCH_SLA__RESPONSE_HOURS", "36")
    monkeypatch.setenv("SLAWATCH_DATABASE_URL", "postgresql://db.example/slawatch")
    settings = load_settings()
    assert settings.sla.response_hours == 36
    assert settings.sla.at_risk_hours == 6  # not overridden: the file's value stays
    assert settings.database_url == "postgresql://db.example/slawatch"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[sla]\nresponse_hours = "soon"\n', 'sla.response_hours: expected a number, got "soon"'),
        ("[sla]\nrespnse_hours = 3\n", "unknown key 'sla.respnse_hours'"),
        ("[sla]\nresponse_hours = 10\nat_risk_hours = 12\n", "at_risk_hours (12) must be less"),
        (
            '[smtp]\nsecurity = "tls"\n',
            "smtp.security: Input should be 'ssl', 'starttls' or 'plain'",
        ),
        (
            '[alerts]\nrecipients = ["team"]\n',
            "alerts.recipients[0]: 'team' is not an email address",
        ),
        (
            MAILBOX.replace('"imap.example.com"', '"imap.example.com"\nsecurity = "plain"'),
            "mailboxes[0]: security = 'plain' sends the password unencrypted",
        ),
        (MAILBOX + MAILBOX, "mailbox names must be unique; repeated: store-1"),
        ("[sla\nresponse_hours = 3\n", "is not valid TOML"),
    ],
)
def test_bad_config_names_the_key_and_the_problem(tmp_path: Path, toml: str, expected: str) -> None:
    (tmp_path / "slawatch.toml").write_text(toml)
    with pytest.raises(ConfigError) as raised:
        load_settings()
    assert expected in str(raised.value)


def test_plain_imap_is_allowed_on_loopback(tmp_path: Path) -> None:
    (tmp_path / "slawatch.toml").write_text(
        MAILBOX.replace('"imap.example.com"', '"127.0.0.1"\nsecurity = "plain"')
    )
    assert load_settings().mailboxes[0].imap_port == 143


def test_cli_exits_2_with_one_clear_message_for_a_bad_file(tmp_path: Path) -> None:
    (tmp_path / "slawatch.toml").write_text("[sla]\nresponse_hours = -1\n")
    result = slawatch("check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert "slawatch.toml: sla.response_hours: Input should be greater than 0" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_names_the_environment_variable_that_is_wrong(tmp_path: Path) -> None:
    result = slawatch("check-config", cwd=tmp_path, env={"SLAWATCH_SLA__AT_RISK_HOURS": "x"})
    assert result.returncode == 2
    assert "environment variable SLAWATCH_SLA__AT_RISK_HOURS: sla.at_risk_hours" in result.stderr


def test_cli_refuses_a_missing_config_file_it_was_pointed_at(tmp_path: Path) -> None:
    result = slawatch("--config", "missing.toml", "check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert "config file missing.toml does not exist" in result.stderr


def test_check_config_reports_an_unset_password_variable_and_never_prints_a_set_one(
    tmp_path: Path,
) -> None:
    (tmp_path / "slawatch.toml").write_text(MAILBOX)
    missing = slawatch("check-config", cwd=tmp_path)
    assert missing.returncode == 2
    assert "mailbox 'store-1': environment variable STORE1_PASS (password_env) is not set" in (
        missing.stderr
    )

    present = slawatch("check-config", cwd=tmp_path, env={"STORE1_PASS": "hunter2-secret"})
    assert present.returncode == 0, present.stderr
    assert "configuration OK" in present.stdout
    assert "hunter2-secret" not in present.stdout + present.stderr


GMAIL_OAUTH = """
[[mailboxes]]
name = "gmail"
provider = "google"
username = "support@store.example"
auth = "oauth2"
oauth_client_id = "1234.apps.googleusercontent.com"
oauth_client_secret_env = "GOOGLE_CLIENT_SECRET"
"""


def test_check_config_of_an_oauth2_mailbox_names_its_client_secret_and_the_token_key(
    tmp_path: Path,
) -> None:
    (tmp_path / "slawatch.toml").write_text(GMAIL_OAUTH)
    env = {"SLAWATCH_TOKEN_KEY": "", "GOOGLE_CLIENT_SECRET": ""}
    missing = slawatch("check-config", cwd=tmp_path, env=env)
    assert missing.returncode == 2
    assert "GOOGLE_CLIENT_SECRET (oauth_client_secret_env) is not set" in missing.stderr
    assert "SLAWATCH_TOKEN_KEY (token_key_env) is not set" in missing.stderr
    assert "mailbox gmail: support@store.example at imap.gmail.com:993 (ssl, oauth2 google)" in (
        missing.stdout
    )

    key = slawatch("token-key", cwd=tmp_path).stdout.strip()
    env = {"SLAWATCH_TOKEN_KEY": key, "GOOGLE_CLIENT_SECRET": "GOCSPX-secret"}
    present = slawatch("check-config", cwd=tmp_path, env=env)
    assert present.returncode == 0, present.stderr
    assert key not in present.stdout + present.stderr
    assert "GOCSPX-secret" not in present.stdout + present.stderr


def test_a_value_of_the_wrong_type_in_the_file_is_refused_not_coerced(tmp_path: Path) -> None:
    """Issue 19: `batch_size = true` used to become 1, `port = 993.0` 993, `idle = "yes"` true,
    and `response_hours = true` 1, which then failed with a misleading message."""
    (tmp_path / "slawatch.toml").write_text(
        "[sla]\nresponse_hours = true\n"
        + MAILBOX
        + 'port = 993.0\nidle = "yes"\ntimeout_seconds = "60"\nbatch_size = true\n'
    )
    result = slawatch("check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.splitlines()[1:] == [
        "slawatch.toml: sla.response_hours: expected a number, got true",
        "slawatch.toml: mailboxes[0].port: expected an integer, got 993.0",
        'slawatch.toml: mailboxes[0].idle: expected true or false, got "yes"',
        'slawatch.toml: mailboxes[0].timeout_seconds: expected a number, got "60"',
        "slawatch.toml: mailboxes[0].batch_size: expected an integer, got true",
    ]
    assert "at_risk_hours" not in result.stderr
    # The environment is text: its values are converted, as documented.
    (tmp_path / "slawatch.toml").write_text("")
    from_env = slawatch("check-config", cwd=tmp_path, env={"SLAWATCH_SLA__RESPONSE_HOURS": "24"})
    assert from_env.returncode == 0, from_env.stderr


def test_a_file_that_is_not_utf8_is_named_with_the_byte(tmp_path: Path) -> None:
    (tmp_path / "slawatch.toml").write_bytes(b'log_level = "INFO"\nbase_url = "caf\xe9"\n')
    result = slawatch("check-config", cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "slawatch: config file slawatch.toml is not UTF-8 (as TOML must be): byte 34 (line 2) "
        "is 0xe9; save the file as UTF-8"
    )


@pytest.mark.parametrize("command", [["check-config"], ["poll", "--once"], ["migrate"]])
def test_a_malformed_database_url_is_named_in_every_command(
    tmp_path: Path, command: list[str]
) -> None:
    (tmp_path / "slawatch.toml").write_text('database_url = "garbage"\n')
    result = slawatch(*command, cwd=tmp_path)
    assert result.returncode == 2
    assert "slawatch.toml: database_url: 'garbage' is not a database URL" in result.stderr
    assert "has the database been created" not in result.stderr


def test_an_unset_password_variable_is_exit_2_in_poll_as_in_check_config(tmp_path: Path) -> None:
    (tmp_path / "slawatch.toml").write_text(
        f'database_url = "sqlite:///{tmp_path / "x.db"}"\n' + MAILBOX
    )
    assert slawatch("migrate", cwd=tmp_path).returncode == 0
    for command in (["check-config"], ["poll", "--once"]):
        result = slawatch(*command, cwd=tmp_path, env={"STORE1_PASS": ""})
        assert result.returncode == 2, (command, result.stdout, result.stderr)
        assert "STORE1_PASS (password_env) is not set" in result.stdout + result.stderr
