"""Recording each poll's outcome on its mailbox: when it last succeeded, its last error and how many
polls in a row have failed (what the status page and the mailbox alerts read)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.db import session_scope
from app.mailboxes import repository as mailbox_repository

log = logging.getLogger(__name__)


def describe_database_error(error: SQLAlchemyError) -> str:
    first_line = str(getattr(error, "orig", None) or error).strip().splitlines()
    return (
        f"database error during the poll: {first_line[0] if first_line else type(error).__name__}"
    )


def record(
    session_factory: sessionmaker[Session],
    *,
    mailbox_id: int | None,
    mailbox: str,
    error: str | None,
    error_kind: str | None,
) -> None:
    """Record a poll's outcome (``error`` None: it succeeded) on the mailbox ``mailbox_id``."""
    if mailbox_id is None:
        return  # the database was not reachable even to start the poll
    try:
        _save(session_factory, mailbox_id=mailbox_id, error=error, error_kind=error_kind)
    except SQLAlchemyError as e:
        log.error(
            "mailbox %s: could not record the poll's outcome: %s",
            mailbox,
            describe_database_error(e),
        )


def _save(
    session_factory: sessionmaker[Session],
    *,
    mailbox_id: int,
    error: str | None,
    error_kind: str | None,
) -> None:
    with session_scope(session_factory) as db:
        mailbox = mailbox_repository.get_mailbox(db, mailbox_id)
        if error is None:
            mailbox.last_success_at = now()
            mailbox.consecutive_failures = 0
        else:
            mailbox.last_error_at = now()
            mailbox.last_error, mailbox.last_error_kind = error, error_kind
            mailbox.consecutive_failures += 1
