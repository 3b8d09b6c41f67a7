"""Demo data: a generated month of a Walmart seller's customer mail, for a first look.

It goes through the real pipeline (parsing, classification, threading, the SLA clock), lives in
its own database file (`slawatch serve --demo`), and its mailbox is named so no one can take it for
real mail.
"""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from sqlalchemy.orm import Session, sessionmaker

from app.config import MailboxSettings, Settings
from app.db import session_scope
from app.enums import FolderRole
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.sla import policy_lookup
from app.threads import activity

DEMO_MAILBOX = "demo-store"
HISTORY = timedelta(days=30)
DEMO_DATABASE_URL = "sqlite:///./slawatch-demo.db"
SELLER = "support@demo-store.example"
DEMO_SETTINGS = MailboxSettings(
    name=DEMO_MAILBOX,
    host="imap.demo-store.example",
    username=SELLER,
    password_env="SLAWATCH_MAILBOX_DEMO_PASSWORD",  # never set: the demo is never polled
    seller_addresses=[SELLER],
)
BUYERS = [
    "Maria",
    "James",
    "Aisha",
    "Wei",
    "Carlos",
    "Emily",
    "Noah",
    "Fatima",
    "Liam",
    "Grace",
    "Diego",
    "Hannah",
    "Omar",
    "Sofia",
    "Ethan",
    "Priya",
    "Lucas",
    "Chloe",
    "Mateo",
    "Zoe",
]
QUESTIONS = [
    ("Where is my order?", "Hi, my order {order} has not arrived yet. Can you check on it?"),
    ("Item arrived damaged", "The lamp from order {order} arrived with a cracked base."),
    ("Wrong size received", "I ordered a medium but received a large (order {order})."),
    ("Return request", "I would like to return order {order}. How do I do that?"),
    ("Cancel my order", "Please cancel order {order}, I ordered it by mistake."),
    ("Question about the warranty", "Does the blender in order {order} have a warranty?"),
    ("Missing part", "The assembly screws were missing from order {order}."),
    ("Tracking not updating", "Tracking for order {order} has not moved in four days."),
]
REPLY = (
    "Hello {name},\n\nThank you for reaching out about order {order}. I am sorry for the "
    "trouble. I have looked into it and will follow up with you.\n\nDemo Store Customer Care\n"
)


def _relay(name: str, i: int) -> str:
    digest = hashlib.md5(f"{name}-{i}".encode()).hexdigest().upper()  # noqa: S324 (an id)
    return f"{digest}@relay.walmart.com"


