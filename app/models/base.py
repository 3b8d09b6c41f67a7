"""What every table module shares: the column types built from the app's enums."""

from enum import StrEnum

from sqlalchemy import Enum


def enum_column(enum_cls: type[StrEnum], name: str) -> Enum:
    # Stored as short strings with a CHECK constraint: the same on SQLite and PostgreSQL.
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        length=20,
        values_callable=lambda members: [m.value for m in members],
    )
