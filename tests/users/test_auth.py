"""Bearer tokens and roles on the API, and tokens never kept in plain text."""

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.db import session_scope
from app.enums import Role
from app.models import ApiToken, AuditEntry, User
from tests.support.web import auth

ROOT = Path(__file__).parents[2]


def test_healthz_needs_no_token(client: TestClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_no_token_is_401_with_a_bearer_challenge(client: TestClient) -> None:
    response = client.get("/api/v1/users")
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Authorization: Bearer" in response.json()["detail"]


def test_unknown_token_is_401(client: TestClient, make_token: Callable[..., str]) -> None:
    make_token(Role.ADMIN)
    response = client.get("/api/v1/users", headers=auth("sw_not-a-real-token"))
    assert response.status_code == 401


def test_viewer_is_403_on_an_admin_endpoint(
    client: TestClient, make_token: Callable[..., str]
) -> None:
    token = make_token(Role.VIEWER, "vera")
    response = client.get("/api/v1/users", headers=auth(token))
    assert response.status_code == 403
    assert response.json()["detail"] == "this needs the admin role; user 'vera' is viewer"
    assert client.get("/api/v1/me", headers=auth(token)).json()["role"] == "viewer"


def test_admin_gets_200_and_no_token_material(
    client: TestClient, make_token: Callable[..., str]
) -> None:
    make_token(Role.AGENT, "alice")
    token = make_token(Role.ADMIN, "adam")
    response = client.get("/api/v1/users", headers=auth(token))
    assert response.status_code == 200
    assert [(u["name"], u["role"]) for u in response.json()] == [
        ("adam", "admin"),
        ("alice", "agent"),
    ]
    assert token not in response.text
    assert "hash" not in response.text


def test_revoked_token_and_disabled_user_are_refused(
    client: TestClient, make_token: Callable[..., str], session_factory: sessionmaker[Session]
) -> None:
    revoked, disabled = make_token(Role.ADMIN, "rev"), make_token(Role.ADMIN, "dis")
    assert client.get("/api/v1/me", headers=auth(revoked)).status_code == 200
    with session_factory.begin() as db:
        db.scalars(select(ApiToken).join(User).where(User.name == "rev")).one().revoked_at = now()
        db.scalars(select(User).where(User.name == "dis")).one().disabled_at = now()
    assert client.get("/api/v1/me", headers=auth(revoked)).status_code == 401
    refused = client.get("/api/v1/me", headers=auth(disabled))
    assert refused.status_code == 401 and "user 'dis' is disabled" in refused.json()["detail"]


def test_tokens_are_stored_only_as_digests(
    make_token: Callable[..., str],
    session_factory: sessionmaker[Session],
    database_url: str,
    engine: Engine,
) -> None:
    token = make_token(Role.AGENT, "ann")
    with session_scope(session_factory) as db:
        row = db.scalars(select(ApiToken)).one()
        stored = [str(getattr(row, c.key)) for c in ApiToken.__table__.columns]
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert not any(token in value for value in stored)
        assert token[len(row.prefix) :] not in row.prefix
        audit = db.scalars(select(AuditEntry)).one()
        assert (audit.action, audit.target_id) == ("user.create", str(row.user_id))
        assert token not in str(audit.detail)
    if database_url.startswith("sqlite:///"):
        # Closing a file SQLite has open drops its POSIX locks for the whole process: close the
        # pooled connections before reading the files.
        engine.dispose()
        # Not in any page of the database file, nor in its write-ahead log.
        for path in Path(database_url.removeprefix("sqlite:///")).parent.glob("*.db*"):
            assert token.encode() not in path.read_bytes()


def test_cli_users_add_prints_a_working_token_last(database_url: str, client: TestClient) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "users", "add", "carol", "--role", "agent"],
        env={**os.environ, "SLAWATCH_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip().splitlines()[-1]
    me = client.get("/api/v1/me", headers=auth(token))
    assert me.status_code == 200
    assert (me.json()["name"], me.json()["role"]) == ("carol", "agent")
    # An agent is below admin:
    assert client.get("/api/v1/users", headers=auth(token)).status_code == 403
