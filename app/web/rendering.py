"""Rendering the agent's pages, the thread page above all: shown on its own, and again with the
reason when a form on it is refused."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from app.clock import now
from app.config import Settings
from app.enums import AnswerChannel, Classification, Role
from app.errors import HttpError
from app.mail.quoting import trim_quoted_history
from app.models import Draft, WebSession
from app.replies import drafts, sending
from app.replies import repository as reply_repository
from app.templating import html_templates
from app.threads import outside_repository
from app.threads import queries as thread_queries
from app.threads import queue as thread_queue
from app.threads import repository as thread_repository
from app.threads import service as thread_service
from app.walmart.events import FRAUD_CANCEL, INTENT_TO_CANCEL, PO_LINE_AUTOCANCELLED
from app.walmart.opening import OrderReads, order_context
from app.walmart.views import order_events_out
from app.web.queue_filter import InvalidFilter, QueueQuery, thread_filter

pages = html_templates("web")
# The queue without filters: where "next thread" leads from a thread opened by its own link.
EVERY_THREAD = QueueQuery()
# How the thread page names the places a customer is answered outside the mailbox.
CHANNEL_NAMES = {
    AnswerChannel.SELLER_CENTER: "Seller Center inbox",
    AnswerChannel.PHONE: "Phone",
    AnswerChannel.OTHER: "Other",
}
# How the order panel names what Walmart reported about a line.
EVENT_NAMES = {
    INTENT_TO_CANCEL: "The customer asked to cancel",
    PO_LINE_AUTOCANCELLED: "Cancelled by Walmart (not shipped in time)",
    FRAUD_CANCEL: "Cancelled by Walmart for fraud",
}


def render(name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(pages.get_template(name).render(**context), status_code=status_code)


def render_thread(
    db: Session,
    settings: Settings,
    session: WebSession,
    thread_id: int,
    *,
    error: str | None = None,
    status_code: int = 200,
    reads: OrderReads | None = None,
    query: QueueQuery = EVERY_THREAD,
) -> HTMLResponse:
    """The thread page; with ``reads``, an order copy older than a few minutes is read again
    (a bounded wait), without (a form refused) the copy as it is. ``query``: the filtered queue
    the agent came from, which "next thread" and "back to the queue" stay in."""
    thread = thread_service.get_thread(db, thread_id)
    at = now()
    stored = thread_repository.messages_of(db, thread.id)
    messages = [{"message": m, "text": trim_quoted_history(m.body_text)} for m in stored]
    latest = next(
        (m for m in reversed(stored) if m.classification == Classification.CUSTOMER), None
    )
    # Viewers see no drafts, as on the API (one rule: app.replies.drafts.DRAFT_ROLE).
    see_drafts = drafts.can_see_drafts(session.user)
    draft_rows = (
        [_draft_row(db, d, settings) for d in reply_repository.drafts_of(db, thread.id)]
        if see_drafts
        else []
    )
    participants, default_recipient = (
        drafts.thread_participants(db, thread=thread, settings=settings)
        if see_drafts
        else ([], None)
    )
    marketplace = thread_service.marketplace_of_thread(db, settings, thread)
    order = order_context(db, settings, thread, reads=reads)
    return render(
        "thread.html",
        status_code,
        user=session.user,
        csrf_token=session.csrf_token,
        thread=thread,
        state=thread_queries.state_of(thread, at),
        customer=thread_queue.customer_of(thread, latest.from_name if latest else None),
        suggestion=(
            thread_queue.topic_of(subject=latest.subject, text=latest.body_text) if latest else None
        ),
        query=query,
        next_thread=_next_thread(db, query, thread.id, at),
        left=(thread.due_at - at).total_seconds() if thread.due_at else None,
        messages=messages,
        outside_answers=outside_repository.of_thread(db, thread.id),
        channels=CHANNEL_NAMES,
        max_note=thread_service.MAX_NOTE,
        marketplace=marketplace.title(),
        close_counts_in_rate=settings.sla.close_counts_in_rate(marketplace),
        drafts=draft_rows,
        participants=participants,
        default_recipient=default_recipient,
        templates=reply_repository.list_templates(db) if see_drafts else [],
        error=error,
        can_act=see_drafts and session.user.role.allows(Role.AGENT),
        sending_off=sending.sending_off(db, settings, thread) if see_drafts else None,
        order=order,
        order_events=order_events_out(db, thread, order),
        event_names=EVENT_NAMES,
        now=at,
    )


def _next_thread(db: Session, query: QueueQuery, thread_id: int, at: datetime) -> int | None:
    try:
        selected = thread_filter(db, query)
    except InvalidFilter:
        # A hand-edited link still shows the thread; "next" then walks the whole queue.
        selected = thread_filter(db, EVERY_THREAD)
    return thread_queue.next_in_queue(db, selected, now=at, after=thread_id)


def _draft_row(db: Session, draft: Draft, settings: Settings) -> dict[str, Any]:
    lint = drafts.findings(db, draft, settings)
    return {
        "draft": draft,
        "envelope": drafts.envelope_of(draft),
        "body_sha256": drafts.body_hash(draft.body),
        "envelope_sha256": drafts.shown_envelope_sha256(draft),
        "lint": lint,
        "errors": [f for f in lint if f.severity == "error"],
    }


def after(
    action: Callable[[], object],
    *,
    db: Session,
    settings: Settings,
    session: WebSession,
    thread_id: int,
    anchor: str = "",
) -> Response:
    """Run a form action; on success go back to the thread, on a refusal show why."""
    try:
        action()
    except HttpError as e:
        db.rollback()
        return render_thread(
            db, settings, session, thread_id, error=e.message, status_code=e.status_code
        )
    return RedirectResponse(f"/threads/{thread_id}{anchor}", status_code=303)
