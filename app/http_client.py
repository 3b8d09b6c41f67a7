"""The one HTTP client of the process, for every outside HTTP API slawatch calls (OAuth2 providers,
Walmart's API, chat and webhook channels).

One client, thread-safe, because building one loads the CA certificates, some 30 ms of CPU each
time; redirects are never followed, so a token or a signed body only goes where it was configured
to go. httpx is imported when the client is first needed: a poll of password mailboxes never
loads it (a third of the time a `slawatch poll` process takes to start)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from app.mail.tls import default_tls_context

if TYPE_CHECKING:
    import httpx


@functools.cache
def http_client() -> httpx.Client:
    import httpx

    return httpx.Client(verify=default_tls_context(), follow_redirects=False)
