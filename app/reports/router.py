"""The CSV reports: on the API for a token (``/api/v1/reports/...``), and the same files for a
signed-in browser (``/reports/...``, the status page's download links)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from app.clock import now
from app.deps import ReadSessionFactoryDep, ViewerUser
from app.reports import service
from app.reports.spreadsheet import Cell, csv_lines
from app.threads.filter_params import SelectionDep, ThreadFilterDep
from app.web.auth import WebSessionDep

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])
pages_router = APIRouter(prefix="/reports", include_in_schema=False)

DaysQuery = Annotated[
    int, Query(ge=1, le=service.MAX_DAYS, description="days back, today (UTC) included")
]


class CsvResponse(StreamingResponse):
    media_type = "text/csv"


def _csv_ok(what: str) -> dict[int | str, dict[str, Any]]:
    return {
        200: {
            "description": f"{what}: a CSV file (UTF-8), streamed",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        }
    }


def _download(
    name: str, columns: Sequence[str], rows: Iterable[Sequence[Cell]], at: datetime
) -> CsvResponse:
    filename = f"slawatch-{name}-{at:%Y%m%dT%H%MZ}.csv"
    return CsvResponse(  # text/csv; charset=utf-8 (Starlette names the charset of text/*)
        csv_lines(columns, rows),
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _threads(f: ThreadFilterDep, read_factory: ReadSessionFactoryDep) -> CsvResponse:
    at = now()
    rows = service.thread_rows(read_factory, f, now=at)
    return _download("threads", service.THREAD_COLUMNS, rows, at)


def _rate(selection: SelectionDep, read_factory: ReadSessionFactoryDep, days: int) -> CsvResponse:
    at = now()
    rows = service.rate_rows(read_factory, selection, days=days, now=at)
    return _download("response-rate", service.RATE_COLUMNS, rows, at)


@router.get("/threads.csv", response_class=CsvResponse, responses=_csv_ok("one row per thread"))
def threads_csv(
    _: ViewerUser, f: ThreadFilterDep, read_factory: ReadSessionFactoryDep
) -> CsvResponse:
    """The threads `GET /api/v1/threads` lists with the same parameters (without `state`, the
    three waiting states), all of them, in its order: mailbox, client, state, kind, customer,
    order number, subject, when the customer first wrote, the deadline, the first answer and
    the seconds it took. Times are UTC (ISO 8601); a cell that would start a formula begins
    with `'`."""
    return _threads(f, read_factory)


@router.get(
    "/response-rate.csv",
    response_class=CsvResponse,
    responses=_csv_ok("one row per day and mailbox"),
)
def response_rate_csv(
    _: ViewerUser,
    selection: SelectionDep,
    read_factory: ReadSessionFactoryDep,
    days: DaysQuery = 90,
) -> CsvResponse:
    """Per mailbox and UTC day, the waits that started that day: inquiries, answered in time,
    missed (answered late or not by the deadline), open (neither yet) and the rate (answered in
    time over decided, as in `GET /api/v1/summary`; empty when none is decided)."""
    return _rate(selection, read_factory, days)


@pages_router.get("/threads.csv")
def threads_csv_page(
    _: WebSessionDep, f: ThreadFilterDep, read_factory: ReadSessionFactoryDep
) -> CsvResponse:
    return _threads(f, read_factory)


@pages_router.get("/response-rate.csv")
def response_rate_csv_page(
    _: WebSessionDep,
    selection: SelectionDep,
    read_factory: ReadSessionFactoryDep,
    days: DaysQuery = 90,
) -> CsvResponse:
    return _rate(selection, read_factory, days)
