"""Fixtures shared by every test: real databases (SQLite and PostgreSQL), the app, users."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from imapclient import IMAPClient
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from app import migrate
from app.config import MailboxSettings, Settings, SmtpSettings
from app.db import (
    Base,
    make_engine,
    make_read_session_factory,
    make_session_factory,
    normalise_url,
    session_scope,
)
from app.enums import Role
from app.main import create_app
from app.users.service import create_user
from tests.dovecot import DOVECOT, Dovecot, free_port
from tests.mailfactory import SELLER_ADDRESS

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
POSTGRES_ADMIN_URL = os.environ.get(
    "SLAWATCH_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
BACKENDS = ["sqlite", "postgresql"]


def unavailable(what: str) -> None:
    """Outside CI a missing service skips with a reason; in CI it is a failure."""
    if IN_CI:
        pytest.fail(f"{what} (CI must run every test)")
    pytest.skip(what)


class PostgresServer:
    """Creates throw-away databases on the test PostgreSQL server and drops them at the end."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = normalise_url(admin_url)
        self.admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        self.created: list[str] = []

    def create_database(self) -> str:
        name = f"slawatch_test_{uuid.uuid4().hex[:12]}"
        with self.admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        self.created.append(name)
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self.admin.connect() as connection:
            for name in self.created:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer(POSTGRES_ADMIN_URL)
    try:
        with server.admin.connect():
            pass
    except Exception as e:
        where = make_url(POSTGRES_ADMIN_URL).render_as_string(hide_password=True)
        unavailable(f"PostgreSQL not reachable at {where} ({e.__class__.__name__})")
    yield server
    server.drop_all()


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """A factory of new, empty databases of either backend, for tests of the schema itself."""

    def make(backend: str) -> str:
        if backend == "sqlite":
            return f"sqlite:///{tmp_path / f'{uuid.uuid4().hex[:8]}.db'}"
        server: PostgresServer = request.getfixturevalue("postgres")
        return server.create_database()

    return make


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Engine]]:
    """One migrated database per backend for the whole run; tests empty it after themselves."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'slawatch.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    migrate.upgrade(url)
    engine = make_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture
def database_url(migrated_database: tuple[str, Engine]) -> Iterator[str]:
    url, engine = migrated_database
    yield url
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture
def engine(migrated_database: tuple[str, Engine], database_url: str) -> Engine:
    return migrated_database[1]


@pytest.fixture
def session_factory(engine: Engine) -> sessionmaker[Session]:
    return make_session_factory(engine)


@pytest.fixture
def read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read: they never wait for a writer (as GET requests)."""
    return make_read_session_factory(engine)


@pytest.fixture
def settings(database_url: str) -> Settings:
    return Settings(database_url=database_url)


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as test_client:
        yield test_client


@pytest.fixture
def make_token(session_factory: sessionmaker[Session]) -> Callable[[Role], str]:
    """Create a user of the given role and return its API token."""

    def make(role: Role, name: str | None = None) -> str:
        with session_scope(session_factory) as db:
            issued = create_user(
                db, name=name or f"{role}-{uuid.uuid4().hex[:6]}", role=role, actor="test"
            )
        return issued.token

    return make


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- IMAP: a private Dovecot for the whole run, a fresh account per test --------------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        unavailable(f"Dovecot is not installed ({DOVECOT}; apt-get install dovecot-imapd)")
    server = Dovecot()
    server.start()
    yield server
    server.cleanup()


@dataclass
class ImapAccount:
    """A Dovecot account; ``settings()`` gives the slawatch mailbox config that polls it."""

    server: Dovecot
    username: str
    password: str
    password_env: str

    def client(self) -> IMAPClient:
        client = IMAPClient(self.server.host, port=self.server.port, ssl=False, timeout=30)
        client.login(self.username, self.password)
        return client

    def settings(self, **overrides: Any) -> MailboxSettings:
        values: dict[str, Any] = {
            "name": self.username.split("@")[0],
            "host": self.server.host,
            "port": self.server.port,
            "security": "plain",
            "username": self.username,
            "password_env": self.password_env,
            "seller_addresses": [SELLER_ADDRESS],
        }
        return MailboxSettings(**{**values, **overrides})

    def append(self, folder: str, messages: Sequence[bytes], when: datetime | None = None) -> None:
        with closing_client(self.client()) as client:
            for raw in messages:
                client.append(folder, raw, msg_time=when)


@contextmanager
def closing_client(client: IMAPClient) -> Iterator[IMAPClient]:
    try:
        yield client
    finally:
        client.logout()


