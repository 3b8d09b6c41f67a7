"""Running the poller as an operator does (the CLI, its own process) and reading what it stored."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from imapclient import IMAPClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker

from app.config import MailboxSettings, Settings, SlaSettings
from app.ingest.poll import PollReport, poll_mailbox
from app.models import Message, MessageLocation
from app.oauth.grants import Logins
from tests.support.dovecot import Dovecot

ROOT = Path(__file__).parents[2]

# How long a test waits for something that must happen: enough for a shared CI machine under
# load. On a quiet machine each wait takes a second or less: it ends as soon as its condition holds.
PATIENCE = 120


def wait_for(condition: Callable[[], object], *, what: str, seconds: float = PATIENCE) -> None:
    """Wait until ``condition()`` holds; fail naming ``what`` if it has not after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"not within {seconds} s: {what}"
        time.sleep(0.05)


def idling_sessions(server: Dovecot) -> set[str]:
    """The IMAP sessions of ``server`` (their rawlogs) in which it has accepted an IDLE: from
    then on it tells the client of new mail."""
    return {
        path.stem
        for path in (server.base / "rawlog").glob("*.out")
        if b"+ idling" in path.read_bytes()
    }


def write_config(path: Path, *, database_url: str, mailboxes: list[MailboxSettings]) -> Path:
    lines = [f"database_url = {json.dumps(database_url)}"]
    for mailbox in mailboxes:
        lines.append("[[mailboxes]]")
        for key, value in mailbox.model_dump(exclude={"folders"}).items():
            if value is not None:
                lines.append(f"{key} = {json.dumps(value)}")
    path.write_text("\n".join(lines) + "\n")
    return path


def run_cli(*args: str, config: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", "--config", str(config), *args],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )


def poll(session_factory: sessionmaker[Session], mailbox: MailboxSettings) -> PollReport:
    """One poll with the default (Walmart) SLA policy."""
    return poll_mailbox(
        session_factory, mailbox, sla=SlaSettings(), logins=Logins(session_factory, Settings())
    )


def stored_message_ids(session_factory: sessionmaker[Session]) -> list[str]:
    with session_factory() as db:
        return sorted(db.scalars(select(Message.message_id_header)).all())  # type: ignore[arg-type]


def counts(session_factory: sessionmaker[Session]) -> tuple[int, int]:
    """(messages, locations) stored."""
    with session_factory() as db:
        return (
            db.scalar(select(func.count(Message.id))) or 0,
            db.scalar(select(func.count(MessageLocation.id))) or 0,
        )


def all_flags(client: IMAPClient) -> dict[tuple[str, int], frozenset[bytes]]:
    """Every message's flags in every folder (\\Recent aside: it is per-session by definition)."""
    flags = {}
    for _, _, folder in client.list_folders():
        client.select_folder(folder, readonly=True)
        uids = client.search(["ALL"])
        for uid, data in (client.fetch(uids, ["FLAGS"]) if uids else {}).items():
            flags[(folder, uid)] = frozenset(data[b"FLAGS"]) - {b"\\Recent"}
    return flags


@contextmanager
def poisoned(engine: Engine) -> Iterator[None]:
    """Inserting a message whose subject starts with POISON fails meanwhile: a real storage
    failure, made by the database (a trigger) rather than by patching our code."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            connection.execute(
                text(
                    "CREATE TRIGGER poison BEFORE INSERT ON messages "
                    "WHEN NEW.subject LIKE 'POISON%' "
                    "BEGIN SELECT RAISE(ABORT, 'poison message refused'); END"
                )
            )
        else:
            connection.execute(
                text(
                    "CREATE OR REPLACE FUNCTION poison() RETURNS trigger AS $$ BEGIN "
                    "IF NEW.subject LIKE 'POISON%' THEN RAISE EXCEPTION 'poison message refused'; "
                    "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            connection.execute(
                text(
                    "CREATE TRIGGER poison BEFORE INSERT ON messages "
                    "FOR EACH ROW EXECUTE FUNCTION poison()"
                )
            )
    try:
        yield
    finally:
        with engine.begin() as connection:
            connection.execute(
                text(
                    "DROP TRIGGER poison"
                    + ("" if engine.dialect.name == "sqlite" else " ON messages")
                )
            )
