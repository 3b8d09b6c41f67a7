"""A person's consent, obtained from a terminal on a headless server (`slawatch mailboxes
authorize NAME`).

Device flow (Microsoft, custom providers with a device endpoint): a URL and a code to enter on
any device. Browser flow (Google, whose device flow does not allow the mail scope): a URL to open
on any device; the provider then sends the browser to a loopback address on this machine. When
the browser runs elsewhere that last page fails to load, and the person pastes its address here
instead; either way the code arrives, protected by PKCE and the state value."""

from __future__ import annotations

import queue
import secrets
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

from app.clock import now
from app.config import MailboxSettings
from app.mail.credentials import CredentialsError
from app.oauth.endpoints import DevicePending, OAuthClient, Pkce, TokenGrant

SLOW_DOWN_SECONDS = 5  # RFC 8628: poll this much less often after a slow_down
CONSENT_SECONDS = 15 * 60  # how long the browser flow waits for the person


def authorize(
    settings: MailboxSettings,
    *,
    out: TextIO = sys.stdout,
    lines: TextIO = sys.stdin,
    port: int = 0,
) -> TokenGrant:
    client = OAuthClient(settings)
    if client.endpoints.flow == "device":
        return _device_flow(client, out=out)
    return _browser_flow(client, out=out, lines=lines, port=port)


def _device_flow(client: OAuthClient, *, out: TextIO) -> TokenGrant:
    device = client.start_device_flow()
    print(
        f"On any device, open {device.verification_uri} and enter the code {device.user_code}\n"
        f"then sign in as {client.settings.username} and accept.",
        file=out,
        flush=True,
    )
    deadline = time.monotonic() + device.expires_in
    interval = device.interval
    while time.monotonic() < deadline:
        time.sleep(interval)
        try:
            return client.poll_device_flow(device, now=now())
        except DevicePending as pending:
            if pending.slow_down:
                interval += SLOW_DOWN_SECONDS
        except CredentialsError as e:
            if e.kind != "network":
                raise
            print(f"still waiting ({e.reason})", file=out, flush=True)  # a blip: ask again
    raise CredentialsError(
        "reauthorize", f"the code expired after {device.expires_in:g} s; run the command again"
    )


def _browser_flow(client: OAuthClient, *, out: TextIO, lines: TextIO, port: int) -> TokenGrant:
    pkce, state = Pkce.new(), secrets.token_urlsafe(24)
    answers: queue.Queue[str] = queue.Queue()
    try:
        server = _LoopbackServer(port, answers.put)
    except OSError as e:
        raise CredentialsError(
            "config", f"cannot listen on 127.0.0.1:{port} for the redirect: {e.strerror}"
        ) from None
    try:
        return _await_consent(client, server, answers, pkce=pkce, state=state, out=out, lines=lines)
    finally:
        server.close()


def _await_consent(
    client: OAuthClient,
    server: _LoopbackServer,
    answers: queue.Queue[str],
    *,
    pkce: Pkce,
    state: str,
    out: TextIO,
    lines: TextIO,
) -> TokenGrant:
    redirect_uri = f"http://127.0.0.1:{server.port}/"
    url = client.authorization_url(redirect_uri=redirect_uri, state=state, pkce=pkce)
    print(
        f"Open this address in a browser on any device and sign in as "
        f"{client.settings.username}:\n\n  {url}\n\n"
        f"If the browser is not on this machine, its last page ({redirect_uri}...) will not "
        "load:\ncopy that page's whole address from the address bar and paste it here.",
        file=out,
        flush=True,
    )
    threading.Thread(target=_read_lines, args=(lines, answers.put), daemon=True).start()
    deadline = time.monotonic() + CONSENT_SECONDS
    while True:
        try:
            answer = answers.get(timeout=max(deadline - time.monotonic(), 0))
        except queue.Empty:
            raise CredentialsError(
                "reauthorize", f"no answer within {CONSENT_SECONDS // 60} minutes; run it again"
            ) from None
        try:
            code = code_from_redirect(answer, state=state)
        except ValueError as e:
            print(f"{e}; paste the whole address of the last page", file=out, flush=True)
            continue
        return client.exchange_code(code=code, redirect_uri=redirect_uri, pkce=pkce, now=now())


def code_from_redirect(address: str, *, state: str) -> str:
    """The authorization code in the redirect address, once its state is checked."""
    query = parse_qs(urlsplit(address.strip()).query)
    # The state first: only the provider's answer to this request may end the flow.
    if query.get("state") != [state]:
        raise ValueError("that address is not the answer to this request (its state differs)")
    if "error" in query:
        raise CredentialsError(
            "reauthorize", f"the provider answered {query['error'][0]}: consent was not given"
        )
    if not query.get("code"):
        raise ValueError("that address holds no authorization code")
    return query["code"][0]


def _read_lines(lines: TextIO, put: Callable[[str], None]) -> None:
    for line in lines:
        if line.strip():
            put(line)


class _LoopbackServer:
    """Receives the browser's redirect on 127.0.0.1 (only loopback: nobody else can send it)."""

    def __init__(self, port: int, put: Callable[[str], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if "code=" not in self.path and "error=" not in self.path:
                    self.send_error(404)  # the browser's favicon request, say
                    return
                put(f"http://127.0.0.1{self.path}")
                body = b"slawatch received the answer; you can close this page."
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: object) -> None:
                pass  # the request line carries the code: never logged

        self._server = HTTPServer(("127.0.0.1", port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