@pytest.fixture
def imap_account(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> ImapAccount:
    name = f"store{uuid.uuid4().hex[:8]}"
    password = uuid.uuid4().hex
    dovecot.add_user(f"{name}@test.example", password)
    env = f"SLAWATCH_TEST_PW_{name.upper()}"
    monkeypatch.setenv(env, password)
    return ImapAccount(dovecot, f"{name}@test.example", password, env)


# --- SMTP: a real server (aiosmtpd) on 127.0.0.1 that records what it accepts ---------------------


class SmtpRecorder:
    """Accepts mail and keeps it; set ``refuse_with`` to an SMTP reply to refuse instead, or
    ``drop_after_data`` to take the message and then cut the connection before answering (the
    client cannot know whether it was accepted)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse_with: str | None = None
        self.drop_after_data = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse_with:
            return self.refuse_with
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        if self.drop_after_data:
            server.transport.abort()  # no reply reaches the client
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: SmtpRecorder

    def settings(self) -> SmtpSettings:
        return SmtpSettings(host=self.host, port=self.port, security="plain", timeout_seconds=10)


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    recorder = SmtpRecorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield SmtpServer("127.0.0.1", controller.port, recorder)
    controller.stop()


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """Run ``app`` on a real uvicorn server on 127.0.0.1 in a thread; yields its base URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 120  # generous: CI machines are shared and slow at times
    while not server.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


# --- OAuth2 sign-in: a real authorization server, a Dovecot that checks its tokens, SMTP too ----
# (Appended after the fixtures above, so its imports sit here.)

from tests.oauth_provider import OAuthProvider  # noqa: E402
from tests.oauth_smtp import OAuthSmtpHandler  # noqa: E402
from tests.oauth_smtp import serve as serve_oauth_smtp  # noqa: E402

OAUTH_CLIENT_ID = "slawatch-test"
OAUTH_CLIENT_SECRET = "test-client-secret"


@pytest.fixture(scope="session")
def oauth_provider() -> Iterator[OAuthProvider]:
    with OAuthProvider(client_id=OAUTH_CLIENT_ID, client_secret=OAUTH_CLIENT_SECRET) as provider:
        yield provider


@pytest.fixture
def fresh_oauth_provider(oauth_provider: OAuthProvider) -> OAuthProvider:
    """The session's provider with every knob at its default and empty records: a test sees only
    its own requests. Tokens of earlier tests stay valid, but belong to other users."""
    oauth_provider.reset()
    return oauth_provider


@pytest.fixture(scope="session")
def oauth_dovecot(oauth_provider: OAuthProvider) -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        unavailable(f"Dovecot is not installed ({DOVECOT}; apt-get install dovecot-imapd)")
    server = Dovecot(oauth_introspection_url=oauth_provider.introspection_url)
    server.start()
    yield server
    server.cleanup()


@dataclass
class OAuthAccount:
    """A mailbox on ``oauth_dovecot`` that signs in with the provider's access tokens only."""

    provider: OAuthProvider
    server: Dovecot
    username: str

    @property
    def host(self) -> str:
        return self.server.host

    @property
    def port(self) -> int:
        return self.server.port

    def access_token(self, lifetime: float | None = None) -> str:
        return self.provider.issue_access_token(self.username, lifetime)

    def refresh_token(self) -> str:
        return self.provider.issue_refresh_token(self.username)

    def client(self) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.oauth2_login(self.username, self.access_token())
        return client

    def append(self, folder: str, messages: Sequence[bytes], when: datetime | None = None) -> None:
        with closing_client(self.client()) as client:
            for raw in messages:
                client.append(folder, raw, msg_time=when)

    def settings(self, smtp: OAuthSmtpServer | None = None, **overrides: Any) -> MailboxSettings:
        """A mailbox signing in with OAuth2 at the test provider (a custom provider with every
        endpoint), replying through ``smtp`` if given; needs the ``oauth_secrets`` fixture."""
        values: dict[str, Any] = {
            "name": "oauth-shop",
            "host": self.host,
            "port": self.port,
            "security": "plain",
            "username": self.username,
            "auth": "oauth2",
            "oauth_provider": "custom",
            "oauth_client_id": self.provider.client_id,
            "oauth_client_secret_env": OAUTH_SECRET_ENV,
            "oauth_token_url": self.provider.token_url,
            "oauth_device_url": self.provider.device_url,
            "oauth_authorize_url": self.provider.authorize_url,
            "seller_addresses": [SELLER_ADDRESS],
            "idle": False,
            "timeout_seconds": 10,
        }
        if smtp is not None:
            values |= {"smtp_host": smtp.host, "smtp_port": smtp.port, "smtp_security": "plain"}
        return MailboxSettings(**{**values, **overrides})


OAUTH_SECRET_ENV = "SLAWATCH_TEST_OAUTH_CLIENT_SECRET"


@pytest.fixture
def oauth_secrets(monkeypatch: pytest.MonkeyPatch) -> str:
    """The client secret in its variable and a new token key in SLAWATCH_TOKEN_KEY (returned),
    as an operator sets them; subprocesses inherit both."""
    from app.oauth.cipher import new_key

    key = new_key()
    monkeypatch.setenv("SLAWATCH_TOKEN_KEY", key)
    monkeypatch.setenv(OAUTH_SECRET_ENV, OAUTH_CLIENT_SECRET)
    return key


@pytest.fixture
def oauth_account(fresh_oauth_provider: OAuthProvider, oauth_dovecot: Dovecot) -> OAuthAccount:
    # Any user name is an account on oauth_dovecot: a new one keeps tests apart.
    username = f"u-{uuid.uuid4().hex[:12]}@example.test"
    return OAuthAccount(fresh_oauth_provider, oauth_dovecot, username)


@dataclass
class OAuthSmtpServer:
    """SMTP on 127.0.0.1 without TLS that requires AUTH: XOAUTH2 with the provider's tokens, or
    PLAIN/LOGIN as ``username``/``password``. ``handler`` records mail and sign-ins."""

    host: str
    port: int
    handler: OAuthSmtpHandler
    username: str
    password: str


@pytest.fixture
def oauth_smtp_server(fresh_oauth_provider: OAuthProvider) -> Iterator[OAuthSmtpServer]:
    username, password = "smtp-user@example.test", "smtp-password"
    handler = OAuthSmtpHandler(fresh_oauth_provider, username, password)
    controller = serve_oauth_smtp(handler, free_port())
    yield OAuthSmtpServer("127.0.0.1", controller.port, handler, username, password)
    controller.stop()
