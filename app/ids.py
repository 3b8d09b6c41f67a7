"""Row ids as the API and the pages accept them.

Ids are 32-bit in the schema (PostgreSQL INTEGER; SQLite refuses anything past 64 bits), so a
larger number in a path, query or body is refused as invalid input (422) before it reaches the
database, where it would fail as a server error.
"""

from typing import Annotated

from annotated_types import Ge, Le

MAX_ROW_ID = 2**31 - 1

RowId = Annotated[int, Ge(1), Le(MAX_ROW_ID)]
