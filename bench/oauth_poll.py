"""What OAuth2 sign-in costs a poll (.venv/bin/python -m bench.oauth_poll [--database-url ...]).

One private Dovecot that takes both passwords and OAuth2 tokens (checked by introspection at a local
authorization server, tests.support.oauth_provider), two mailboxes of the same size, and polls that
find nothing new: with a password, with a stored access token still valid (a database read and a
decryption), and with a token that must be refreshed first (a call to the token endpoint and its
bookkeeping). Prints the median wall time and this process's CPU time per poll.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings, SlaSettings
from app.db import make_engine, make_session_factory, session_scope
from app.ingest.poll import poll_mailbox
from app.mailboxes import repository as mailbox_repository
from app.models import OAuthGrant
from app.oauth import grants
from app.oauth.cipher import TokenCipher, new_key
from app.oauth.endpoints import TokenGrant
from bench.common import fresh_database
from bench.ingest import PASSWORD_ENV, mailbox
from tests.support.dovecot import Dovecot
from tests.support.mailfactory import customer
from tests.support.oauth_provider import OAuthProvider

SECRET_ENV = "SLAWATCH_BENCH_OAUTH_SECRET"


def timed(poll: Callable[[], object], count: int) -> tuple[float, float]:
    """(median wall ms, mean CPU ms) per poll."""
    walls, cpu_began = [], time.process_time()
    for _ in range(count):
        began = time.perf_counter()
        poll()
        walls.append((time.perf_counter() - began) * 1000)
    return statistics.median(walls), (time.process_time() - cpu_began) * 1000 / count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--polls", type=int, default=200)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--database-url", help="default: a new SQLite file")
    args = parser.parse_args()
    os.environ |= {PASSWORD_ENV: "pw", "SLAWATCH_TOKEN_KEY": new_key(), SECRET_ENV: "secret"}

    with OAuthProvider(client_id="bench", client_secret="secret") as provider:
        server = Dovecot(oauth_introspection_url=provider.introspection_url)
        server.start()
        url = fresh_database(args.database_url)
        session_factory = make_session_factory(make_engine(url))
        try:
            run(args, provider, server, session_factory, url)
        finally:
            server.cleanup()


def run(
    args: argparse.Namespace,
    provider: OAuthProvider,
    server: Dovecot,
    session_factory: sessionmaker[Session],
    url: str,
) -> None:
    messages = [customer(f"Buyer {i}", order=f"30001141{i:07d}") for i in range(args.messages)]
    password_user, oauth_user = "password@bench.example", "oauth@bench.example"
    server.add_user(password_user, "pw")
    server.deliver(password_user, messages)
    server.deliver(oauth_user, messages)
    by_password = mailbox(server, password_user)
    by_token = MailboxSettings(
        **{
            **by_password.model_dump(exclude={"password_env"}),
            "name": "oauth",
            "username": oauth_user,
            "auth": "oauth2",
            "oauth_provider": "custom",
            "oauth_client_id": "bench",
            "oauth_client_secret_env": SECRET_ENV,
            "oauth_token_url": provider.token_url,
        }
    )
    settings = Settings(database_url=url, mailboxes=[by_password, by_token])
    logins = grants.Logins(session_factory, settings)
    with session_scope(session_factory) as db:
        grant = TokenGrant(
            access_token=SecretStr(provider.issue_access_token(oauth_user)),
            expires_at=now(),
            refresh_token=SecretStr(provider.issue_refresh_token(oauth_user)),
        )
        grants.store(
            db,
            mailbox_repository.get_or_create_mailbox(db, "oauth"),
            grant,
            TokenCipher(settings.token_key()),
        )

    def poll(settings: MailboxSettings) -> Callable[[], object]:
        def once() -> object:
            report = poll_mailbox(session_factory, settings, sla=SlaSettings(), logins=logins)
            assert report.ok, report.error
            return report

        return once

    for each in (by_password, by_token):  # the first polls store the mail
        assert sum(f.new for f in poll(each)().folders) == args.messages  # type: ignore[attr-defined]
    backend = "SQLite" if url.startswith("sqlite") else "PostgreSQL"
    print(f"{args.messages} messages a mailbox, {args.polls} polls that find nothing ({backend})")
    rows = [("password", timed(poll(by_password), args.polls))]
    rows.append(("OAuth2, stored token valid", timed(poll(by_token), args.polls)))
    refreshes = provider.refresh_count
    polled = poll(by_token)

    def expired_then_polled() -> object:
        # As if the token's hour had passed (one row written, also timed): refreshed first.
        with session_scope(session_factory) as db:
            db.scalars(select(OAuthGrant)).one().access_expires_at = now()
        return polled()

    rows.append(("OAuth2, refreshed first", timed(expired_then_polled, args.polls)))
    assert provider.refresh_count - refreshes == args.polls
    for name, (wall, cpu) in rows:
        print(f"  {name:<28} median {wall:6.1f} ms a poll, CPU {cpu:5.1f} ms a poll")


if __name__ == "__main__":
    main()
