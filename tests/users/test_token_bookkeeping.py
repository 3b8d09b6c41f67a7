"""A request never waits for a job's write: recording a token's last use is skipped when another
writer holds the lock it needs, and the request is answered all the same."""

from __future__ import annotations

import httpx
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from app.config import Settings
from app.db import make_engine, make_session_factory, session_scope
from app.enums import Role
from app.main import create_app
from app.models import ApiToken
from app.users.service import create_user
from tests.support.web import auth, serving


def test_a_request_is_answered_while_a_job_holds_the_write_lock(
    session_factory: sessionmaker[Session], database_url: str
) -> None:
    with session_scope(session_factory) as db:
        token = create_user(db, name="viewer", role=Role.VIEWER, actor="test").token
    job = make_engine(database_url)
    app = create_app(Settings(database_url=database_url))
    with serving(app) as base_url, make_session_factory(job)() as job_db:
        # A job's long write holds SQLite's one write lock (BEGIN IMMEDIATE) and, on PostgreSQL,
        # the token's row itself.
        job_db.execute(
            text(
                "SELECT id FROM api_tokens FOR UPDATE"
                if job_db.get_bind().dialect.name == "postgresql"
                else "SELECT id FROM api_tokens"
            )
        )
        # Without a short lock wait this request waits for the job (on PostgreSQL, forever).
        answer = httpx.get(f"{base_url}/api/v1/threads", headers=auth(token), timeout=60)
        job_db.rollback()
    job.dispose()
    assert answer.status_code == 200
    with session_factory() as db:
        # Skipped, not queued: bookkeeping, recorded again at a later use.
        assert db.scalars(select(ApiToken.last_used_at)).one() is None
