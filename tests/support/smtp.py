"""A real SMTP server (aiosmtpd) on 127.0.0.1 that records what it accepts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.config import SmtpSettings


class SmtpRecorder:
    """Accepts mail and keeps it; set ``refuse_with`` to an SMTP reply to refuse instead, or
    ``drop_after_data`` to take the message and then cut the connection before answering (the
    client cannot know whether it was accepted)."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse_with: str | None = None
        self.drop_after_data = False

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self.refuse_with:
            return self.refuse_with
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content)))
        if self.drop_after_data:
            server.transport.abort()  # no reply reaches the client
        return "250 OK"


@dataclass
class SmtpServer:
    host: str
    port: int
    recorder: SmtpRecorder

    def settings(self) -> SmtpSettings:
        return SmtpSettings(host=self.host, port=self.port, security="plain", timeout_seconds=10)
