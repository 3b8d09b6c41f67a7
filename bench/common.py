"""What the benchmarks share: a new, migrated database to fill."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

from app import migrate
from app.db import normalise_url
from tests.support.dovecot import free_port

ROOT = Path(__file__).parents[1]


def fresh_database(database_url: str | None) -> str:
    """A new SQLite file, or for a PostgreSQL URL a new database beside the one it names (which
    is left untouched), migrated to head."""
    if not database_url:
        url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='slawatch-bench-')) / 'bench.db'}"
    else:
        admin = create_engine(normalise_url(database_url), isolation_level="AUTOCOMMIT")
        name = f"slawatch_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        url = normalise_url(database_url).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(url)
    return url


def drop_database(database_url: str) -> None:
    """Remove what fresh_database made: the SQLite file's directory, or the PostgreSQL database
    (ending any connection still open to it)."""
    url = normalise_url(database_url)
    if url.get_backend_name() == "sqlite":
        shutil.rmtree(Path(url.database or "").parent, ignore_errors=True)
        return
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


@contextmanager
def serving(database_url: str, *extra_args: str) -> Iterator[str]:
    """`slawatch serve` on a free port over ``database_url``; yields its base URL once /healthz
    answers, and stops it afterwards."""
    work = Path(tempfile.mkdtemp(prefix="slawatch-serve-"))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve", *extra_args, "--port", str(port)],
        env={
            **os.environ,
            "SLAWATCH_DATABASE_URL": database_url,
            "SLAWATCH_LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        },
        cwd=work,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz").raise_for_status()
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait()
