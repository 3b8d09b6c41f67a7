"""The query parameters that choose threads (state, kind, mailbox, client, q) and mailboxes
(mailbox, client): one definition for the thread list and the reports, so each takes the same
parameters and refuses the same values."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from app.deps import SessionDep
from app.enums import ThreadKind
from app.mailboxes import service as mailbox_service
from app.sla import WAITING_STATES, ThreadState
from app.threads.queries import Selection
from app.threads.repository import ThreadFilter


def mailbox_selection(
    db: SessionDep,
    mailbox: Annotated[str | None, Query(max_length=100)] = None,
    client: Annotated[str | None, Query(max_length=100)] = None,
) -> Selection:
    """One mailbox, a client's mailboxes, or all; an unknown mailbox or client is a 422."""
    return mailbox_service.selection_for(db, mailbox=mailbox, client=client)


# Declared after the user in each route: who may ask is checked before mailbox and client
# names are looked up, so no one without a token learns which exist.
SelectionDep = Annotated[Selection, Depends(mailbox_selection)]


def thread_filter(
    selection: SelectionDep,
    state: Annotated[list[ThreadState] | None, Query()] = None,
    kind: Annotated[list[ThreadKind] | None, Query()] = None,
    q: Annotated[
        str | None, Query(max_length=200, description="subject, customer name or address, order")
    ] = None,
) -> ThreadFilter:
    """Without ``state``, the three waiting states."""
    return ThreadFilter(
        states=frozenset(state or WAITING_STATES),
        kinds=frozenset(kind or ()),
        mailbox_ids=selection.ids,
        text=q.strip() or None if q else None,
    )


ThreadFilterDep = Annotated[ThreadFilter, Depends(thread_filter)]  # after the user, as above
