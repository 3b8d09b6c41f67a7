"""The SLA clock: pure functions of timestamps and policy, no I/O."""

from datetime import datetime


def arrival_time(
    *, internal_date: datetime | None, date_header: datetime | None, stored_at: datetime
) -> datetime:
    """When a message reached the mailbox: the server's INTERNALDATE; the Date header only when the
    server gave none and it is not in the future (a sender's clock must not shorten our deadline);
    else the moment we stored it."""
    if internal_date is not None:
        return internal_date
    if date_header is not None and date_header <= stored_at:
        return date_header
    return stored_at
