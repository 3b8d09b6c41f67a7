"""What channels are sent, as pure functions: a mailbox alert, an alert of a kind nobody named a
title for (another part of slawatch may add one), and the signature."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from app.alerts.channels import payloads
from app.enums import AlertState
from app.models import Alert

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def alert(kind: str, **fields: object) -> Alert:
    return Alert(
        kind=kind,
        dedupe_key=f"test:{kind}",
        subject=str(fields.pop("subject", "mailbox store-1")),
        detail=fields.pop("detail", {}),
        urgent=True,
        state=AlertState.PENDING,
        deliver_after=NOW,
        **fields,
    )


def test_a_mailbox_alert_says_which_mailbox_and_why_with_no_thread() -> None:
    down = alert("mailbox_down", detail={"mailbox": "store-1", "reason": "login refused"})
    notice = payloads.notice(down, mailbox="store-1", client=None, base_url="https://s", now=NOW)

    message = payloads.slack([notice])
    assert message["text"] == "slawatch: MAILBOX NOT POLLED: mailbox store-1"
    assert [b["type"] for b in message["blocks"]] == ["header", "section"]
    fields = [f["text"] for f in message["blocks"][1]["fields"]]
    assert fields == ["*Mailbox*\nstore-1", "*Why*\nlogin refused"]
    body = payloads.webhook(notice)
    assert body["thread"] is None and body["event"] == "mailbox_down"
    assert (body["mailbox"], body["reason"]) == ("store-1", "login refused")


def test_an_alert_of_a_new_kind_about_a_thread_without_a_clock_is_shown_as_it_is() -> None:
    cancel = alert(
        "refund_request",
        subject="Please cancel",
        thread_id=7,
        detail={"counterpart": "buyer@relay.walmart.com", "order_number": "200011419023224"},
    )
    notice = payloads.notice(
        cancel, mailbox="store-1", client="acme", base_url="https://s/", now=NOW
    )

    assert notice.title == "refund request" and notice.url == "https://s/threads/7"
    card = payloads.teams([notice])["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in card["body"][1]["facts"]}
    assert facts == {
        "Customer": "buyer@relay.walmart.com",
        "Order": "200011419023224",
        "Mailbox": "store-1",
        "Client": "acme",
    }
    thread = payloads.webhook(notice)["thread"]
    assert (thread["due_at"], thread["time_left_seconds"]) == (None, None)


def test_the_signature_is_the_hmac_of_the_exact_bytes() -> None:
    body = payloads.encode({"event": "überfällig"})
    assert body == '{"event":"überfällig"}'.encode()
    digest = hmac.new(b"key", body, hashlib.sha256).hexdigest()
    assert payloads.signature(body, "key") == f"sha256={digest}"
