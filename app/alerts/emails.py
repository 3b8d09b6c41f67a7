"""Alert emails: a plain-text and an HTML part, both from templates/alerts/."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

from app.config import Settings
from app.mail.header_values import one_line
from app.models import Alert
from app.sla import REMINDER, is_reminder
from app.templating import html_templates

templates = html_templates("alerts")

TITLES = {
    "overdue": "OVERDUE",
    "at_risk": "at risk",
    "escalation": "new escalation",
    "complaint": "COMPLAINT (1 hour)",
    "mailbox_down": "MAILBOX NOT POLLED",
    "mailbox_recovered": "mailbox recovered",
    "rate_at_line": "response rate one miss from the line",
    "cancel_request": "CANCELLATION REQUEST",
}


def title(kind: str) -> str:
    """What an alert of ``kind`` is called in its subject and heading."""
    if is_reminder(kind):  # remind_6h
        return f"{kind.removeprefix(REMINDER).removesuffix('h')} h left"
    return TITLES.get(kind, kind.replace("_", " "))


def thread_link(base_url: str, thread_id: int) -> str:
    """The thread on the agent page."""
    return f"{base_url.rstrip('/')}/threads/{thread_id}"


def hours_text(seconds: float) -> str:
    minutes = int(abs(seconds)) // 60
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _item(alert: Alert, settings: Settings, now: datetime) -> dict[str, Any]:
    detail = dict(alert.detail)
    item: dict[str, Any] = {
        "title": title(alert.kind),
        "kind": alert.kind,
        **detail,
    }
    if alert.thread_id is not None:
        item["link"] = thread_link(settings.base_url, alert.thread_id)
        started = detail.get("clock_started_at")
        due = detail.get("due_at")
        if started:
            item["waited"] = hours_text((now - datetime.fromisoformat(started)).total_seconds())
        if due:
            left = (datetime.fromisoformat(due) - now).total_seconds()
            item["overdue_by" if left < 0 else "time_left"] = hours_text(left)
    return item


def subject_line(alerts: list[Alert]) -> str:
    if len(alerts) == 1:
        alert = alerts[0]
        order = alert.detail.get("order_number")
        about = alert.subject[:120] + (f" (order {order})" if order else "")
        return f"[slawatch] {title(alert.kind)}: {about}"
    counts = Counter(title(a.kind) for a in alerts)
    return f"[slawatch] {len(alerts)} alerts: " + ", ".join(f"{n} {t}" for t, n in counts.items())


def compose(
    alerts: list[Alert], *, settings: Settings, sender: str, message_id: str, now: datetime
) -> EmailMessage:
    items = [_item(alert, settings, now) for alert in alerts]
    context = {"items": items, "now": now, "base_url": settings.base_url}
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(alerts[0].recipients)
    message["Subject"] = one_line(subject_line(alerts))  # never a CR/LF in a header
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"  # so no auto-responder answers an alert
    message.set_content(templates.get_template("alert.txt").render(context))
    message.add_alternative(templates.get_template("alert.html").render(context), subtype="html")
    return message