def _mail(
    *,
    sender: str,
    to: str,
    subject: str,
    body: str,
    when: datetime,
    reply_to: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, subject
    message["Date"] = format_datetime(when)
    message["Message-ID"] = make_msgid(domain="demo-store.example")
    if reply_to:
        message["In-Reply-To"] = message["References"] = reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    return message.as_bytes()


def _conversations(
    rng: random.Random, now: datetime, count: int
) -> list[tuple[FolderRole, datetime, bytes]]:
    """(folder, arrival, raw) of every message, oldest first."""
    mail: list[tuple[FolderRole, datetime, bytes]] = []
    for i in range(count):
        name = rng.choice(BUYERS)
        order = f"1088{rng.randrange(10**10, 10**11)}"
        subject, question = rng.choice(QUESTIONS)
        recent = rng.random() < 0.12  # the last three days: some still waiting, a few overdue
        hours_ago = (
            rng.uniform(0, 72) if recent else rng.uniform(72, HISTORY.total_seconds() / 3600)
        )
        arrived = now - timedelta(hours=hours_ago)
        relay = _relay(name, i)
        folder = FolderRole.SPAM if rng.random() < 0.08 else FolderRole.INBOX
        first = _mail(
            sender=f"{name} <{relay}>",
            to=SELLER,
            subject=f"{subject} ({order})",
            body=question.format(order=order),
            when=arrived,
        )
        mail.append((folder, arrived, first))
        # Mostly 4 to 20 hours; a few answered late, as happens on a busy week.
        late = rng.random() < 0.05
        answer_after = timedelta(
            hours=rng.uniform(49, 80) if late else rng.lognormvariate(2.2, 0.7)
        )
        answered = arrived + answer_after
        if (not recent or rng.random() < 0.5) and answered < now:
            message_id = _message_id(first)
            mail.append(
                (
                    FolderRole.SENT,
                    answered,
                    _mail(
                        sender=SELLER,
                        to=relay,
                        subject=f"Re: {subject} ({order})",
                        body=REPLY.format(name=name, order=order),
                        when=answered,
                        reply_to=message_id,
                    ),
                )
            )
    for day in range(0, 30, 2):  # payment notices: automated, never a clock
        when = now - timedelta(days=day, hours=3)
        mail.append(
            (
                FolderRole.INBOX,
                when,
                _mail(
                    sender="mp-payments@relay.walmart.com",
                    to=SELLER,
                    subject="Your payment is on its way",
                    body="Your settlement report is ready in Seller Center.",
                    when=when,
                ),
            )
        )
    escalated = now - timedelta(hours=30)
    mail.append(
        (
            FolderRole.INBOX,
            escalated,
            _mail(
                sender="Walmart Partner Support <partnerhelp@wal-mart.com>",
                to=SELLER,
                subject="[Customer Care] Case 0423 about order 108851234567890",
                body=(
                    "Customer Care case number 0423: the customer reports order "
                    "108851234567890 as not received. Please respond within 48 hours."
                ),
                when=escalated,
            ),
        )
    )
    return sorted(mail, key=lambda item: item[1])


def _message_id(raw: bytes) -> str:
    for line in raw.split(b"\n"):
        if line.lower().startswith(b"message-id:"):
            return line.split(b":", 1)[1].strip().decode()
    raise ValueError("no Message-ID")


def load(
    session_factory: sessionmaker[Session],
    settings: Settings,
    *,
    now: datetime,
    conversations: int = 300,
    seed: int = 2026,
) -> int:
    """Fill an empty demo database; returns the number of messages stored (0 when already there).
    Refuses a database that holds any other mailbox: demo data is never mixed with real mail."""
    with session_scope(session_factory) as db:
        names = {m.name for m in mailbox_repository.list_mailboxes(db)}
        if names - {DEMO_MAILBOX}:
            raise ValueError(
                f"this database holds real mailboxes ({', '.join(sorted(names))}); "
                "demo data goes only into its own database"
            )
        if DEMO_MAILBOX in names:
            return 0
        mailbox = mailbox_repository.get_or_create_mailbox(db, DEMO_MAILBOX)
        # Settings of its own, so replies can be drafted from its seller address; disabled, so
        # nothing ever polls the made-up server.
        mailbox.source, mailbox.enabled = "api", False
        mailbox.settings = DEMO_SETTINGS.model_dump(mode="json", exclude_unset=True)
        mailbox_id = mailbox.id
        policy_for = policy_lookup(settings.sla, "walmart")
        stored = 0
        rng = random.Random(seed)  # noqa: S311 (made-up mail, not secrets)
        for folder, arrived, raw in _conversations(rng, now, conversations):
            if store_message(
                db,
                mailbox_id=mailbox_id,
                role=folder,
                raw=raw,
                arrived_at=arrived,
                seller_addresses=frozenset({SELLER}),
                policy_for=policy_for,
            ):
                stored += 1
        demo_mailbox = mailbox_repository.get_mailbox(db, mailbox_id)
        demo_mailbox.last_poll_at = demo_mailbox.last_success_at = now
        db.flush()
        activity.replay_samples(
            db, mailbox_id=mailbox_id, since=now - HISTORY, now=now, policy_for=policy_for
        )
    return stored
