"""``slawatch migrate``, ``serve`` (with ``--demo``) and ``worker``: the long-running service."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from app.cli.common import CLI_ACTOR, EXIT_OK, engine_for, session_for
from app.enums import Role
from app.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from app.cli.common import Commands
    from app.config import Settings

DEMO_USER, DEMO_PASSWORD = "demo", "demo-password"


def add_commands(commands: Commands) -> None:
    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        handler=_cmd_migrate
    )

    serve = commands.add_parser("serve", help="run the API, and a worker process beside it")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument(
        "--demo",
        action="store_true",
        help="with no mailbox configured: a generated month of mail in its own database",
    )
    serve.add_argument(
        "--no-scheduler",
        action="store_true",
        help="serve the API only, no worker process (replicas beside `slawatch worker`s)",
    )
    serve.set_defaults(handler=_cmd_serve)

    worker = commands.add_parser(
        "worker", help="poll, sweep and alert without the API (several share one PostgreSQL)"
    )
    worker.add_argument(
        "--nice", type=int, default=0, metavar="N", help="lower the CPU priority by N (os.nice)"
    )
    worker.add_argument(
        "--until-stdin-closes",
        action="store_true",
        help="also stop when standard input ends (how `serve` runs its worker)",
    )
    worker.set_defaults(handler=_cmd_worker)


def _cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    from app import migrate
    from app.replies.templates import seed_on_first_run

    migrate.upgrade(settings.database_url)
    print(f"database at revision {migrate.head_revision()}")
    with session_for(settings) as db:
        added = seed_on_first_run(db)
    if added:
        print(f"{added} starting reply templates loaded")
    return EXIT_OK


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import logging
    import os
    import signal

    import uvicorn

    from app.db import make_session_factory, session_scope
    from app.main import create_app
    from app.migrate import check_schema_current
    from app.users.repository import list_users
    from app.worker_process import WorkerProcess, worker_command

    if args.demo:
        settings = _demo_settings(settings)
    with engine_for(settings) as engine:
        if args.demo:
            _load_demo(engine, settings)
        check_schema_current(settings.database_url)
        with session_scope(make_session_factory(engine)) as db:
            if not list_users(db):
                print(
                    "No users yet. Create one to sign in at /:\n"
                    "  slawatch users add admin --role admin --password",
                    file=sys.stderr,
                )
    if settings.smtp is None:
        # Said once here, not at every sweep or page: monitoring only is a choice, not a fault.
        logging.getLogger(__name__).info(
            "SMTP is not configured (no [smtp] section): alert emails are off, and so are "
            "replies from mailboxes without an smtp_host of their own; chat channels still get "
            "alerts"
        )
    # uvicorn stops gracefully on SIGTERM or SIGINT, then raises the signal again for the handler
    # it found: this one ends `serve` through the finally below, which stops its worker in order.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _exit_cleanly)
    worker = None
    if not args.no_scheduler:
        # The worker is told the database `serve` uses (the demo's has no config key of its own).
        env = {**os.environ, "SLAWATCH_DATABASE_URL": settings.database_url}
        worker = WorkerProcess(worker_command(args.config and str(args.config)), env=env)
        worker.start()
    try:
        uvicorn.run(
            create_app(settings),
            host=args.host,
            port=args.port,
            log_config=None,
            # The client's address and scheme (https: Secure cookies) come from X-Forwarded-For
            # and -Proto only when a trusted proxy sends them; anyone else could claim any.
            proxy_headers=True,
            forwarded_allow_ips=settings.server.trusted_proxies(),
        )
    finally:
        if worker:
            worker.stop()
    return EXIT_OK


def _exit_cleanly(*_: object) -> None:
    raise SystemExit(EXIT_OK)


def _cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Polls, sweeps and alerts without the API, until SIGTERM or SIGINT (or, for `serve`'s
    worker, the end of standard input); then hands its mailboxes back so other workers take them
    over at once."""
    import faulthandler
    import logging
    import signal
    import threading

    from app.migrate import check_schema_current
    from app.worker import Worker
    from app.worker_process import lower_priority, stop_when_stdin_closes

    if args.nice:
        lower_priority(args.nice)
    check_schema_current(settings.database_url)
    # `kill -USR1 <pid>` prints every thread's stack to stderr: what a stuck worker is doing.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    with engine_for(settings) as engine:
        worker = Worker(settings, engine)
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        if args.until_stdin_closes:
            stop_when_stdin_closes(stopping)
        worker.start()
        logging.getLogger("app.worker").info("worker %s started", worker.id)
        stopping.wait()
        worker.shutdown()
    return EXIT_OK


def _demo_settings(settings: Settings) -> Settings:
    """The settings with the demo's own database, its schema brought up to date."""
    from app import demo, migrate

    if settings.mailboxes:
        raise ConfigError(
            "--demo is for a slawatch without mailboxes: demo data is never mixed "
            "with real mail (remove --demo to watch the configured mailboxes)"
        )
    settings = settings.model_copy(update={"database_url": demo.DEMO_DATABASE_URL})
    migrate.upgrade(settings.database_url)
    return settings


def _load_demo(engine: Engine, settings: Settings) -> None:
    """The demo's database filled once with a generated month of mail and a demo user."""
    from app import demo
    from app.alerts.jobs import sweep
    from app.clock import now
    from app.db import make_read_session_factory, make_session_factory, session_scope
    from app.replies.templates import seed_on_first_run
    from app.threads import jobs as thread_jobs
    from app.users.service import create_user, set_password

    session_factory = make_session_factory(engine)
    stored = demo.load(session_factory, settings, now=now())
    if stored:
        sweep(session_factory, settings, now=now())
        thread_jobs.refresh_all(
            read_factory=make_read_session_factory(engine), write_factory=session_factory, now=now()
        )
        with session_scope(session_factory) as db:
            seed_on_first_run(db)
            create_user(db, name=DEMO_USER, role=Role.AGENT, actor=CLI_ACTOR)
            set_password(db, name=DEMO_USER, password=DEMO_PASSWORD, actor=CLI_ACTOR)
    print(
        f"DEMO DATA (generated, not real mail) in {demo.DEMO_DATABASE_URL}: "
        f"sign in as {DEMO_USER} / {DEMO_PASSWORD}",
        file=sys.stderr,
    )
