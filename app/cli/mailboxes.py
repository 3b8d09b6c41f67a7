"""``slawatch check-config``, ``mailboxes test|authorize`` and ``token-key``: the configuration, the
mailboxes' sign-in and the key that encrypts their OAuth2 grants."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from app.cli.common import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK, engine_for, session_for
from app.errors import ConfigError

if TYPE_CHECKING:
    from pydantic import SecretStr
    from sqlalchemy.orm import Session, sessionmaker

    from app.cli.common import Commands
    from app.config import MailboxSettings, Settings
    from app.oauth.grants import Logins


def add_commands(commands: Commands) -> None:
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


def _mailbox_settings(
    settings: Settings, name: str, session_factory: sessionmaker[Session]
) -> MailboxSettings:
    from app.db import session_scope
    from app.mailboxes import registry
    from app.mailboxes import service as mailbox_service

    with session_scope(session_factory) as db:
        mailbox_service.sync_configured(db, settings)
        mailbox = registry.settings_for(db, settings, name)
    if mailbox is None:
        raise ConfigError(f"no mailbox named {name!r} (see [[mailboxes]] in the config)")
    return mailbox


def _cmd_mailboxes_test(settings: Settings, args: argparse.Namespace) -> int:
    from app.db import make_session_factory
    from app.oauth.grants import Logins

    with engine_for(settings) as engine:
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
    from app.db import make_session_factory, session_scope
    from app.mailboxes import repository as mailbox_repository
    from app.oauth import grants
    from app.oauth.authorize import authorize

    with engine_for(settings) as engine:
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
    with session_for(settings) as db:
        count = grants.reencrypt_all(db, TokenCipher(settings.token_key()))
    print(f"{count} stored grants re-encrypted with the first key")
    return EXIT_OK


def _cmd_check_config(settings: Settings, _: argparse.Namespace) -> int:
    from app.db import normalise_url

    problems = []
    secrets: list[Callable[[], SecretStr | None]] = [
        m.password if m.auth == "password" else m.oauth_client_secret for m in settings.mailboxes
    ]
    if any(m.auth == "oauth2" for m in settings.mailboxes):
        secrets.append(settings.token_key)
    if settings.smtp:
        secrets.append(settings.smtp.password)
    # A channel's URL is read (and must be https) here, not first at the sweep that needs it.
    for channel in settings.alerts.channels:
        secrets += [channel.url, channel.secret]
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
    smtp = settings.smtp
    print(
        f"smtp: {smtp.host}:{smtp.smtp_port} ({smtp.security})"
        if smtp
        else "smtp: not configured (no [smtp] section): no alert emails, no replies from mailboxes "
        "without an smtp_host of their own"
    )
    print(f"alert recipients: {', '.join(settings.alerts.recipients) or '(none)'}")
    for channel in settings.alerts.channels:
        print(f"alert channel {channel.key} ({channel.kind})")  # never its URL
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return EXIT_CONFIG
    print("configuration OK")
    return EXIT_OK
