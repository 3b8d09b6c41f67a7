"""Alert emails end to end: real Dovecot, real SMTP (aiosmtpd), exactly once."""

from __future__ import annotations

import email
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.alerts.jobs import sweep
from app.clock import now
from app.config import AlertSettings, Settings
from app.db import make_engine, make_session_factory
from app.enums import Role, ThreadKind, ThreadSource
from app.main import create_app
from app.models import Alert, Mailbox, Thread
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer
from tests.support.polling import ROOT, poll
from tests.support.postgres import PostgresServer
from tests.support.smtp import SmtpServer
from tests.support.web import auth

TEAM = "team@store.example"
BOSS = "boss@store.example"


def settings_for(
    database_url: str, imap_account: ImapAccount, smtp_server: SmtpServer, **alerts: object
) -> Settings:
    return Settings(
        database_url=database_url,
        base_url="https://slawatch.store.example",
        mailboxes=[imap_account.settings()],
        smtp=smtp_server.settings(),
        alerts=AlertSettings(
            recipients=[TEAM],
            manager_recipients=[BOSS],
            from_address="slawatch@store.example",
            **alerts,
        ),
    )


def delivered(smtp_server: SmtpServer) -> list[tuple[list[str], email.message.EmailMessage]]:
    return [
        (rcpt, email.message_from_bytes(raw, policy=policy.default))  # type: ignore[misc]
        for rcpt, raw in smtp_server.recorder.messages
    ]


