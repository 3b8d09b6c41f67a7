"""``slawatch poll``, ``sweep`` and ``replay``: one round of a worker's job, run by hand."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from app.cli.common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, engine_for

if TYPE_CHECKING:
    from app.cli.common import Commands
    from app.config import Settings


def add_commands(commands: Commands) -> None:
    poll = commands.add_parser("poll", help="fetch new mail from every mailbox")
    poll.add_argument("--once", action="store_true", required=True, help="one round, then exit")
    poll.set_defaults(handler=_cmd_poll)

    sweep = commands.add_parser("sweep", help="record SLA transitions and send alerts")
    sweep.add_argument("--once", action="store_true", required=True, help="one round, then exit")
    sweep.set_defaults(handler=_cmd_sweep)

    commands.add_parser(
        "replay", help="process the dead letters (messages that failed) again"
    ).set_defaults(handler=_cmd_replay)


def _cmd_poll(settings: Settings, _: argparse.Namespace) -> int:
    from app.db import make_session_factory, session_scope
    from app.ingest.poll import poll_mailbox
    from app.mailboxes import registry
    from app.mailboxes import service as mailbox_service
    from app.oauth.grants import Logins

    with engine_for(settings) as engine:
        session_factory = make_session_factory(engine)
        with session_scope(session_factory) as db:
            mailbox_service.sync_configured(db, settings)
            active = registry.active(db, settings)
        if not active:
            print("no mailboxes configured: add [[mailboxes]] to slawatch.toml", file=sys.stderr)
            return EXIT_CONFIG
        failures = config_problems = 0
        logins = Logins(session_factory, settings)
        for mailbox in active:
            report = poll_mailbox(session_factory, mailbox, sla=settings.sla, logins=logins)
            if report.error:
                failures += 1
                # An unset secret is the same configuration problem as in check-config: exit 2.
                config_problems += report.error_kind == "config"
                print(f"{mailbox.name}: FAILED: {report.error}")
                continue
            for folder in report.folders:
                if folder.path is None:
                    print(f"{mailbox.name} {folder.role}: no such folder on the server")
                    continue
                extra = "".join(
                    f", {count} {label}"
                    for count, label in [
                        (folder.duplicates, "already stored"),
                        (folder.skipped, "not whitelisted (skipped)"),
                        (folder.failed, "FAILED (see dead letters)"),
                    ]
                    if count
                )
                if folder.unanswered:
                    uids = ", ".join(str(uid) for uid in folder.unanswered)
                    extra += f", UIDs {uids} answered without their content (read again next poll)"
                print(f"{mailbox.name} {folder.role} ({folder.path}): {folder.new} new{extra}")
                failures += bool(folder.failed)
    return EXIT_CONFIG if config_problems else EXIT_FAILURE if failures else EXIT_OK


def _cmd_replay(settings: Settings, _: argparse.Namespace) -> int:
    from app.db import make_session_factory
    from app.ingest.replay import replay_dead_letters

    with engine_for(settings) as engine:
        report = replay_dead_letters(make_session_factory(engine), settings)
    print(f"{report.resolved} dead letters stored")
    for failure in report.still_failing:
        print(f"still failing: {failure}")
    return EXIT_FAILURE if report.still_failing else EXIT_OK


def _cmd_sweep(settings: Settings, _: argparse.Namespace) -> int:
    from app.alerts.jobs import sweep
    from app.clock import now
    from app.db import make_session_factory

    with engine_for(settings) as engine:
        report = sweep(make_session_factory(engine), settings, now=now())
    print(f"{len(report.transitions)} SLA transitions recorded, {len(report.alerts)} alerts raised")
    for t in report.transitions:
        print(f"thread {t.thread_id}: {t.from_level or 'new'} -> {t.to_level}")
    d = report.delivery
    print(
        f"alerts sent: {d.sent}, to retry: {d.retrying}, failed: {d.failed}, "
        f"not emailed (no SMTP): {d.skipped}"
    )
    c = report.channels
    if settings.alerts.channels:
        print(f"channel deliveries sent: {c.sent}, to retry: {c.retrying}, failed: {c.failed}")
    return EXIT_FAILURE if d.failed or c.failed else EXIT_OK
