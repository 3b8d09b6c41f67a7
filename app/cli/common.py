"""What every ``slawatch`` command shares: exit codes, the actor it records, engines, sessions."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeAlias

from app.errors import SlawatchError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.orm import Session

    from app.config import Settings

    # What build_parser hands each group of commands to add its subcommands to.
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
CLI_ACTOR = "cli"


@contextmanager
def engine_for(settings: Settings) -> Iterator[Engine]:
    """The command's one engine (its connection pool), disposed however the command ends."""
    from app.db import make_engine

    # A connection kept for each of the worker's poll threads and its own jobs: beyond the pool's
    # size every connection is opened and closed again per use (562 in a worker's first round of
    # 500 mailboxes with the default of 5).
    engine = make_engine(settings.database_url, pool_size=settings.worker.threads + 2)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def session_for(settings: Settings) -> Iterator[Session]:
    """One unit of work, committed at its end, for a command that needs no more."""
    from app.db import make_session_factory, session_scope

    with engine_for(settings) as engine, session_scope(make_session_factory(engine)) as db:
        yield db


def read_password(args: argparse.Namespace) -> str:
    """From standard input with --password-stdin (scripts), else asked twice on the terminal."""
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password for the agent page: ")
    if getpass.getpass("Again: ") != password:
        raise SlawatchError("the two passwords differ")
    return password
