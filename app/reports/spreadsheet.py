"""CSV for spreadsheets: pure, streamed a line at a time, safe to open.

A cell that starts with ``=``, ``+``, ``-`` or ``@`` is a formula to Excel, LibreOffice and
Google Sheets, and a subject or an address is written by whoever mailed the seller: such text is
prefixed with ``'`` so it is shown, never evaluated (OWASP's "CSV injection"; a tab or a carriage
return at the start is treated the same by some of them). Times are UTC, ISO 8601."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime

Cell = str | int | float | datetime | date | None

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Excel reads a CSV without a byte-order mark as the machine's legacy code page, so a customer's
# name in another script would arrive garbled; the other spreadsheets accept the mark.
BYTE_ORDER_MARK = "\ufeff"
CHUNK_CHARS = 65_536


def cell_text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> Iterator[str]:
    """The header, then the rows, in chunks of about CHUNK_CHARS as they are made (a response
    streamed line by line would cost a thread hand-off per line)."""
    buffer = io.StringIO()
    buffer.write(BYTE_ORDER_MARK)
    writer = csv.writer(buffer, lineterminator="\r\n")  # RFC 4180's line ending
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell_text(c) for c in row])
        if buffer.tell() >= CHUNK_CHARS:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
