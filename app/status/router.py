"""GET /status: the dashboard page, for signed-in users, or anyone when `status.public` is set."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from app.clock import duration_text, now
from app.demo import DEMO_MAILBOX
from app.deps import ReadSessionDep, SettingsDep
from app.errors import LoginRequired
from app.mailboxes import registry
from app.security_headers import NO_SCRIPT_POLICY
from app.sla import ThreadState
from app.status import charts, dashboard
from app.status.dashboard import Range
from app.templating import html_templates
from app.web import sessions

router = APIRouter(include_in_schema=False)

pages = html_templates("status")
pages.globals["anchor"] = charts.anchor
# The page runs no script and loads only its stylesheet: charts are inline SVG, the icon a data
# URL. Stricter than the other pages' policy, which the middleware would set otherwise.
CONTENT_SECURITY_POLICY = NO_SCRIPT_POLICY


def _downloads(board: dashboard.Dashboard) -> dict[str, str]:
    """The CSV reports of the mailboxes shown (for a signed-in user): every thread, whatever its
    state, and the response rate by day over 90 days."""
    chosen = [(k, v) for k, v in (("client", board.client), ("mailbox", board.mailbox)) if v]
    return {
        "threads": "/reports/threads.csv?"
        + urlencode([("state", s.value) for s in ThreadState] + chosen),
        "response_rate": "/reports/response-rate.csv?" + urlencode([("days", 90), *chosen]),
    }


@router.get("/status")
def status_page(
    request: Request,
    db: ReadSessionDep,
    settings: SettingsDep,
    range_: Annotated[Range, Query(alias="range")] = Range.DAY,
    mailbox: Annotated[str | None, Query(max_length=100)] = None,
    client: Annotated[str | None, Query(max_length=100)] = None,
) -> HTMLResponse:
    session = sessions.session_for(db, request.cookies.get(sessions.COOKIE))
    if session is None and not settings.status.public:
        raise LoginRequired
    at = now()
    board = dashboard.build(
        db,
        settings.status,
        range_=range_,
        mailbox=mailbox or None,
        client=client or None,
        now=at,
        public=session is None,
        rate_targets=registry.rate_targets(db, settings),
    )

    def local(moment: datetime | None) -> str:
        return moment.astimezone(board.zone).strftime("%b %d %H:%M") if moment else "never"

    def ago(moment: datetime | None) -> str:
        return f"{duration_text((at - moment).total_seconds())} ago" if moment else "never"

    html = pages.get_template("status.html").render(
        board=board,
        user=session.user if session else None,
        refresh_seconds=settings.status.refresh_seconds,
        ranges=list(Range),
        downloads=_downloads(board),
        demo=DEMO_MAILBOX in board.mailbox_names,
        local=local,
        ago=ago,
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": CONTENT_SECURITY_POLICY})
