"""app.db's column types as the database stores them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, insert, select, text
from sqlalchemy.dialects.sqlite import DATETIME
from sqlalchemy.exc import StatementError

from app.db import UTCDateTime, make_engine

MOMENTS = [
    datetime(2026, 12, 2, 10, 49, 30, tzinfo=UTC),
    datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=UTC),
]


def test_sqlite_stores_utc_datetimes_in_sqlalchemys_own_format() -> None:
    engine = make_engine("sqlite://")
    table = Table(
        "t", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime)
    )
    table.metadata.create_all(engine)
    sqlalchemy_format = DATETIME().bind_processor(engine.dialect)
    with engine.begin() as connection:
        connection.execute(insert(table), [{"at": moment} for moment in [*MOMENTS, None]])
        stored = connection.scalars(text("SELECT at FROM t ORDER BY id")).all()
        assert stored == [
            *(sqlalchemy_format(m.astimezone(UTC).replace(tzinfo=None)) for m in MOMENTS),
            None,
        ]
        read = connection.scalars(select(table.c.at).order_by(table.c.id)).all()
        assert read == [*MOMENTS, None]
        with pytest.raises(StatementError, match="naive datetime"):
            connection.execute(insert(table), {"at": datetime(2026, 12, 2)})
    engine.dispose()