def text_of(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return part.get_content()


def test_at_risk_and_overdue_threads_each_alert_once_with_what_the_team_needs(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> None:
    arrived = datetime.now(UTC)
    imap_account.append(
        "INBOX",
        [customer("Gus", order="108829272810783", subject="Broken lamp")],
        when=arrived - timedelta(hours=40),
    )
    imap_account.append(
        "Junk",
        [customer("Hal", order="200011419023224", subject="Never arrived")],
        when=arrived - timedelta(hours=50),
    )
    imap_account.append(
        "INBOX",
        [customer("Ivy", order="108829272810999", subject="Size question")],
        when=arrived - timedelta(hours=2),
    )
    assert poll(session_factory, imap_account.settings()).ok
    settings = settings_for(database_url, imap_account, smtp_server)

    report = sweep(session_factory, settings, now=now())

    assert report.delivery.sent == 2 and report.delivery.failed == 0
    mails = {m["Subject"]: (rcpt, m) for rcpt, m in delivered(smtp_server)}
    at_risk = mails["[slawatch] at risk: Broken lamp (order 108829272810783)"]
    overdue = mails["[slawatch] OVERDUE: Never arrived (order 200011419023224)"]
    assert at_risk[0] == [TEAM]
    assert sorted(overdue[0]) == [BOSS, TEAM]
    text = text_of(overdue[1])
    assert "(found in spam)" in text
    assert "Order:     200011419023224" in text
    assert "Overdue:   by 2 h" in text and "Waiting:   50 h" in text
    assert "https://slawatch.store.example/threads/" in text
    assert "Time left: 7 h" in text_of(at_risk[1])
    assert at_risk[1]["Auto-Submitted"] == "auto-generated"
    assert overdue[1].get_body(preferencelist=("html",)) is not None

    # Nothing twice: another sweep, now or a minute later, sends nothing more.
    assert sweep(session_factory, settings, now=now()).delivery.sent == 0
    assert sweep(session_factory, settings, now=now() + timedelta(minutes=1)).delivery.sent == 0
    assert len(smtp_server.recorder.messages) == 2
    # Every recipient came from the configuration, never from a message.
    assert {a for rcpt, _ in smtp_server.recorder.messages for a in rcpt} <= {TEAM, BOSS}


def test_a_refused_send_is_retried_and_delivered_exactly_once(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
    make_token: Callable[..., str],
) -> None:
    imap_account.append("INBOX", [customer("Jon")], when=datetime.now(UTC) - timedelta(hours=49))
    assert poll(session_factory, imap_account.settings()).ok
    settings = settings_for(database_url, imap_account, smtp_server)
    smtp_server.recorder.refuse_with = "451 4.3.0 Try again later"

    first = sweep(session_factory, settings, now=now())
    assert (first.delivery.sent, first.delivery.retrying) == (0, 1)
    with TestClient(create_app(settings)) as api:
        (listed,) = api.get("/api/v1/alerts", headers=auth(make_token(Role.VIEWER))).json()
    assert listed["state"] == "pending" and "451" in listed["last_error"]
    assert listed["attempts"] == 1

    smtp_server.recorder.refuse_with = None
    assert sweep(session_factory, settings, now=now()).delivery.sent == 0  # backing off
    later = sweep(session_factory, settings, now=now() + timedelta(minutes=2))
    assert later.delivery.sent == 1
    assert sweep(session_factory, settings, now=now() + timedelta(minutes=10)).delivery.sent == 0
    assert len(smtp_server.recorder.messages) == 1


def test_a_failing_mailbox_alerts_and_then_its_recovery_does(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = settings_for(database_url, imap_account, smtp_server)
    monkeypatch.setenv(imap_account.password_env, "wrong password")
    assert not poll(session_factory, imap_account.settings()).ok

    down = sweep(session_factory, settings, now=now())
    ((rcpt, mail),) = delivered(smtp_server)
    assert down.delivery.sent == 1 and sorted(rcpt) == [BOSS, TEAM]
    assert mail["Subject"].startswith("[slawatch] MAILBOX NOT POLLED")
    assert "refused" in text_of(mail)
    assert sweep(session_factory, settings, now=now()).delivery.sent == 0  # one per outage

    monkeypatch.setenv(imap_account.password_env, imap_account.password)
    assert poll(session_factory, imap_account.settings()).ok
    up = sweep(session_factory, settings, now=now())
    assert up.delivery.sent == 1
    assert delivered(smtp_server)[-1][1]["Subject"].startswith("[slawatch] mailbox recovered")


def test_a_mailbox_never_polled_is_reported_after_the_threshold(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> None:
    settings = settings_for(database_url, imap_account, smtp_server, poll_failure_minutes=15)
    assert sweep(session_factory, settings, now=now()).delivery.sent == 0
    late = sweep(session_factory, settings, now=now() + timedelta(minutes=16))
    assert late.delivery.sent == 1
    assert "no poll has succeeded" in text_of(delivered(smtp_server)[0][1])


def test_quiet_hours_hold_non_urgent_alerts_and_the_digest_batches_them(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> None:
    arrived = datetime.now(UTC)
    for i, name in enumerate(("Kay", "Lou")):
        imap_account.append(
            "INBOX",
            [customer(name, order=f"10882927281000{i}")],
            when=arrived - timedelta(hours=37),
        )
    assert poll(session_factory, imap_account.settings()).ok
    settings = settings_for(
        database_url, imap_account, smtp_server, digest_minutes=60, poll_failure_minutes=240
    )

    held = sweep(session_factory, settings, now=now())
    assert (len(held.alerts), held.delivery.sent) == (2, 0)  # waiting for the digest slot
    released = sweep(session_factory, settings, now=now() + timedelta(minutes=61))
    assert released.delivery.sent == 2
    ((rcpt, digest),) = delivered(smtp_server)
    assert digest["Subject"] == "[slawatch] 2 alerts: 2 at risk"
    assert text_of(digest).count("AT RISK") == 2


def test_two_sweeps_at_once_on_postgresql_send_each_alert_exactly_once(
    postgres: PostgresServer, smtp_server: SmtpServer, tmp_path: Path
) -> None:
    url = postgres.create_database()
    migrate.upgrade(url)
    engine = make_engine(url)
    started = now() - timedelta(hours=40)
    with make_session_factory(engine).begin() as db:
        db.add(Mailbox(name="agency-store"))
        db.flush()
        mailbox_id = db.scalars(select(Mailbox.id)).one()
        db.execute(
            insert(Thread),
            [
                {
                    "mailbox_id": mailbox_id,
                    "kind": ThreadKind.CUSTOMER,
                    "source": ThreadSource.INBOX,
                    "subject": f"Question {i}",
                    "counterpart": f"buyer{i}@relay.walmart.com",
                    "has_customer_messages": True,
                    "clock_started_at": started,
                    "due_at": started + timedelta(hours=48),
                    "at_risk_at": started + timedelta(hours=36),
                    "sla_level": "waiting",
                    "next_transition_at": started + timedelta(hours=36),
                    "message_count": 1,
                }
                for i in range(1000)
            ],
        )
    engine.dispose()
    config = tmp_path / "slawatch.toml"
    config.write_text(
        f'database_url = "{url}"\n'
        f'[smtp]\nhost = "127.0.0.1"\nport = {smtp_server.port}\nsecurity = "plain"\n'
        f'[alerts]\nrecipients = ["{TEAM}"]\nfrom_address = "slawatch@store.example"\n'
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    sweeps = [
        subprocess.Popen(
            [sys.executable, "-m", "app.cli", "--config", str(config), "sweep", "--once"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [s.communicate(timeout=300)[0] for s in sweeps]
    assert all(s.returncode == 0 for s in sweeps), outputs

    subjects = [
        email.message_from_bytes(raw, policy=policy.default)["Subject"]
        for _, raw in smtp_server.recorder.messages
    ]
    assert len(subjects) == 1000
    assert len(set(subjects)) == 1000
    # Both processes did part of the work: the locks shared it, they did not serialise it away.
    recorded = [
        int(line.split()[0])
        for o in outputs
        for line in o.splitlines()
        if "SLA transitions recorded" in line
    ]
    assert sum(recorded) == 1000
    with make_session_factory(make_engine(url))() as db:
        assert db.scalar(select(Alert.id).where(Alert.state != "sent")) is None


def test_an_unreachable_smtp_server_delays_every_alert_and_loses_none(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
) -> None:
    arrived = datetime.now(UTC)
    for i, buyer in enumerate(("Max", "Ned", "Oli")):
        imap_account.append(
            "INBOX",
            [customer(buyer, order=f"10882927281111{i}")],
            when=arrived - timedelta(hours=49),
        )
    assert poll(session_factory, imap_account.settings()).ok
    settings = settings_for(database_url, imap_account, smtp_server)
    down = settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"port": 1})})

    report = sweep(session_factory, down, now=now())

    assert (report.delivery.sent, report.delivery.retrying) == (0, 3)
    with session_factory() as db:
        errors = {a.last_error for a in db.scalars(select(Alert))}
    assert errors == {"connection to 127.0.0.1:1 refused"}
    assert sweep(session_factory, settings, now=now() + timedelta(minutes=2)).delivery.sent == 3
