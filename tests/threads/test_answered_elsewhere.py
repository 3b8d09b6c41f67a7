"""Answers given where the mailbox never sees them (Seller Center's inbox, the phone), and each
marketplace's rule for a thread closed as "no response needed", through the API on a real server:
mail in Dovecot at chosen arrival times, a Walmart mailbox and an Amazon one, response rates
computed by the figures job and checked against rates worked out by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import Settings
from app.db import make_read_session_factory, make_session_factory
from app.enums import Role
from app.main import create_app
from app.models import AuditEntry
from app.threads import jobs as thread_jobs
from tests.support.imap import ImapAccount
from tests.support.mailfactory import customer, message, message_id_of, seller_reply
from tests.support.polling import poll
from tests.support.web import auth, serving


@dataclass
class Site:
    api: httpx.Client
    agent: str
    viewer: str
    ids: dict[str, int]  # subject -> thread id
    walmart: ImapAccount
    amazon: ImapAccount
    settings: Settings
    engine: Engine

    def post(self, thread: str, path: str, token: str | None = None, **body: Any) -> httpx.Response:
        return self.api.post(
            f"/api/v1/threads/{self.ids[thread]}/{path}",
            json=body,
            headers=auth(token or self.agent),
        )

    def detail(self, thread: str) -> dict[str, Any]:
        response = self.api.get(f"/api/v1/threads/{self.ids[thread]}", headers=auth(self.viewer))
        assert response.status_code == 200, response.text
        return response.json()

    def rates(self, at: datetime | None = None) -> dict[str, tuple[int, int]]:
        """(decided, answered in time) over 30 days per mailbox and in total, as the figures job
        computes them at ``at`` (default now)."""
        thread_jobs.refresh_all(
            read_factory=make_read_session_factory(self.engine),
            write_factory=make_session_factory(self.engine),
            now=at or now(),
        )
        body = self.api.get("/api/v1/summary", headers=auth(self.viewer)).json()

        def of(figures: dict[str, Any]) -> tuple[int, int]:
            month = figures["response_rates"][0]
            assert month["days"] == 30
            return month["decided"], month["answered_in_time"]

        found = {m["name"]: of(m) for m in body["mailboxes"]}
        walmart, amazon = (m.name for m in self.settings.mailboxes)
        return {"walmart": found[walmart], "amazon": found[amazon], "all": of(body)}


ORDERS: list[str] = []


def _ask(
    account: ImapAccount, subject: str, hours_ago: float, answered_after: float | None
) -> None:
    """A customer's question ``hours_ago``, answered by mail ``answered_after`` hours later (or
    not), about an order of its own (threads of one order join)."""
    arrived = datetime.now(UTC) - timedelta(hours=hours_ago)
    order = str(108829272810000 + len(ORDERS))
    ORDERS.append(order)
    question = customer(f"Buyer of {subject}", order=order, subject=subject)
    account.append("INBOX", [question], when=arrived)
    if answered_after is not None:
        reply = seller_reply(
            f"Buyer of {subject}", in_reply_to=message_id_of(question), subject=subject
        )
        account.append("Sent", [reply], when=arrived + timedelta(hours=answered_after))


@pytest.fixture
def site(
    make_imap_account: Callable[[], ImapAccount],
    session_factory: sessionmaker[Session],
    database_url: str,
    engine: Engine,
    make_token: Callable[..., str],
) -> Iterator[Site]:
    walmart, amazon = make_imap_account(), make_imap_account()
    # Walmart allows 48 hours, Amazon 24.
    _ask(walmart, "Walmart waiting 10h", 10, None)
    _ask(walmart, "Walmart overdue 50h", 50, None)
    _ask(walmart, "Walmart answered by mail", 30, 1)
    _ask(amazon, "Amazon overdue 30h", 30, None)
    _ask(amazon, "Amazon answered by mail", 30, 1)
    mailboxes = [walmart.settings(), amazon.settings(marketplace="amazon")]
    for mailbox in mailboxes:
        assert poll(session_factory, mailbox).ok
    settings = Settings(database_url=database_url, mailboxes=mailboxes)
    with serving(create_app(settings)) as base_url, httpx.Client(base_url=base_url) as api:
        viewer = make_token(Role.VIEWER)
        listed = api.get(
            "/api/v1/threads?state=waiting&state=at_risk&state=overdue&state=answered",
            headers=auth(viewer),
        ).json()["items"]
        yield Site(
            api=api,
            agent=make_token(Role.AGENT, "agnes"),
            viewer=viewer,
            ids={t["subject"]: t["id"] for t in listed},
            walmart=walmart,
            amazon=amazon,
            settings=settings,
            engine=engine,
        )


def test_an_answer_elsewhere_answers_the_wait_in_time_or_late_and_is_audited(
    site: Site, make_imap_account: Callable[[], ImapAccount], session_factory: sessionmaker[Session]
) -> None:
    assert site.rates()["walmart"] == (2, 1)  # answered by mail in time; the 50-hour one missed

    answered = site.post(
        "Walmart waiting 10h",
        "answered-elsewhere",
        channel="seller_center",
        note="Answered in <b>Seller Center</b>: refund issued",
    )
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "answered" and answered.json()["due_at"] is None
    detail = site.detail("Walmart waiting 10h")
    ((wait,),) = [detail["waits"]]
    assert (wait["answered_channel"], wait["outcome"]) == ("seller_center", "answered_in_time")
    ((outside,),) = [detail["outside_answers"]]
    assert outside["note"] == "Answered in <b>Seller Center</b>: refund issued"
    assert (outside["channel"], outside["recorded_by"]) == ("seller_center", "agnes")

    # The overdue one was answered by phone an hour ago: 49 hours after it began, late.
    started = datetime.fromisoformat(site.detail("Walmart overdue 50h")["clock_started_at"])
    by_phone = started + timedelta(hours=49)
    late = site.post(
        "Walmart overdue 50h",
        "answered-elsewhere",
        channel="phone",
        answered_at=by_phone.isoformat(),
    )
    assert late.status_code == 200, late.text
    ((wait,),) = [site.detail("Walmart overdue 50h")["waits"]]
    assert datetime.fromisoformat(wait["answered_at"]) == by_phone
    assert (wait["answered_channel"], wait["outcome"]) == ("phone", "answered_late")

    # Walmart by hand: by mail in time, in Seller Center in time, by phone late: 2 of 3.
    assert site.rates()["walmart"] == (3, 2)
    with session_factory() as db:
        entries = db.scalars(
            select(AuditEntry)
            .where(AuditEntry.action == "thread.answered_elsewhere")
            .order_by(AuditEntry.id)
        ).all()
    assert [(e.actor, e.target_id) for e in entries] == [
        ("agnes", str(site.ids["Walmart waiting 10h"])),
        ("agnes", str(site.ids["Walmart overdue 50h"])),
    ]
    assert entries[0].detail["channel"] == "seller_center"
    assert entries[0].detail["note"] == "Answered in <b>Seller Center</b>: refund issued"
    assert datetime.fromisoformat(entries[1].detail["answered_at"]) == by_phone
    assert entries[1].detail == {**entries[1].detail, "channel": "phone", "note": None}


def test_a_new_customer_message_after_an_answer_elsewhere_starts_a_new_clock(
    site: Site, session_factory: sessionmaker[Session]
) -> None:
    called = now() - timedelta(minutes=5)
    answered = site.post(
        "Walmart waiting 10h", "answered-elsewhere", channel="other", answered_at=called.isoformat()
    )
    assert answered.json()["state"] == "answered"
    counterpart = site.detail("Walmart waiting 10h")["counterpart"]
    written = datetime.now(UTC).replace(microsecond=0)
    follow_up = message(
        sender=counterpart, subject="Re: Walmart waiting 10h", body="One more thing"
    )
    site.walmart.append("INBOX", [follow_up], when=written)
    assert poll(session_factory, site.settings.mailboxes[0]).ok

    again = site.detail("Walmart waiting 10h")
    assert again["state"] == "waiting" and again["message_count"] == 2
    assert datetime.fromisoformat(again["clock_started_at"]) == written
    # The first wait stays answered where it was answered; the new one runs.
    assert [(w["answered_channel"], w["outcome"]) for w in again["waits"]] == [
        ("other", "answered_in_time"),
        (None, "open"),
    ]


def test_answers_elsewhere_are_refused_with_a_reason(site: Site) -> None:
    thread = "Walmart waiting 10h"
    url = f"/api/v1/threads/{site.ids[thread]}/answered-elsewhere"
    assert site.api.post(url, json={"channel": "phone"}).status_code == 401
    assert site.post(thread, "answered-elsewhere", site.viewer, channel="phone").status_code == 403
    started = datetime.fromisoformat(site.detail(thread)["clock_started_at"])

    def refused(status: int, **body: Any) -> str:
        response = site.post(thread, "answered-elsewhere", **body)
        assert response.status_code == status, response.text
        return str(response.json()["detail"])

    assert "in the future" in refused(
        422, channel="phone", answered_at=(now() + timedelta(hours=1)).isoformat()
    )
    assert "before the wait started" in refused(
        422, channel="phone", answered_at=(started - timedelta(minutes=1)).isoformat()
    )
    assert "timezone" in refused(422, channel="phone", answered_at="2026-12-01T10:00:00")
    assert "before the wait started" in refused(
        422, channel="phone", answered_at="0001-01-01T00:00:00+01:00"
    )
    assert "seller_center" in refused(422, channel="fax")
    assert "at most 1000 characters" in refused(422, channel="phone", note="x" * 1001)
    assert site.detail(thread)["state"] == "waiting"  # nothing refused changed it

    assert site.post(thread, "answered-elsewhere", channel="phone").status_code == 200
    assert "not waiting for an answer (it is answered)" in refused(409, channel="phone")
    closed = "Walmart overdue 50h"
    assert site.post(closed, "close", reason="duplicate of another thread").status_code == 200
    response = site.post(closed, "answered-elsewhere", channel="phone")
    assert response.status_code == 409 and "it is closed" in response.json()["detail"]
    missing = site.api.post(
        "/api/v1/threads/999999/answered-elsewhere",
        json={"channel": "phone"},
        headers=auth(site.agent),
    )
    assert missing.status_code == 404


def test_closing_counts_in_walmart_rate_and_leaves_amazon_rate(site: Site) -> None:
    # By hand, before anything is closed (30 days):
    #   Walmart: answered by mail in 1 h (in time), overdue 50 h of 48 (missed): 1 of 2.
    #   Amazon: answered by mail in 1 h (in time), overdue 30 h of 24 (missed): 1 of 2.
    assert site.rates() == {"walmart": (2, 1), "amazon": (2, 1), "all": (4, 2)}
    for thread in ("Walmart overdue 50h", "Amazon overdue 30h", "Walmart waiting 10h"):
        closed = site.post(thread, "close", reason="the buyer only said thanks")
        assert closed.status_code == 200 and closed.json()["state"] == "closed"

    # After closing: Walmart still counts its missed wait ("all messages require a response"),
    # and the 10-hour one is not decided before its deadline; Amazon's policy removes its
    # missed wait, leaving 1 of 1.
    assert site.rates() == {"walmart": (2, 1), "amazon": (1, 1), "all": (3, 2)}
    walmart, amazon = site.detail("Walmart overdue 50h"), site.detail("Amazon overdue 30h")
    assert (walmart["state"], walmart["close_counts_in_rate"]) == ("closed", True)
    assert [w["outcome"] for w in walmart["waits"]] == ["missed"]
    assert (amazon["state"], amazon["close_counts_in_rate"]) == ("closed", False)
    assert amazon["waits"] == []

    # 39 hours on, the closed 10-hour Walmart wait passed its deadline unanswered: missed too.
    later = site.rates(now() + timedelta(hours=39))
    assert later["walmart"] == (3, 1) and later["amazon"] == (1, 1)


def test_a_closed_walmart_wait_is_answered_by_a_later_reply_and_a_new_message_has_its_own_clock(
    site: Site, session_factory: sessionmaker[Session]
) -> None:
    thread = "Walmart waiting 10h"
    assert site.post(thread, "close", reason="the buyer only said thanks").status_code == 200
    assert site.detail(thread)["waits"][0]["outcome"] == "open"  # counted once decided
    counterpart = site.detail(thread)["counterpart"]
    written = datetime.now(UTC).replace(microsecond=0)
    site.walmart.append(
        "INBOX", [message(sender=counterpart, subject=f"Re: {thread}")], when=written
    )
    assert poll(session_factory, site.settings.mailboxes[0]).ok
    reopened = site.detail(thread)
    # The customer wrote again: a new clock from the new message, as for any marketplace.
    assert reopened["state"] == "waiting" and reopened["closed_at"] is None
    assert datetime.fromisoformat(reopened["clock_started_at"]) == written
    # One answer now answers both waits, the one closed in Walmart's count and the new one.
    assert site.post(thread, "answered-elsewhere", channel="seller_center").status_code == 200
    assert [w["outcome"] for w in site.detail(thread)["waits"]] == [
        "answered_in_time",
        "answered_in_time",
    ]
