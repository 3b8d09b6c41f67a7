"""``slawatch users ...``: users, their agent-page passwords and their API tokens."""

from __future__ import annotations

import argparse
from datetime import datetime
from typing import TYPE_CHECKING

from app.cli.common import CLI_ACTOR, EXIT_OK, read_password, session_for
from app.enums import Role

if TYPE_CHECKING:
    from app.cli.common import Commands
    from app.config import Settings


def add_commands(commands: Commands) -> None:
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


def _cmd_users_add(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import create_user, set_password

    password = read_password(args) if args.password or args.password_stdin else None
    with session_for(settings) as db:
        issued = create_user(db, name=args.name, role=Role(args.role), actor=CLI_ACTOR)
        if password is not None:
            set_password(db, name=args.name, password=password, actor=CLI_ACTOR)
    print(f"user {issued.user.name!r} created with role {issued.user.role}.")
    print("API token (shown only now; keep it secret):")
    print(issued.token)
    return EXIT_OK


def _cmd_users_password(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import set_password

    password = read_password(args)
    with session_for(settings) as db:
        set_password(db, name=args.name, password=password, actor=CLI_ACTOR)
    print(f"password set for {args.name!r}")
    return EXIT_OK


def _cmd_users_token(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import issue_token

    with session_for(settings) as db:
        issued = issue_token(db, name=args.name, actor=CLI_ACTOR)
    print(f"new API token for {issued.user.name!r} (shown only now; keep it secret):")
    print(issued.token)
    return EXIT_OK


def _cmd_users_list(settings: Settings, _: argparse.Namespace) -> int:
    from app.users.repository import list_users

    with session_for(settings) as db:
        for user in list_users(db):
            state = " (disabled)" if user.disabled_at else ""
            print(f"{user.name}\t{user.role}{state}")
    return EXIT_OK


def _cmd_users_disable(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import disable_user

    with session_for(settings) as db:
        disable_user(db, name=args.name, actor=CLI_ACTOR)
    print(f"user {args.name!r} disabled: its tokens are refused, its browsers signed out")
    return EXIT_OK


def _cmd_users_enable(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import enable_user

    with session_for(settings) as db:
        enable_user(db, name=args.name, actor=CLI_ACTOR)
    print(f"user {args.name!r} enabled")
    return EXIT_OK


def _cmd_users_tokens(settings: Settings, args: argparse.Namespace) -> int:
    from app.users.service import expires_at, tokens_of

    def when(value: datetime | None, default: str = "-") -> str:
        return f"{value:%Y-%m-%d %H:%M} UTC" if value else default

    with session_for(settings) as db:
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

    with session_for(settings) as db:
        token = revoke_token(db, token_id=args.id, actor=CLI_ACTOR)
        print(f"token {token.id} ({token.prefix}...) of {token.user.name!r} revoked")
    return EXIT_OK
