"""Headers that make the browser refuse what the pages never do: run inline or foreign script,
apply inline style, load from elsewhere, sit in another site's frame, guess content types.

One ASGI middleware puts them on every response: ``nosniff`` everywhere (API answers too), and on
HTML pages the Content-Security-Policy, ``X-Frame-Options`` and ``Referrer-Policy``. A route that
needs a stricter policy sets its own header, which is kept (the status page runs no script at
all). The pages' CSS is a static file (``static/``, served at /static), so the policies need no
'unsafe-inline'.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The agent pages and the login page: everything from slawatch itself, nothing inline; forms
# post only back to it; the favicon is a data: URL.
PAGE_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
# Pages that run no script and load only their stylesheet (the status page, a wall screen).
NO_SCRIPT_POLICY = (
    "default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
# FastAPI's /docs and /redoc load Swagger UI and ReDoc from a CDN with inline script: they keep
# working, but still in no frame and with no other base.
DOCS_POLICY = "frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = str(scope.get("path", "")).startswith(DOCS_PATHS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault(
                        "Content-Security-Policy", DOCS_POLICY if docs else PAGE_POLICY
                    )
                    headers.setdefault("X-Frame-Options", "DENY")
                    headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        await self.app(scope, receive, send_with_headers)
