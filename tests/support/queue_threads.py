"""A working day's queue for the page tests: two clients' mailboxes and customers waiting in each,
stored without a mail server."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings
from app.db import session_scope
from app.enums import FolderRole, Role
from app.ingest.store import store_message
from app.mailboxes import repository as mailbox_repository
from app.models import Thread
from app.replies.templates import seed_on_first_run
from app.sla import policy_lookup
from app.users.service import create_user, set_password
from tests.support.mailfactory import SELLER_ADDRESS, customer
from tests.support.web import PASSWORD

# (mailbox, client, buyer, order, subject, text, hours ago): Dora is the most urgent (40 of her
# 48 hours gone), then Frank, Eve and Gus. Eve's and Gus's subjects differ only where a LIKE
# wildcard would match either.
CUSTOMERS = [
    ("store-a", "acme", "Dora", "108829272810783", "Where is my order?", "Still waiting.", 40),
    ("store-b", "zeta", "Frank", "200011419023224", "Lamp", "It arrived broken.", 30),
    ("store-a", "acme", "Eve", "300011419023224", "Refund for 50%_off coupon", "Please.", 20),
    ("store-b", "zeta", "Gus", "400011419023224", "Refund for 50 off coupon", "Please.", 10),
]


def queue_settings(database_url: str, **overrides: Any) -> Settings:
    """The app's settings for the queue: both mailboxes configured (a thread page needs its
    mailbox's addresses), on a server the tests never poll."""
    mailboxes = {(mailbox, client) for mailbox, client, *_ in CUSTOMERS}
    return Settings(
        database_url=database_url,
        mailboxes=[
            MailboxSettings(
                name=name,
                client=client,
                host="127.0.0.1",
                username=f"{name}@store.example",
                password_env="SLAWATCH_MAILBOX_UNUSED",
                seller_addresses=[SELLER_ADDRESS],
            )
            for name, client in sorted(mailboxes)
        ],
        **overrides,
    )


def seed_queue(session_factory: sessionmaker[Session]) -> dict[str, int]:
    """The customers' threads (thread id by buyer), the starting templates, and users agnes
    (agent) and victor (viewer) with the test password."""
    policy_for = policy_lookup(Settings().sla, "walmart")
    with session_scope(session_factory) as db:
        for mailbox, client, buyer, order, subject, text, hours in CUSTOMERS:
            row = mailbox_repository.get_or_create_mailbox(db, mailbox)
            row.client = client
            arrived = now() - timedelta(hours=hours)
            store_message(
                db,
                mailbox_id=row.id,
                role=FolderRole.INBOX,
                raw=customer(
                    buyer,
                    order=order,
                    subject=subject,
                    body=f"Sales Order ID: {order}\nMessage: {text}\n",
                    date=arrived,
                ),
                arrived_at=arrived,
                seller_addresses=frozenset({SELLER_ADDRESS}),
                policy_for=policy_for,
            )
        seed_on_first_run(db)
        for name, role in (("agnes", Role.AGENT), ("victor", Role.VIEWER)):
            create_user(db, name=name, role=role, actor="test")
            set_password(db, name=name, password=PASSWORD, actor="test")
    buyers = {order: buyer for _m, _c, buyer, order, *_ in CUSTOMERS}
    with session_factory() as db:
        return {buyers[t.order_number]: t.id for t in db.scalars(select(Thread)) if t.order_number}
