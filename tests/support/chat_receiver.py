"""A real HTTP server on 127.0.0.1 standing for Slack's incoming webhooks, a Microsoft Teams
Workflows webhook and a generic webhook consumer: it records every POST (path, headers, body) and
answers as they do (Slack ``200 ok``, Teams ``202``), or with the status a test sets for a path.

Each channel's URL carries a secret in its path, as Slack's and Teams' do, so tests can look for
it where it must never be."""

from __future__ import annotations

import json
import secrets
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class ChatReceiver:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.posted: list[Posted] = []
        self.status: dict[str, int] = {}  # path -> the status to answer instead
        token = secrets.token_hex(12)
        # Shaped like the real ones: the secret is the path.
        self.slack_path = f"/services/T0001/B0002/{token}"
        self.teams_path = f"/workflows/{token}/triggers/manual/paths/invoke"
        self.webhook_path = f"/hooks/slawatch/{token}"
        self.secret = token
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (the http.server API)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver._lock:
                    receiver.posted.append(Posted(self.path, dict(self.headers), body))
                    status = receiver.status.get(self.path)
                if status is None:
                    status = 202 if self.path == receiver.teams_path else 200
                answer = b"ok" if status == 200 else b"" if status == 202 else b"no_service"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> ChatReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def url(self, path: str) -> str:
        return self.base + path

    def to(self, path: str) -> list[Posted]:
        with self._lock:
            return [p for p in self.posted if p.path == path]
