"""The database: declarative base, engine and session factories, and the job session scope."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Dialect, MetaData, create_engine, event, func, insert, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from app.clock import as_utc

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC in Python on every backend; SQLite, which has no zones, stores naive UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = as_utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def process(value: datetime | None) -> str | None:
            # SQLite's DATETIME storage format ("2026-12-02 10:49:30.000000"), written by one C
            # call instead of SQLAlchemy's %-format of a dict: a batch binds tens of thousands.
            if value is None:
                return None
            return as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def normalise_url(database_url: str) -> URL:
    """A URL SQLAlchemy can use: plain ``postgresql://`` means psycopg 3, the driver we ship."""
    url = make_url(database_url)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, issue BEGIN: SAVEPOINTs then work (see _begin_sqlite).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    # WAL lets the API read while the poller writes; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={LOCK_WAIT_MS}")
    connection_record.info[LOCK_WAIT] = LOCK_WAIT_MS
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def dialect_insert(session: Session) -> Any:
    """The dialect's INSERT, which has ON CONFLICT (upserts) on both SQLite and PostgreSQL."""
    # Imported here: the postgresql package loads every PostgreSQL driver's dialect, which a
    # SQLite process never needs.
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def insert_returning_ids(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` in multi-row statements; the new ids, ascending, in the order of ``rows``.

    PostgreSQL: the ids are taken from the table's sequence in one query and the rows inserted
    with them, through the driver's pipelined executemany (psycopg would otherwise re-parse a
    multi-row statement of thousands of parameters, at a millisecond a row). SQLite: a
    multi-row INSERT ... RETURNING, its ids sorted: SQLite gives each row inserted without an id
    the largest id plus one, in the order of the VALUES."""
    if not rows:
        return []
    table = model.__table__  # Core: the ORM's bulk insert only adds bookkeeping here
    if session.get_bind().dialect.name == "postgresql":
        sequence = func.pg_get_serial_sequence(table.name, "id")
        ids = sorted(
            session.scalars(
                select(func.nextval(sequence)).select_from(func.generate_series(1, len(rows)))
            )
        )
        session.execute(insert(table), [{**row, "id": i} for row, i in zip(rows, ids, strict=True)])
        return ids
    return sorted(session.scalars(insert(table).returning(table.c.id), rows))


def insert_rows(session: Session, model: Any, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` in multi-row statements."""
    if rows:
        session.execute(insert(model.__table__), rows)


WRITER = "slawatch_writer"
# How long a write waits for another writer's lock (SQLite's busy_timeout, PostgreSQL's
# lock_timeout), unless its sessions ask for less (make_session_factory's lock_wait_ms).
LOCK_WAIT_MS = 10_000
LOCK_WAIT = "slawatch_lock_wait_ms"


def _begin_sqlite(connection: Any) -> None:
    # A unit of work that may write takes SQLite's write lock up front (IMMEDIATE), waiting
    # (busy_timeout) for its turn: a deferred transaction that reads and then writes fails at once
    # ("database is locked") when another connection wrote in between. Reads stay deferred, so
    # they never wait for a writer (WAL).
    options = connection.get_execution_options()
    wait = options.get(LOCK_WAIT, LOCK_WAIT_MS)
    if connection.info.get(LOCK_WAIT) != wait:  # a PRAGMA only when it changes
        connection.exec_driver_sql(f"PRAGMA busy_timeout={int(wait)}")
        connection.info[LOCK_WAIT] = wait
    connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITER, False) else "BEGIN")


def _configure_postgresql(dbapi_connection: Any, connection_record: Any) -> None:
    # psycopg prepares a statement it has run five times, and PostgreSQL then settles on a generic
    # plan for it; for the poller's batch lookups (``IN`` lists of hundreds of ids and keys) that
    # generic plan was many times slower than one planned for the values given.
    with dbapi_connection.cursor() as cursor:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    dbapi_connection.commit()


def _begin_postgresql(connection: Any) -> None:
    wait = connection.get_execution_options().get(LOCK_WAIT)
    if wait is not None:
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {int(wait)}")


def make_engine(database_url: str, **kwargs: Any) -> Engine:
    url = normalise_url(database_url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        event.listen(engine, "connect", _configure_sqlite)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    engine = create_engine(url, pool_pre_ping=True, **kwargs)
    event.listen(engine, "connect", _configure_postgresql)
    event.listen(engine, "begin", _begin_postgresql)
    return engine


def make_session_factory(
    engine: Engine, *, lock_wait_ms: int | None = None
) -> sessionmaker[Session]:
    """Sessions for units of work that may write (jobs, commands, requests that change state).
    ``lock_wait_ms``: give up (OperationalError) after waiting that long for another writer's lock,
    for bookkeeping a request may skip rather than wait for a job's write."""
    options: dict[str, Any] = {WRITER: True}
    if lock_wait_ms is not None:
        options[LOCK_WAIT] = lock_wait_ms
    return sessionmaker(bind=engine.execution_options(**options), expire_on_commit=False)


def make_read_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that only read (GET requests, heavy reports): they never take a write lock."""
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def session_scope(session_factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work for a job or command: commit on success, roll back on any error."""
    session = session_factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
