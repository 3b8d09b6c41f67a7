"""The queue's filters as GET query parameters, so that a filtered queue is a link: read from the
request as plain text and checked here, so a wrong value is shown on the page with the reason
(a 400), never answered with an error body a person cannot read."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated, TypeVar
from urllib.parse import urlencode

from fastapi import Depends, Query
from sqlalchemy.orm import Session

from app.enums import ThreadKind
from app.errors import HttpError
from app.mailboxes import service as mailbox_service
from app.sla import WAITING_STATES, ThreadState
from app.threads.repository import ThreadFilter

MAX_TEXT = 200
MAX_NAME = 100


Choice = TypeVar("Choice", ThreadState, ThreadKind)


class InvalidFilter(HttpError):
    status_code = 400


@dataclass(frozen=True)
class QueueQuery:
    """The filters as the agent gave them (empty: no filter)."""

    mailbox: str = ""
    client: str = ""
    state: str = ""  # empty: the waiting states
    kind: str = ""
    q: str = ""

    @property
    def link(self) -> str:
        """The query string that gives this queue again ("" without filters)."""
        given = {name: value for name, value in asdict(self).items() if value}
        return "?" + urlencode(given) if given else ""


def queue_query(
    mailbox: Annotated[str, Query()] = "",
    client: Annotated[str, Query()] = "",
    state: Annotated[str, Query()] = "",
    kind: Annotated[str, Query()] = "",
    q: Annotated[str, Query()] = "",
) -> QueueQuery:
    return QueueQuery(
        mailbox=mailbox.strip(),
        client=client.strip(),
        state=state.strip(),
        kind=kind.strip(),
        q=" ".join(q.split()),
    )


QueueQueryDep = Annotated[QueueQuery, Depends(queue_query)]


def _choice(kind: type[Choice], value: str, what: str) -> Choice:
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(member.value for member in kind)
        raise InvalidFilter(f"no {what} {value[:MAX_NAME]!r}: choose one of {choices}") from None


def thread_filter(db: Session, query: QueueQuery) -> ThreadFilter:
    """The threads the filters select; InvalidFilter names a wrong value and what is allowed."""
    if len(query.q) > MAX_TEXT:
        raise InvalidFilter(f"the search text is {len(query.q)} characters; at most {MAX_TEXT}")
    for what, value in (("mailbox", query.mailbox), ("client", query.client)):
        if len(value) > MAX_NAME:
            raise InvalidFilter(f"the {what} name is {len(value)} characters; at most {MAX_NAME}")
    try:
        selection = mailbox_service.selection_for(
            db, mailbox=query.mailbox or None, client=query.client or None
        )
    except HttpError as e:
        raise InvalidFilter(e.message) from None
    return ThreadFilter(
        states=(
            frozenset({_choice(ThreadState, query.state, "state")})
            if query.state
            else frozenset(WAITING_STATES)
        ),
        kinds=frozenset({_choice(ThreadKind, query.kind, "kind")}) if query.kind else frozenset(),
        mailbox_ids=selection.ids,
        text=query.q or None,
    )
