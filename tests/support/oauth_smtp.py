"""An aiosmtpd handler for an SMTP server that requires AUTH, as Gmail's and Outlook's do: XOAUTH2
with an ``OAuthProvider``'s live access tokens, or PLAIN/LOGIN with one fixed user and password."""

from __future__ import annotations

import base64
import binascii
import json
import warnings
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.support.oauth_provider import DEFAULT_SCOPE, OAuthProvider

# Gmail's answer once the client has acknowledged the error challenge of a refused XOAUTH2.
REFUSED = (
    "535-5.7.8 Username and Password not accepted. For more information, go to\r\n"
    "535 5.7.8  https://support.google.com/mail/?p=BadCredentials"
)


class OAuthSmtpHandler:
    """Records accepted mail (``messages``, as ``SmtpRecorder``) and sign-ins: ``logins`` and
    ``refused`` hold (user, mechanism). Pass ``authenticator`` to the aiosmtpd Controller."""

    def __init__(self, provider: OAuthProvider, username: str, password: str) -> None:
        self.provider = provider
        self.username = username
        self.password = password
        self.messages: list[tuple[list[str], bytes]] = []
        self.refuse_with: str | None = None
        self.logins: list[tuple[str, str]] = []
        self.refused: list[tuple[str, str]] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.refuse_with:
            return self.refuse_with
        self.messages.append((list(envelope.rcpt_tos), bytes(envelope.original_content or b"")))
        return "250 OK"

    def authenticator(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        """PLAIN and LOGIN: aiosmtpd has decoded the user name and password."""
        assert isinstance(data, LoginPassword)
        user = data.login.decode(errors="replace")
        ok = (user, data.password.decode(errors="replace")) == (self.username, self.password)
        (self.logins if ok else self.refused).append((user, mechanism))
        return AuthResult(success=ok, handled=False, auth_data=data)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802
        """``user=<u>^Aauth=Bearer <token>^A^A``, base64, inline or after an empty challenge."""
        if len(args) > 1:
            try:
                response: Any = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        else:
            response = await server.challenge_auth("")
            if not isinstance(response, bytes):  # aborted or not base64: already answered
                return AuthResult(success=False, handled=True)
        parts = (part.partition("=") for part in response.decode(errors="replace").split("\x01"))
        fields = {key: value for key, _, value in parts}
        user = fields.get("user", "")
        token = fields.get("auth", "").removeprefix("Bearer ")
        if user and self.provider.user_of(token) == user:
            self.logins.append((user, "XOAUTH2"))
            return AuthResult(success=True, auth_data=user)
        self.refused.append((user, "XOAUTH2"))
        # As Gmail (Google's XOAUTH2 docs): the error as a JSON challenge; whatever the client
        # answers then, 535.
        error = {"status": "401", "schemes": "bearer", "scope": DEFAULT_SCOPE}
        if isinstance(await server.challenge_auth(json.dumps(error)), bytes):
            return AuthResult(success=False, handled=False, message=REFUSED)
        return AuthResult(success=False, handled=True)


def serve(handler: OAuthSmtpHandler, port: int) -> Controller:
    """Start an SMTP server on 127.0.0.1:``port`` (no TLS) that requires AUTH; ``stop()`` it."""
    # Loopback only, for tests: AUTH without TLS is the point, not a risk. Set here, not at import:
    # pytest restores the warning filters after collection and after each test.
    warnings.filterwarnings("ignore", "Requiring AUTH while not requiring TLS", UserWarning)
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        authenticator=handler.authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    return controller
