"""The ``slawatch`` command: wires settings, database and services together for each subcommand.

Each group of subcommands lives in its own module (service, jobs, users, mailboxes) and adds its
parsers here; a command imports the modules that do its work only when it runs, so that
``slawatch --help`` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from app.cli import jobs, mailboxes, server, users
from app.cli.common import EXIT_CONFIG, EXIT_FAILURE
from app.errors import ConfigError, SlawatchError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="slawatch", description="Keeps marketplace sellers inside their message SLA."
    )
    parser.add_argument(
        "--config",
        type=Path,
        help="TOML config file (default: $SLAWATCH_CONFIG or ./slawatch.toml)",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # The order here is the order `slawatch --help` lists the commands in.
    for group in (server, jobs, users, mailboxes):
        group.add_commands(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # --help ends here, before settings or the ORM load
    from sqlalchemy.exc import SQLAlchemyError

    from app.config import load_settings
    from app.logs import configure_logging

    try:
        settings = load_settings(args.config)
        configure_logging(settings.log_level)
        return int(args.handler(settings, args))
    except SlawatchError as e:
        print(f"slawatch: {e.message}", file=sys.stderr)
        # A configuration problem is a person's to fix (2); any other stopped the work (1).
        return EXIT_CONFIG if isinstance(e, ConfigError) else EXIT_FAILURE
    except SQLAlchemyError as e:
        print(f"slawatch: database error: {str(e).splitlines()[0]}", file=sys.stderr)
        print("(has the database been created with `slawatch migrate`?)", file=sys.stderr)
        return EXIT_FAILURE
