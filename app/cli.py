"""The ``slawatch`` command: wires settings, database and services together for each subcommand."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import SecretStr
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from app.config import MailboxSettings, Settings, load_settings
from app.db import make_engine, make_session_factory, normalise_url, session_scope
from app.enums import Role
from app.errors import ConfigError, SlawatchError
from app.logs import configure_logging

if TYPE_CHECKING:
    from app.oauth.grants import Logins

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2
CLI_ACTOR = "cli"
DEMO_USER, DEMO_PASSWORD = "demo", "demo-password"


def _cmd_migrate(settings: Settings, _: argparse.Namespace) -> int:
    from app import migrate
    from app.replies.templates import seed_on_first_run

    migrate.upgrade(settings.database_url)
    print(f"database at revision {migrate.head_revision()}")
    with _session(settings) as db:
        added = seed_on_first_run(db)
    if added:
        print(f"{added} starting reply templates loaded")
    return EXIT_OK


def _cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from app.main import check_schema_current, create_app
    from app.users.repository import list_users

    if args.demo:
        settings = _demo_settings(settings)
    with _engine(settings) as engine:
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
    uvicorn.run(
        create_app(settings, run_jobs=not args.no_scheduler),
        host=args.host,
        port=args.port,
        log_config=None,
        # The client's address and scheme (https: Secure cookies) come from X-Forwarded-For and
        # -Proto only when a trusted proxy sends them; anyone else could claim any.
        proxy_headers=True,
        forwarded_allow_ips=settings.server.trusted_proxies(),
    )
    return EXIT_OK


def _cmd_worker(settings: Settings, _: argparse.Namespace) -> int:
    """Polls, sweeps and alerts without the API, until SIGTERM or SIGINT; then hands its
    mailboxes back so other workers take them over at once."""
    import faulthandler
    import logging
    import signal
    import threading

    from app.main import check_schema_current
    from app.worker import Worker

    check_schema_current(settings.database_url)
    # `kill -USR1 <pid>` prints every thread's stack to stderr: what a stuck worker is doing.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    with _engine(settings) as engine:
        worker = Worker(settings, engine)
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
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
    from app.db import make_read_session_factory
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


def _cmd_poll(settings: Settings, _: argparse.Namespace) -> int:
    from app.ingest.poll import poll_mailbox
    from app.mailboxes import registry
    from app.mailboxes import service as mailbox_service
    from app.oauth.grants import Logins

    with _engine(settings) as engine:
        session_factory = make_session_factory(engine)
        with session_scope(session_factory) as db:
            mailbox_service.sync_configured(db, settings)
            active = registry.active(db, settings)
        if not active:
            print("no mailboxes configured: add [[mailboxes]] to slawatch.toml", file=sys.stderr)
            return EXIT_CONFIG
        failures = 0
        logins = Logins(session_factory, settings)
        for mailbox in active:
            report = poll_mailbox(session_factory, mailbox, sla=settings.sla, logins=logins)
            if report.error:
                failures += 1
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
                print(f"{mailbox.name} {folder.role} ({folder.path}): {folder.new} new{extra}")
                failures += bool(folder.failed)
    return EXIT_FAILURE if failures else EXIT_OK


def _cmd_replay(settings: Settings, _: argparse.Namespace) -> int:
    from app.ingest.replay import replay_dead_letters

    with _engine(settings) as engine:
        report = replay_dead_letters(make_session_factory(engine), settings)
    print(f"{report.resolved} dead letters stored")
    for failure in report.still_failing:
        print(f"still failing: {failure}")
    return EXIT_FAILURE if report.still_failing else EXIT_OK


def _cmd_sweep(settings: Settings, _: argparse.Namespace) -> int:
    from app.alerts.jobs import sweep
    from app.clock import now

    with _engine(settings) as engine:
        report = sweep(make_session_factory(engine), settings, now=now())
    print(f"{len(report.transitions)} SLA transitions recorded, {len(report.alerts)} alerts raised")
    for t in report.transitions:
        print(f"thread {t.thread_id}: {t.from_level or 'new'} -> {t.to_level}")
    d = report.delivery
    print(f"alerts sent: {d.sent}, to retry: {d.retrying}, failed: {d.failed}")
    return EXIT_FAILURE if d.failed else EXIT_OK


def _read_password(args: argparse.Namespace) -> str:
    """From standard input with --password-stdin (scripts), else asked twice on the terminal."""
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password for the agent page: ")
    if getpass.getpass("Again: ") != password:
        raise SlawatchError("the two passwords differ")
    return password


def _cmd_users_add(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import create_user, set_password

    password = _read_password(args) if args.password or args.password_stdin else None
    with _session(settings) as db:
        issued = create_user(db, name=args.name, role=Role(args.role), actor=CLI_ACTOR)
        if password is not None:
            set_password(db, name=args.name, password=password, actor=CLI_ACTOR)
    print(f"user {issued.user.name!r} created with role {issued.user.role}.")
    print("API token (shown only now; keep it secret):")
    print(issued.token)
    return EXIT_OK


def _cmd_users_password(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import set_password

    password = _read_password(args)
    with _session(settings) as db:
        set_password(db, name=args.name, password=password, actor=CLI_ACTOR)
    print(f"password set for {args.name!r}")
    return EXIT_OK


def _cmd_users_token(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import issue_token

    with _session(settings) as db:
        issued = issue_token(db, name=args.name, actor=CLI_ACTOR)
    print(f"new API token for {issued.user.name!r} (shown only now; keep it secret):")
    print(issued.token)
    return EXIT_OK


def _cmd_users_list(settings: Settings, _: argparse.Namespace) -> int:
    from app.users.repository import list_users

    with _session(settings) as db:
        for user in list_users(db):
            state = " (disabled)" if user.disabled_at else ""
            print(f"{user.name}\t{user.role}{state}")
    return EXIT_OK


def _cmd_users_disable(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import disable_user

    with _session(settings) as db:
        disable_user(db, name=args.name, actor=CLI_ACTOR)
    print(f"user {args.name!r} disabled: its tokens are refused, its browsers signed out")
    return EXIT_OK


def _cmd_users_enable(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import enable_user

    with _session(settings) as db:
        enable_user(db, name=args.name, actor=CLI_ACTOR)
    print(f"user {args.name!r} enabled")
    return EXIT_OK


def _cmd_users_tokens(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import expires_at, tokens_of

    def when(value: datetime | None, default: str = "-") -> str:
        return f"{value:%Y-%m-%d %H:%M} UTC" if value else default

    with _session(settings) as db:
        tokens = tokens_of(db, name=args.name)
        print("id\tprefix\tcreated\tlast used\texpires\trevoked")
        for t in tokens:
            ends = expires_at(t, token_days=settings.auth.token_days)
            print(
                f"{t.id}\t{t.prefix}...\t{when(t.created_at)}\t{when(t.last_used_at, 'never')}"
                f"\t{when(ends, 'never')}\t{when(t.revoked_at, 'no')}"
            )
    return EXIT_OK


def _cmd_users_revoke_token(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import revoke_token

    with _session(settings) as db:
        token = revoke_token(db, token_id=args.id, actor=CLI_ACTOR)
        print(f"token {token.id} ({token.prefix}...) of {token.user.name!r} revoked")
    return EXIT_OK


def _mailbox_settings(
    settings: Settings, name: str, session_factory: sessionmaker[Session]
) -> MailboxSettings:
    from app.mailboxes import registry
    from app.mailboxes import service as mailbox_service

    with session_scope(session_factory) as db:
        mailbox_service.sync_configured(db, settings)
        mailbox = registry.settings_for(db, settings, name)
    if mailbox is None:
        raise ConfigError(f"no mailbox named {name!r} (see [[mailboxes]] in the config)")
    return mailbox


def _cmd_mailboxes_test(settings: Settings, args: argparse.Namespace) -> int:
    from app.oauth.grants import Logins

    with _engine(settings) as engine:
        session_factory = make_session_factory(engine)
        mailbox = _mailbox_settings(settings, args.name, session_factory)
        return _print_connection_test(mailbox, Logins(session_factory, settings), settings)


def _print_connection_test(mailbox: MailboxSettings, logins: Logins, settings: Settings) -> int:
    from app.mailboxes import connection

    report = connection.test(mailbox, logins=logins, default_smtp=settings.smtp)
    for step in report.steps:
        mark = "ok  " if step.ok else "FAIL"
        kind = f" [{step.error_kind}]" if step.error_kind else ""
        print(f"{mark} {step.step}: {step.detail}{kind}")
    print("connection OK" if report.ok else "connection test FAILED")
    return EXIT_OK if report.ok else EXIT_FAILURE


def _cmd_mailboxes_authorize(settings: Settings, args: argparse.Namespace) -> int:
    from app.mailboxes import repository as mailbox_repository
    from app.oauth import grants
    from app.oauth.authorize import authorize

    with _engine(settings) as engine:
        session_factory = make_session_factory(engine)
        mailbox = _mailbox_settings(settings, args.name, session_factory)
        if mailbox.auth != "oauth2":
            raise ConfigError(
                f"mailbox {mailbox.name!r} signs in with a password (auth = 'password')"
            )
        logins = grants.Logins(session_factory, settings)
        cipher = logins.cipher()  # a missing key is reported before the person signs in
        grant = authorize(mailbox, port=args.port)
        with session_scope(session_factory) as db:
            grants.store(
                db, mailbox_repository.get_or_create_mailbox(db, mailbox.name), grant, cipher
            )
        print(f"mailbox {mailbox.name} authorised; its refresh token is stored encrypted")
        return _print_connection_test(mailbox, logins, settings)


def _cmd_token_key(settings: Settings, args: argparse.Namespace) -> int:
    from app.oauth import grants
    from app.oauth.cipher import TokenCipher, new_key

    if not args.rotate:
        print(new_key())
        return EXIT_OK
    with _session(settings) as db:
        count = grants.reencrypt_all(db, TokenCipher(settings.token_key()))
    print(f"{count} stored grants re-encrypted with the first key")
    return EXIT_OK


def _cmd_check_config(settings: Settings, _: argparse.Namespace) -> int:
    problems = []
    secrets: list[Callable[[], SecretStr | None]] = [
        m.password if m.auth == "password" else m.oauth_client_secret for m in settings.mailboxes
    ]
    if any(m.auth == "oauth2" for m in settings.mailboxes):
        secrets.append(settings.token_key)
    secrets.append(settings.smtp.password)
    for read_secret in secrets:
        try:
            read_secret()
        except ConfigError as e:
            problems.append(str(e))
    print(f"database: {normalise_url(settings.database_url).render_as_string(hide_password=True)}")
    print(
        f"sla: respond within {settings.sla.response_hours:g} h, "
        f"at risk in the last {settings.sla.at_risk_hours:g} h"
    )
    for mailbox in settings.mailboxes:
        how = f", oauth2 {mailbox.oauth_provider}" if mailbox.auth == "oauth2" else ""
        print(
            f"mailbox {mailbox.name}: {mailbox.username} at {mailbox.host}:{mailbox.imap_port} "
            f"({mailbox.security}{how})"
        )
    if not settings.mailboxes:
        print("no mailboxes configured")
    print(f"smtp: {settings.smtp.host}:{settings.smtp.smtp_port} ({settings.smtp.security})")
    print(f"alert recipients: {', '.join(settings.alerts.recipients) or '(none)'}")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return EXIT_CONFIG
    print("configuration OK")
    return EXIT_OK


@contextmanager
def _engine(settings: Settings) -> Iterator[Engine]:
    """The command's one engine (its connection pool), disposed however the command ends."""
    engine = make_engine(settings.database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def _session(settings: Settings) -> Iterator[Session]:
    """One unit of work, committed at its end, for a command that needs no more."""
    with _engine(settings) as engine, session_scope(make_session_factory(engine)) as db:
        yield db


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

    commands.add_parser("migrate", help="bring the database schema up to date").set_defaults(
        handler=_cmd_migrate
    )

    serve = commands.add_parser("serve", help="run the API and a worker")
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
        help="serve the API only (more replicas beside `slawatch worker` processes)",
    )
    serve.set_defaults(handler=_cmd_serve)

    commands.add_parser(
        "worker", help="poll, sweep and alert without the API (several share one PostgreSQL)"
    ).set_defaults(handler=_cmd_worker)

    poll = commands.add_parser("poll", help="fetch new mail from every mailbox")
    poll.add_argument("--once", action="store_true", required=True, help="one round, then exit")
    poll.set_defaults(handler=_cmd_poll)

    sweep = commands.add_parser("sweep", help="record SLA transitions and send alerts")
    sweep.add_argument("--once", action="store_true", required=True, help="one round, then exit")
    sweep.set_defaults(handler=_cmd_sweep)

    commands.add_parser(
        "replay", help="process the dead letters (messages that failed) again"
    ).set_defaults(handler=_cmd_replay)

    users = commands.add_parser("users", help="manage users and API tokens")
    user_commands = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = user_commands.add_parser("add", help="create a user; prints its API token last")
    add.add_argument("name")
    add.add_argument("--role", choices=[r.value for r in Role], required=True)
    add.add_argument("--password", action="store_true", help="also set a password (asked)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.set_defaults(handler=_cmd_users_add)
    password = user_commands.add_parser("password", help="set a user's agent-page password")
    password.add_argument("name")
    password.add_argument("--password-stdin", action="store_true", help="read it from stdin")
    password.set_defaults(handler=_cmd_users_password)
    token = user_commands.add_parser("token", help="issue another API token for a user")
    token.add_argument("name")
    token.set_defaults(handler=_cmd_users_token)
    user_commands.add_parser("list", help="list users and roles").set_defaults(
        handler=_cmd_users_list
    )
    disable = user_commands.add_parser(
        "disable", help="refuse a user's tokens and sign its browsers out"
    )
    disable.add_argument("name")
    disable.set_defaults(handler=_cmd_users_disable)
    enable = user_commands.add_parser("enable", help="accept a disabled user's tokens again")
    enable.add_argument("name")
    enable.set_defaults(handler=_cmd_users_enable)
    tokens = user_commands.add_parser(
        "tokens", help="list a user's API tokens: id, prefix, created, last used, expiry"
    )
    tokens.add_argument("name")
    tokens.set_defaults(handler=_cmd_users_tokens)
    revoke = user_commands.add_parser("revoke-token", help="refuse an API token for good")
    revoke.add_argument("id", type=int, help="the token's id (from `slawatch users tokens`)")
    revoke.set_defaults(handler=_cmd_users_revoke_token)

    commands.add_parser(
        "check-config", help="validate the configuration and the secrets it names"
    ).set_defaults(handler=_cmd_check_config)

    boxes = commands.add_parser("mailboxes", help="test a mailbox, authorise OAuth2 sign-in")
    box_commands = boxes.add_subparsers(dest="mailboxes_command", required=True, metavar="ACTION")
    test = box_commands.add_parser(
        "test", help="log in to IMAP, find the folders, log in to SMTP; each step reported"
    )
    test.add_argument("name")
    test.set_defaults(handler=_cmd_mailboxes_test)
    authorize = box_commands.add_parser(
        "authorize", help="sign in to the provider (OAuth2) and store the grant, encrypted"
    )
    authorize.add_argument("name")
    authorize.add_argument(
        "--port", type=int, default=0, help="loopback port for the browser's redirect (Google)"
    )
    authorize.set_defaults(handler=_cmd_mailboxes_authorize)

    token_key = commands.add_parser(
        "token-key", help="print a new key for the stored OAuth2 tokens (SLAWATCH_TOKEN_KEY)"
    )
    token_key.add_argument(
        "--rotate",
        action="store_true",
        help="re-encrypt the stored tokens with the first of the configured keys",
    )
    token_key.set_defaults(handler=_cmd_token_key)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
