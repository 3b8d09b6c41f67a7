"""Alembic environment: the URL comes from slawatch's settings unless a caller passes one."""

from typing import Any

from alembic import context
from sqlalchemy import pool

import app.models  # noqa: F401  (registers every table on Base.metadata)
from app.config import load_settings
from app.db import Base, UTCDateTime, make_engine

config = context.config


def _database_url() -> str:
    return config.attributes.get("database_url") or load_settings().database_url


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    # Migrations stay free of app imports: UTCDateTime is a timezone-aware DateTime underneath.
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_online() -> None:
    engine = make_engine(_database_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            # SQLite changes a table by copying it and dropping the original; with foreign keys
            # on, that drop would cascade into every row referring to it. The pragma only takes
            # effect outside a transaction, so it goes to the driver before SQLAlchemy's BEGIN.
            connection.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")  # type: ignore[union-attr]
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            render_item=_render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("slawatch migrations run online only: use `slawatch migrate`")
run_migrations_online()
