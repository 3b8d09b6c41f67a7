"""The alert when one more missed customer would take the 30-day rate below the line: real mail
(Dovecot), the figures job, the sweep, a real SMTP server; once a day while it holds."""

from __future__ import annotations

import email
from datetime import timedelta
from email import policy

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from app.alerts.jobs import sweep
from app.clock import now
from app.config import AlertSettings, Settings
from app.db import make_read_session_factory, make_session_factory
from app.threads import jobs as thread_jobs
from tests.support.imap import ImapAccount
from tests.support.polling import poll
from tests.support.smtp import SmtpServer

TITLE = "[slawatch] response rate one miss from the line"


def _rate_alerts(smtp_server: SmtpServer) -> list[email.message.EmailMessage]:
    found = [
        email.message_from_bytes(raw, policy=policy.default)
        for _, raw in smtp_server.recorder.messages
    ]
    # A long Subject is folded before its first word; unfolded, it keeps the fold's space.
    return [m for m in found if str(m["Subject"]).strip().startswith(TITLE)]  # type: ignore[misc]


def _text(message: email.message.EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def test_one_miss_from_the_line_alerts_once_a_day(
    imap_account: ImapAccount,
    smtp_server: SmtpServer,
    session_factory: sessionmaker[Session],
    database_url: str,
    engine: Engine,
) -> None:
    settings = Settings(
        database_url=database_url,
        mailboxes=[imap_account.settings()],
        smtp=smtp_server.settings(),
        alerts=AlertSettings(recipients=["team@store.example"], from_address="sla@store.example"),
    )
    # 19 answered within the hour, one never (60 h ago), one waiting (3 h): 19 of 20 is 95 %,
    # and missing the one waiting would make it 19 of 21.
    for n in range(19):
        imap_account.answered(
            f"Buyer {n}",
            order=f"1088292728{n:05d}",
            asked_hours_ago=30 + n,
            answered_hours_ago=29 + n,
        )
    imap_account.asked("Late", order="108829272899998", hours_ago=60)
    imap_account.asked("Waiting", order="108829272899999", hours_ago=3)
    assert poll(session_factory, imap_account.settings()).ok
    thread_jobs.refresh_all(
        read_factory=make_read_session_factory(engine),
        write_factory=make_session_factory(engine),
        now=now(),
    )

    sweep(session_factory, settings, now=now())
    (alert,) = _rate_alerts(smtp_server)
    assert imap_account.settings().name in _text(alert)
    assert "One more missed customer takes the 30-day rate below the 95% line." in _text(alert)
    sweep(session_factory, settings, now=now())
    assert len(_rate_alerts(smtp_server)) == 1  # once a day

    # The next day, still so: one more.
    sweep(session_factory, settings, now=now() + timedelta(days=1))
    assert len(_rate_alerts(smtp_server)) == 2
