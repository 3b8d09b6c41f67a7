"""Alerts to Slack, Microsoft Teams and a webhook, end to end against a real local HTTP server,
on both backends: the documented payload shapes, the signature, exactly once, retries with
back-off while the other channels deliver, the digest, and the URL kept secret."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import metrics
from app.alerts import service as alert_service
from app.alerts.jobs import sweep
from app.clock import now
from app.config import QuietHours
from app.enums import AlertState, Role
from app.main import create_app
from app.models import AlertDelivery, Thread
from tests.alerts.channel_factories import (
    BASE_URL,
    WEBHOOK_KEY,
    ChannelSettings,
    mailbox,
    threads,
)
from tests.support.chat_receiver import ChatReceiver
from tests.support.web import auth


def facts_of_slack(message: dict[str, Any]) -> dict[str, str]:
    (section,) = [b for b in message["blocks"] if b["type"] == "section"]
    return dict(f["text"].lstrip("*").split("*\n", 1) for f in section["fields"])


def test_each_channel_gets_each_alert_once_in_its_documented_shape(
    chat: ChatReceiver,
    channels: ChannelSettings,
    session_factory: sessionmaker[Session],
    make_token: Any,
) -> None:
    at = now()
    with session_factory.begin() as db:
        box = mailbox(db)
        (at_risk,) = threads(db, box, waited_hours=40, at=at)  # 8 h left
        (overdue,) = threads(db, box, waited_hours=50, at=at)  # 2 h late
    settings = channels(webhook_events=["overdue"])

    report = sweep(session_factory, settings, now=at)

    assert (report.channels.sent, report.channels.retrying, report.channels.failed) == (5, 0, 0)
    # Slack: text for the notification, Block Kit blocks for the message.
    slack = {
        m.json()["blocks"][-1]["elements"][0]["url"]: m.json() for m in chat.to(chat.slack_path)
    }
    assert set(slack) == {f"{BASE_URL}/threads/{at_risk}", f"{BASE_URL}/threads/{overdue}"}
    message = slack[f"{BASE_URL}/threads/{at_risk}"]
    assert message["text"] == "slawatch: at risk: Lamp <broken> & late #0"  # the first thread made
    assert [b["type"] for b in message["blocks"]] == ["header", "section", "actions"]
    assert "&lt;broken&gt; &amp; late" in message["blocks"][1]["text"]["text"]
    assert facts_of_slack(message) == {
        "Customer": "buyer0@relay.walmart.com",
        "Order": "108829272810000",
        "Time left": "8 h 00 min",
        "Mailbox": "store-1",
        "Client": "acme",
    }
    assert facts_of_slack(slack[f"{BASE_URL}/threads/{overdue}"])["Time left"] == (
        "overdue by 2 h 00 min"
    )
    # Teams: a Workflows message carrying an Adaptive Card.
    cards = [m.json() for m in chat.to(chat.teams_path)]
    assert len(cards) == 2
    for card in cards:
        assert card["type"] == "message"
        (attachment,) = card["attachments"]
        assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
        content = attachment["content"]
        assert (content["type"], content["version"]) == ("AdaptiveCard", "1.4")
        kinds = [element["type"] for element in content["body"]]
        assert kinds == ["TextBlock", "FactSet", "ActionSet"]
        facts = {f["title"]: f["value"] for f in content["body"][1]["facts"]}
        assert set(facts) == {"Customer", "Order", "Time left", "Mailbox", "Client"}
        (action,) = content["body"][2]["actions"]
        assert action["type"] == "Action.OpenUrl" and action["url"].startswith(BASE_URL)
    # The webhook asked for overdue threads only; its body is signed.
    (posted,) = chat.to(chat.webhook_path)
    expected = hmac.new(WEBHOOK_KEY.encode(), posted.body, hashlib.sha256).hexdigest()
    assert posted.headers["X-Slawatch-Signature"] == f"sha256={expected}"
    body = posted.json()
    assert body["event"] == "overdue"
    assert (body["mailbox"], body["client"]) == ("store-1", "acme")
    thread = body["thread"]
    assert thread["id"] == overdue and thread["url"] == f"{BASE_URL}/threads/{overdue}"
    assert thread["time_left_seconds"] == -2 * 3600
    assert set(thread) == {
        "id",
        "subject",
        "customer",
        "order_number",
        "due_at",
        "time_left_seconds",
        "url",
    }

    # Nothing twice: more sweeps, now and later, post nothing more.
    for moment in (at, at, at + timedelta(minutes=1), at + timedelta(hours=1)):
        assert sweep(session_factory, settings, now=moment).channels.sent == 0
    assert len(chat.posted) == 5

    # The API lists each alert's deliveries by channel name, never a URL.
    with TestClient(create_app(settings)) as api:
        answer = api.get("/api/v1/alerts", headers=auth(make_token(Role.VIEWER)))
    assert chat.secret not in answer.text and "127.0.0.1" not in answer.text
    channels = sorted(d["channel"] for a in answer.json() for d in a["deliveries"])
    assert channels == [
        "ops-teams",
        "ops-teams",
        "slack:SLAWATCH_TEST_SLACK_URL",
        "slack:SLAWATCH_TEST_SLACK_URL",
        "webhook:SLAWATCH_TEST_WEBHOOK_URL",
    ]


def sample(kind: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "slawatch_channel_deliveries_total", {"kind": kind, "outcome": outcome}
    )
    return value or 0.0


def test_a_failing_channel_is_retried_with_back_off_while_the_others_deliver(
    chat: ChatReceiver,
    channels: ChannelSettings,
    session_factory: sessionmaker[Session],
) -> None:
    at = now()
    with session_factory.begin() as db:
        threads(db, mailbox(db), waited_hours=49, count=2, at=at)
    settings = channels()
    chat.status[chat.slack_path] = 404  # Slack's no_service: a removed app, say
    retrying_before = sample("slack", "retrying")

    first = sweep(session_factory, settings, now=at)

    assert len(chat.to(chat.teams_path)) == 2 and len(chat.to(chat.webhook_path)) == 2
    # One refusal, and Slack's other alert of the round waits rather than failing in turn.
    assert len(chat.to(chat.slack_path)) == 1
    assert (first.channels.sent, first.channels.retrying) == (4, 1)
    assert sample("slack", "retrying") == retrying_before + 1
    with session_factory() as db:
        slack = list(
            db.scalars(
                select(AlertDelivery)
                .where(AlertDelivery.channel_kind == "slack")
                .order_by(AlertDelivery.attempts.desc())
            )
        )
    assert [(d.state, d.attempts) for d in slack] == [
        (AlertState.PENDING, 1),
        (AlertState.PENDING, 0),
    ]
    assert slack[0].last_error == (
        "alert channel 'slack:SLAWATCH_TEST_SLACK_URL': answered HTTP 404 (no_service)"
    )

    del chat.status[chat.slack_path]
    assert sweep(session_factory, settings, now=at).channels.sent == 0  # backing off
    assert len(chat.to(chat.slack_path)) == 1
    later = sweep(session_factory, settings, now=at + timedelta(minutes=2))
    assert later.channels.sent == 2
    assert sweep(session_factory, settings, now=at + timedelta(minutes=30)).channels.sent == 0
    assert len(chat.to(chat.slack_path)) == 3  # the refused one, then each alert once
    assert len(chat.to(chat.teams_path)) == 2 and len(chat.to(chat.webhook_path)) == 2


def test_a_channel_that_keeps_failing_gives_up_after_max_attempts(
    chat: ChatReceiver,
    channels: ChannelSettings,
    session_factory: sessionmaker[Session],
) -> None:
    at = now()
    with session_factory.begin() as db:
        threads(db, mailbox(db), waited_hours=49, at=at)
    settings = channels(max_attempts=3)
    chat.status[chat.webhook_path] = 500
    outcomes = [
        sweep(session_factory, settings, now=at + timedelta(hours=h)).channels for h in range(4)
    ]
    assert [(o.retrying, o.failed) for o in outcomes] == [(1, 0), (1, 0), (0, 1), (0, 0)]
    assert len(chat.to(chat.webhook_path)) == 3
    assert len(chat.to(chat.slack_path)) == 1 and len(chat.to(chat.teams_path)) == 1


def test_the_digest_batches_a_chat_channels_non_urgent_alerts_but_not_a_webhooks(
    chat: ChatReceiver,
    channels: ChannelSettings,
    session_factory: sessionmaker[Session],
) -> None:
    at = now()
    with session_factory.begin() as db:
        threads(db, mailbox(db), waited_hours=37, count=12, at=at)  # at risk: not urgent
    settings = channels(digest_minutes=60)

    assert sweep(session_factory, settings, now=at).channels.sent == 0  # the digest slot
    assert chat.posted == []
    released = sweep(session_factory, settings, now=at + timedelta(minutes=61))

    assert released.channels.sent == 3 * 12
    # Each alert once, in a few messages of at most ten (Slack refuses more than 50 blocks).
    digests = [m.json() for m in chat.to(chat.slack_path)]
    sizes = [[b["type"] for b in d["blocks"]].count("header") for d in digests]
    assert sum(sizes) == 12 and max(sizes) <= 10 and len(digests) <= 3
    assert all(len(d["blocks"]) <= 50 for d in digests)
    assert [d["text"] for d in digests] == [f"slawatch: {n} alerts" for n in sizes]
    cards = [m.json()["attachments"][0]["content"]["body"] for m in chat.to(chat.teams_path)]
    sizes = [[e["type"] for e in body].count("FactSet") for body in cards]
    assert sum(sizes) == 12 and max(sizes) <= 10 and len(cards) <= 3
    assert len(chat.to(chat.webhook_path)) == 12


def test_alerts_go_to_the_channels_of_their_mailbox_client_and_event(
    chat: ChatReceiver,
    channels: ChannelSettings,
    session_factory: sessionmaker[Session],
) -> None:
    at = now()
    with session_factory.begin() as db:
        acme = mailbox(db, "acme-store", client="acme")
        globex = mailbox(db, "globex-store", client="globex")
        threads(db, acme, waited_hours=40, at=at)
        threads(db, globex, waited_hours=50, at=at)
    settings = channels()
    slack, teams, hook = settings.alerts.channels
    routed = settings.model_copy(
        update={
            "alerts": settings.alerts.model_copy(
                update={
                    "channels": [
                        slack.model_copy(update={"clients": ["globex"]}),
                        teams.model_copy(update={"mailboxes": ["acme-store"]}),
                        hook.model_copy(update={"events": ["at_risk"]}),
                    ]
                }
            )
        }
    )

    sweep(session_factory, routed, now=at)

    assert [m.json()["text"].split(":")[1] for m in chat.to(chat.slack_path)] == [" OVERDUE"]
    assert len(chat.to(chat.teams_path)) == 1
    assert chat.to(chat.teams_path)[0].json()["attachments"][0]["content"]["body"][1]["facts"][
        3
    ] == {"title": "Mailbox", "value": "acme-store"}
    assert [m.json()["event"] for m in chat.to(chat.webhook_path)] == ["at_risk"]


def test_quiet_hours_hold_a_channels_non_urgent_alerts_until_the_team_is_back(
    chat: ChatReceiver,
    channels: ChannelSettings,
    session_factory: sessionmaker[Session],
) -> None:
    at = now().replace(second=0, microsecond=0)
    with session_factory.begin() as db:
        box = mailbox(db)
        threads(db, box, waited_hours=37, at=at)  # at risk, 11 h left: it can wait
        threads(db, box, waited_hours=49, at=at)  # overdue, not urgent for a customer
    quiet = QuietHours(start=(at - timedelta(hours=1)).time(), end=(at + timedelta(hours=1)).time())
    settings = channels(quiet_hours=quiet)

    sweep(session_factory, settings, now=at)
    assert chat.posted == []
    assert sweep(session_factory, settings, now=at + timedelta(minutes=59)).channels.sent == 0
    back = sweep(session_factory, settings, now=at + timedelta(hours=1, minutes=1))
    assert back.channels.sent == 6


def test_a_cancellation_request_reaches_the_channels_like_any_alert(
    chat: ChatReceiver,
    channels: ChannelSettings,
    session_factory: sessionmaker[Session],
) -> None:
    at = now()
    settings = channels(webhook_events=["cancel_request"])
    with session_factory.begin() as db:
        (thread_id,) = threads(db, mailbox(db), waited_hours=1, at=at)
        thread = db.get(Thread, thread_id)
        assert thread is not None
        thread.cancel_requested_at, thread.cancel_due_at = at, at + timedelta(hours=4)
        alert_service.cancel_request_alert(
            db,
            thread=thread,
            mailbox_name="store-1",
            purchase_order_id="108829272810783",
            products=["Desk lamp"],
            settings=settings,
            now=at,
        )

    assert sweep(session_factory, settings, now=at).channels.sent == 3

    (posted,) = chat.to(chat.webhook_path)
    body = posted.json()
    assert body["event"] == "cancel_request" and body["urgent"] is True
    assert body["thread"]["time_left_seconds"] == 4 * 3600
    assert body["reason"].startswith("the customer asked to cancel")
    (message,) = [m.json() for m in chat.to(chat.slack_path)]
    assert message["text"].startswith("slawatch: CANCELLATION REQUEST: ")
    assert facts_of_slack(message)["Why"].startswith("the customer asked to cancel")
