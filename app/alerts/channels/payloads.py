"""What each kind of channel is sent: a Slack incoming-webhook message (text and Block Kit
blocks), a Microsoft Teams Adaptive Card through a Workflows webhook, or slawatch's own JSON for a
generic webhook, signed. Pure: alerts in, JSON bodies out; no I/O.

The time left is computed when the alert is sent, not when it was recorded: a digest or the end of
quiet hours may come hours later."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.alerts.emails import hours_text, thread_link, title
from app.models import Alert

SIGNATURE_HEADER = "X-Slawatch-Signature"
TEAMS_CARD = "application/vnd.microsoft.card.adaptive"
# Teams renders Adaptive Cards up to 1.5 on the desktop, 1.4 everywhere (mobile included).
TEAMS_CARD_VERSION = "1.4"


@dataclass(frozen=True)
class Notice:
    """One alert as a channel shows it."""

    event: str  # the alert's kind: at_risk, overdue, remind_6h, mailbox_down, cancel_request …
    title: str
    urgent: bool
    mailbox: str | None
    client: str | None
    thread_id: int | None
    subject: str
    customer: str | None
    order_number: str | None
    due_at: datetime | None
    time_left_seconds: int | None  # negative once overdue
    url: str | None  # the thread on the agent page
    found_in_spam: bool
    reason: str | None  # a mailbox alert's why

    @property
    def time_left(self) -> str | None:
        if self.time_left_seconds is None:
            return None
        words = hours_text(self.time_left_seconds)
        return f"overdue by {words}" if self.time_left_seconds < 0 else words


def notice(
    alert: Alert, *, mailbox: str | None, client: str | None, base_url: str, now: datetime
) -> Notice:
    detail = alert.detail
    due = datetime.fromisoformat(detail["due_at"]) if detail.get("due_at") else None
    return Notice(
        event=alert.kind,
        title=title(alert.kind),
        urgent=alert.urgent,
        mailbox=mailbox,
        client=client,
        thread_id=alert.thread_id,
        subject=alert.subject,
        customer=detail.get("counterpart"),
        order_number=detail.get("order_number"),
        due_at=due,
        time_left_seconds=int((due - now).total_seconds()) if due else None,
        url=thread_link(base_url, alert.thread_id) if alert.thread_id is not None else None,
        found_in_spam=bool(detail.get("found_in_spam")),
        reason=detail.get("reason"),
    )


def _headline(n: Notice) -> str:
    spam = " (found in spam)" if n.found_in_spam else ""
    about = n.subject or "(no subject)"
    return f"slawatch: {n.title}{spam}: {about}"


def _facts(n: Notice) -> list[tuple[str, str]]:
    if n.thread_id is None:
        return [("Mailbox", n.mailbox or "?"), ("Why", n.reason or "")]
    facts = [("Customer", n.customer or "unknown"), ("Order", n.order_number or "none found")]
    if n.time_left:  # an alert about a thread without a running clock has none
        facts.append(("Time left", n.time_left))
    facts.append(("Mailbox", n.mailbox or "?"))
    facts += [("Client", n.client)] if n.client else []
    return facts + ([("Why", n.reason)] if n.reason else [])  # e.g. a cancellation request


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn reads &, < and > as markup (links, mentions): a subject must stay text.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(notices: list[Notice]) -> dict[str, Any]:
    """An incoming-webhook message: ``text`` is what notifications show, the blocks the message."""
    blocks: list[dict[str, Any]] = []
    for n in notices:
        if blocks:
            blocks.append({"type": "divider"})
        blocks.append({"type": "header", "text": {"type": "plain_text", "text": n.title[:150]}})
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": f"*{_slack_escape(n.subject[:500] or '(no subject)')}*",
                },
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{_slack_escape(value)}"}
                    for name, value in _facts(n)
                ],
            }
        )
        if n.url:
            blocks.append(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "Open the thread"},
                            "url": n.url,
                        }
                    ],
                }
            )
    text = _headline(notices[0]) if len(notices) == 1 else f"slawatch: {len(notices)} alerts"
    return {"text": text, "blocks": blocks}


def teams(notices: list[Notice]) -> dict[str, Any]:
    """A Workflows webhook message carrying one Adaptive Card."""
    body: list[dict[str, Any]] = []
    for n in notices:
        body.append(
            {
                "type": "TextBlock",
                "text": _headline(n),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": "Attention" if n.urgent or n.event == "overdue" else "Default",
                "separator": bool(body),
            }
        )
        body.append({"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(n)]})
        if n.url:
            body.append(
                {
                    "type": "ActionSet",
                    "actions": [
                        {"type": "Action.OpenUrl", "title": "Open the thread", "url": n.url}
                    ],
                }
            )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": TEAMS_CARD_VERSION,
        "body": body,
    }
    return {
        "type": "message",
        "attachments": [{"contentType": TEAMS_CARD, "contentUrl": None, "content": card}],
    }


def webhook(n: Notice) -> dict[str, Any]:
    """slawatch's own JSON: one alert per request."""
    thread = None
    if n.thread_id is not None:
        thread = {
            "id": n.thread_id,
            "subject": n.subject,
            "customer": n.customer,
            "order_number": n.order_number,
            "due_at": n.due_at.isoformat() if n.due_at else None,
            "time_left_seconds": n.time_left_seconds,
            "url": n.url,
        }
    return {
        "event": n.event,
        "urgent": n.urgent,
        "thread": thread,
        "mailbox": n.mailbox,
        "client": n.client,
        "reason": n.reason,
    }


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def signature(body: bytes, key: str) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of the exact body sent, keyed with the webhook's
    secret: the consumer recomputes it over the bytes it received."""
    return "sha256=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()
