"""An aiosmtpd server on 127.0.0.1 speaking TLS with a test certificate: STARTTLS required before
anything else (as port 587 servers do), or TLS from the first byte (port 465). Both take AUTH
PLAIN/LOGIN as one user, only over TLS; STARTTLS requires it, implicit TLS records whether the
client signed in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.dovecot import free_port
from tests.support.tls_certs import ServerCert


@dataclass
class TlsSmtpHandler:
    username: str
    password: str
    messages: list[tuple[list[str], bytes]] = field(default_factory=list)
    # Whether each session that sent mail was encrypted and signed in, as the server saw it.
    encrypted: list[bool] = field(default_factory=list)
    signed_in: list[bool] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content or b"")))
        transport = server.transport
        self.encrypted.append(
            transport is not None and bool(transport.get_extra_info("ssl_object"))
        )
        self.signed_in.append(bool(session.authenticated))
        return "250 OK"

    def authenticator(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert isinstance(data, LoginPassword)
        given = (data.login.decode(errors="replace"), data.password.decode(errors="replace"))
        return AuthResult(success=given == (self.username, self.password), handled=False)


@dataclass(frozen=True)
class TlsSmtpServer:
    host: str
    port: int
    security: Literal["ssl", "starttls"]
    handler: TlsSmtpHandler


@contextmanager
def serving_tls_smtp(
    cert: ServerCert,
    security: Literal["ssl", "starttls"],
    *,
    username: str = "smtp-user@example.test",
    password: str = "smtp-password",
) -> Iterator[TlsSmtpServer]:
    handler = TlsSmtpHandler(username, password)
    common: dict[str, Any] = {
        "hostname": "127.0.0.1",
        "port": free_port(),
        "authenticator": handler.authenticator,
        # Generous: the machine is shared and busy; starting is quick when it is not.
        "ready_timeout": 30,
    }
    if security == "starttls":
        controller = Controller(
            handler,
            tls_context=cert.server_context(),
            require_starttls=True,
            auth_required=True,
            **common,
        )
    else:
        # aiosmtpd counts only STARTTLS as TLS for AUTH (and warns of requiring AUTH without
        # it): here the whole connection is TLS, so AUTH is offered at once, and whether the
        # client signed in is recorded instead of required.
        controller = Controller(
            handler, ssl_context=cert.server_context(), auth_require_tls=False, **common
        )
    controller.start()
    try:
        yield TlsSmtpServer("127.0.0.1", controller.port, security, handler)
    finally:
        controller.stop()
