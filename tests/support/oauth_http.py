"""The test authorization server's HTTP side: requests parsed as Google's and Microsoft's servers
parse them, answers and RFC 6749 error bodies as they send them. What the requests do is up to the
provider (``tests.support.oauth_provider``), which keeps the state."""

from __future__ import annotations

import base64
import json
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from tests.support.oauth_provider import OAuthProvider


class OAuthError(Exception):
    """An RFC 6749 §5.2 error answer."""

    def __init__(self, error: str, description: str = "", status: int = 400) -> None:
        super().__init__(error)
        self.error = error
        self.description = description
        self.status = status

    def body(self) -> dict[str, str]:
        body = {"error": self.error}
        if self.description:
            body["error_description"] = self.description
        return body


def parse_form(body: bytes) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}


def basic_auth(header: str | None) -> tuple[str, str] | None:
    """RFC 6749 §2.3.1 client authentication in an Authorization: Basic header."""
    if not header or not header.lower().startswith("basic "):
        return None
    client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
    return client_id, secret


DEVICE_PAGE = """<!doctype html><title>Sign in</title>
<form method="post"><label>Code <input name="user_code"></label>
<label>Account <input name="user"></label><button>Allow</button></form>"""


class OAuthHandler(BaseHTTPRequestHandler):
    """The HTTP face of ``oauth``: each request becomes a call to one of its endpoints."""

    oauth: OAuthProvider

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = urlsplit(self.path).path
        basic = basic_auth(self.headers.get("Authorization"))
        try:
            if path == "/token":
                self._json(200, self.oauth.token(parse_form(body), basic))
            elif path == "/devicecode":
                self._json(200, self.oauth.device_authorization(parse_form(body), basic))
            elif path == "/introspect":
                content_type = self.headers.get("Content-Type", "")
                self._json(200, self.oauth.introspect(content_type, body))
            elif path == "/device":
                # The page a person would use; tests call approve_device instead.
                form = parse_form(body)
                self.oauth.approve_device(form.get("user_code", ""), form.get("user", ""))
                self._send(200, "text/html", b"<p>You may close this window.</p>")
            else:
                self._json(404, {"error": "not_found"})
        except OAuthError as e:
            self._json(e.status, e.body())
        except KeyError as e:
            self._json(400, {"error": "invalid_request", "error_description": str(e)})

    def do_GET(self) -> None:  # noqa: N802
        parts = urlsplit(self.path)
        if parts.path == "/authorize":
            try:
                location = self.oauth.authorize(parse_form(parts.query.encode()))
            except OAuthError as e:
                self._json(e.status, e.body())
                return
            self.send_response(302)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parts.path == "/device":
            self._send(200, "text/html", DEVICE_PAGE.encode())
        else:
            self._json(404, {"error": "not_found"})

    def _json(self, status: int, body: dict[str, Any]) -> None:
        self._send(status, "application/json", json.dumps(body).encode())

    def _send(self, status: int, content_type: str, data: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests carry tokens, and the test output has no use for them
