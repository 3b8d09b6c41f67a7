"""The CSV writer alone: cells as a spreadsheet should read them, and output in chunks as the
rows come, never all at once."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from app.reports import spreadsheet
from app.reports.spreadsheet import Cell, cell_text, csv_lines


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, ""),
        (
            datetime(2026, 12, 2, 4, 30, 15, 123456, tzinfo=timezone(timedelta(hours=-6))),
            "2026-12-02T10:30:15Z",
        ),
        (datetime(2026, 12, 2, 10, 0, tzinfo=UTC), "2026-12-02T10:00:00Z"),
        (date(2026, 12, 2), "2026-12-02"),
        (3600, "3600"),
        (0.9643, "0.9643"),
        ("Where is my order?", "Where is my order?"),
        ("=1+1", "'=1+1"),
        ("+1 555 0100", "'+1 555 0100"),
        ("-5 items", "'-5 items"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("a=b", "a=b"),  # only the first character makes a formula
    ],
)
def test_cells(value: Cell, text: str) -> None:
    assert cell_text(value) == text


def test_lines_stream_in_chunks_as_rows_come(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spreadsheet, "CHUNK_CHARS", 100)
    made = 0

    def rows() -> Iterator[tuple[Cell, ...]]:
        nonlocal made
        for i in range(50):
            made += 1
            yield (i, f'subject, with a comma and "quotes" {i}', "=formula")

    chunks = csv_lines(("n", "subject", "formula"), rows())
    first = next(chunks)
    assert first.startswith("\ufeffn,subject,formula\r\n")
    assert made < 50  # the first chunk went out before the last row was made
    text = first + "".join(chunks)
    parsed = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert parsed[0] == ["n", "subject", "formula"]
    assert parsed[1:] == [
        [str(i), f'subject, with a comma and "quotes" {i}', "'=formula"] for i in range(50)
    ]


def test_no_rows_is_the_header_alone() -> None:
    assert list(csv_lines(("a", "b"), [])) == ["\ufeffa,b\r\n"]
