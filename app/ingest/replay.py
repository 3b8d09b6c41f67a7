"""Replaying dead letters: messages kept raw because they could not be stored, tried again."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import session_scope
from app.ingest import repository as ingest_repository
from app.ingest.store import Outcome, store_batch
from app.mail.fetched import FetchedMessage
from app.mailboxes import registry
from app.sla import DEFAULT_MARKETPLACE, policy_lookup


@dataclass
class ReplayReport:
    resolved: int = 0
    still_failing: list[str] = field(default_factory=list)


def replay_dead_letters(session_factory: sessionmaker[Session], settings: Settings) -> ReplayReport:
    """Process every unresolved dead letter again, e.g. after a fix; each keeps its raw bytes."""
    report = ReplayReport()
    with session_scope(session_factory) as db:
        by_name = registry.all_settings(db, settings)  # API mailboxes too
        for letter in ingest_repository.unresolved_dead_letters(db):
            cursor = letter.cursor
            if letter.raw is None:
                report.still_failing.append(
                    f"dead letter {letter.id}: {letter.error}; nothing to replay (the server never "
                    "gave the message): read it in the mailbox itself"
                )
                continue
            mailbox_settings = by_name.get(cursor.mailbox.name)
            seller_addresses = frozenset(
                mailbox_settings.seller_addresses if mailbox_settings else ()
            )
            marketplace = mailbox_settings.marketplace if mailbox_settings else DEFAULT_MARKETPLACE
            ((outcome, _),) = store_batch(
                db,
                cursor=cursor,
                uidvalidity=letter.uidvalidity,
                fetched=[
                    FetchedMessage(
                        uid=letter.uid,
                        internal_date=letter.internal_date,
                        raw=letter.raw,
                        headers_only=letter.headers_only,
                        size=letter.size,
                        problems=tuple(letter.fetch_problems or ()),
                    )
                ],
                seller_addresses=seller_addresses,
                policy_for=policy_lookup(settings.sla, marketplace),
            )
            if outcome == Outcome.FAILED:
                report.still_failing.append(f"dead letter {letter.id}: {letter.error}")
            else:
                report.resolved += 1
    return report
