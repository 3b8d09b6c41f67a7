"""What the benchmarks share: a new, migrated database to fill."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from app import migrate
from app.db import normalise_url


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
