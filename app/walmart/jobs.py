"""Reading orders in the background, never inside a poll's transaction: the orders of threads a
poll just created (the worker starts this after a poll that stored mail), and a job that keeps
the orders of waiting threads fresh at a bounded rate. Each read is an HTTP call with no session
open, then one short unit of work to keep what it gave."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings
from app.db import session_scope
from app.errors import WalmartApiError
from app.mailboxes import registry
from app.mailboxes import repository as mailbox_repository
from app.walmart import repository, service
from app.walmart.client import WalmartClient
from app.walmart.lookup import Found, find_order

log = logging.getLogger(__name__)

# Orders of new threads read after one poll, per mailbox (the rest wait for the refresh job).
NEW_BATCH = 20
# The refresh job: every ORDERS_SECONDS, at most REFRESH_BATCH orders per mailbox whose copy is
# older than REFRESH_AFTER (up to three GET calls each), least recently read first.
ORDERS_SECONDS = 60
REFRESH_BATCH = 10
REFRESH_AFTER = timedelta(minutes=30)
# Failures that stop a mailbox's round: the next order would fail the same way.
_STOPPING = ("config", "auth", "forbidden", "rate_limited", "unreachable")


def fetch(mailbox: MailboxSettings, order_number: str) -> Found | WalmartApiError:
    """The order from Walmart, or why not; no database."""
    try:
        return find_order(WalmartClient(mailbox), order_number)
    except WalmartApiError as e:
        return e
    except (ValueError, TypeError, KeyError, AttributeError) as e:  # a document unlike Walmart's
        log.exception("mailbox %s: order %s: Walmart's answer not read", mailbox.name, order_number)
        return WalmartApiError(
            "unreachable", f"Walmart's answer could not be read ({type(e).__name__})"
        )


def keep(
    session_factory: sessionmaker[Session],
    mailbox: MailboxSettings,
    *,
    mailbox_id: int,
    order_number: str,
    outcome: Found | WalmartApiError,
    at: datetime,
) -> None:
    """Keep a read's outcome (copy, failure, the API's health) in a unit of work of its own."""
    if isinstance(outcome, WalmartApiError) and outcome.kind in service.HEALTH_KINDS:
        log.warning("mailbox %s: order %s not read: %s", mailbox.name, order_number, outcome)
    try:
        with session_scope(session_factory) as db:
            service.store(
                db, mailbox_id=mailbox_id, order_number=order_number, outcome=outcome, at=at
            )
    except SQLAlchemyError as e:
        log.error("mailbox %s: order %s read but not kept: %s", mailbox.name, order_number, e)


def read_and_keep(
    session_factory: sessionmaker[Session],
    mailbox: MailboxSettings,
    *,
    mailbox_id: int,
    order_number: str,
) -> Found | WalmartApiError:
    """Read one order and keep the outcome."""
    outcome = fetch(mailbox, order_number)
    keep(
        session_factory,
        mailbox,
        mailbox_id=mailbox_id,
        order_number=order_number,
        outcome=outcome,
        at=now(),
    )
    return outcome


def _read_all(
    session_factory: sessionmaker[Session],
    mailbox: MailboxSettings,
    mailbox_id: int,
    numbers: list[str],
) -> int:
    read = 0
    for number in numbers:
        outcome = read_and_keep(
            session_factory, mailbox, mailbox_id=mailbox_id, order_number=number
        )
        if isinstance(outcome, WalmartApiError):
            if outcome.kind in _STOPPING:
                break
        else:
            read += 1
    return read


def read_new_orders(
    session_factory: sessionmaker[Session], mailbox: MailboxSettings, *, limit: int = NEW_BATCH
) -> int:
    """Read the orders of the mailbox's threads that have none yet; how many were read."""
    if not mailbox.has_walmart_api:
        return 0
    with session_scope(session_factory) as db:
        row = mailbox_repository.mailbox_by_name(db, mailbox.name)
        if row is None:
            return 0
        mailbox_id = row.id
        numbers = repository.never_read(db, mailbox_id=mailbox_id, limit=limit)
    return _read_all(session_factory, mailbox, mailbox_id, numbers)


def refresh_waiting(
    session_factory: sessionmaker[Session],
    settings: Settings,
    *,
    at: datetime,
    per_mailbox: int = REFRESH_BATCH,
) -> int:
    """Read again the orders of waiting threads whose copy is older than REFRESH_AFTER (or
    missing), at most ``per_mailbox`` per mailbox with API credentials; how many were read."""
    with session_scope(session_factory) as db:
        work = []
        for mailbox in registry.active(db, settings):
            row = mailbox_repository.mailbox_by_name(db, mailbox.name)
            if not mailbox.has_walmart_api or row is None:
                continue
            numbers = repository.stale_of_waiting(
                db, mailbox_id=row.id, attempted_before=at - REFRESH_AFTER, limit=per_mailbox
            )
            if numbers:
                work.append((mailbox, row.id, numbers))
    read = 0
    for mailbox, mailbox_id, numbers in work:
        try:
            read += _read_all(session_factory, mailbox, mailbox_id, numbers)
        except Exception:  # one mailbox's surprise must not keep the others' orders stale
            log.exception("mailbox %s: reading its orders failed", mailbox.name)
    return read
