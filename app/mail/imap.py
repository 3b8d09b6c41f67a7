"""Reading a mailbox over IMAP without changing it: EXAMINE (read-only) and BODY.PEEK only.

No database here: the poller decides what to fetch and stores what this module returns.
"""

from __future__ import annotations

import contextlib
import imaplib
import socket
import ssl
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from pydantic import SecretStr

from app.config import MailboxSettings
from app.enums import FolderRole
from app.errors import ConfigError
from app.mail.credentials import CredentialsError, Login, OAuthLogin, PasswordLogin
from app.mail.fetched import Fetch, FetchedMessage, unanswered_in
from app.mail.folders import choose_folders
from app.mail.imap_errors import ImapError, did_not_answer
from app.mail.tls import describe_tls_failure, tls_context

# Header fields that decide whether a spam-folder message is from Walmart; bodies of other spam
# are never downloaded.
SENDER_FIELDS = b"BODY[HEADER.FIELDS (FROM SENDER REPLY-TO)]"


@dataclass(frozen=True)
class FolderState:
    path: str
    uidvalidity: int
    uidnext: int | None
    exists: int


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _describe_os_error(
    host: str, port: int, error: OSError, *, timeout: float, ca_file: str | None = None
) -> ImapError:
    if isinstance(error, socket.gaierror):
        return ImapError("network", f"unknown host {host!r} ({error.strerror})")
    if isinstance(error, ssl.SSLError):
        why = describe_tls_failure(error, ca_file=ca_file)
        return ImapError("tls", f"TLS handshake with {host}:{port} failed: {why}")
    if isinstance(error, TimeoutError | socket.timeout):
        return ImapError("network", did_not_answer(host, port, timeout=timeout))
    if isinstance(error, ConnectionRefusedError):
        return ImapError("network", f"connection to {host}:{port} refused")
    return ImapError("network", f"connection to {host}:{port} failed: {error}")


class ImapMailbox:
    """One logged-in IMAP session. Use as a context manager; every call has ``timeout``."""

    @classmethod
    def for_settings(
        cls,
        settings: MailboxSettings,
        login: Login,
        *,
        extra_timeout: float = 0,
        deadline: float | None = None,
    ) -> ImapMailbox:
        return cls(
            host=settings.host,
            port=settings.imap_port,
            security=settings.security,
            login=login,
            timeout=settings.timeout_seconds + extra_timeout,
            deadline=deadline,
            tls_ca_file=settings.tls_ca_file,
        )

    def __init__(
        self,
        *,
        host: str,
        port: int,
        security: Literal["ssl", "starttls", "plain"],
        login: Login,
        timeout: float,
        deadline: float | None = None,
        ssl_context: ssl.SSLContext | None = None,
        tls_ca_file: str | None = None,
    ) -> None:
        """``timeout`` bounds each network call; ``deadline`` (seconds) the whole session once
        connected, for a server that answers each call, but too slowly ever to finish.
        ``tls_ca_file``: the CAs (PEM) to verify the server against instead of the system's."""
        self.host, self.port = host, port
        self._security = security
        self._login = login
        self._timeout = timeout
        self._ssl_context = ssl_context
        self._tls_ca_file = tls_ca_file
        self._client: IMAPClient | None = None
        self._deadline = deadline
        self._watchdog: threading.Timer | None = None
        self.deadline_passed = False

    @property
    def client(self) -> IMAPClient:
        if self._client is None:
            raise ImapError("protocol", "not connected")
        return self._client

    def __enter__(self) -> ImapMailbox:
        # The token first (it may take a call to the provider), so no connection idles meanwhile.
        try:
            token = self._login.tokens.current() if isinstance(self._login, OAuthLogin) else None
        except CredentialsError as e:
            raise ImapError(e.kind, e.reason) from e
        try:
            context = self._tls_context()
        except ConfigError as e:
            raise ImapError("config", str(e)) from e
        try:
            client = IMAPClient(
                self.host,
                port=self.port,
                ssl=self._security == "ssl",
                ssl_context=context,
                timeout=self._timeout,
            )
        except OSError as e:
            raise self._describe(e) from e
        client.normalise_times = False  # keep INTERNALDATE's zone; we convert to UTC ourselves
        # imapclient sets imaplib's debug level to 5, at which imaplib formats the repr of every
        # response it reads, a fetched message's literal included, twice and whether or not the
        # log is enabled: two or three strings the size of the message, for nothing.
        client._imap.debug = 0
        self._client = client
        if self._deadline is not None:
            self._watchdog = threading.Timer(self._deadline, self._stop_at_deadline, [client])
            self._watchdog.daemon = True
            self._watchdog.start()
        try:
            if self._security == "starttls":
                client.starttls(context)
            self._sign_in(client, token)
        except LoginError as e:
            self._close(graceful=True)
            raise ImapError(
                "auth", f"login as {self._login.username!r} refused by {self.host}: {_text(e)}"
            ) from e
        except CredentialsError as e:
            self._close(graceful=True)
            raise ImapError(e.kind, e.reason) from e
        except ImapError:
            self._close(graceful=True)
            raise
        except (IMAPClientError, OSError) as e:
            self._close(graceful=not isinstance(e, OSError))
            if isinstance(e, OSError):
                raise self._describe(e) from e
            raise ImapError("protocol", f"{self.host}: {_text(e)}") from e
        except BaseException:
            self._close(graceful=False)
            raise
        return self

    def _sign_in(self, client: IMAPClient, token: SecretStr | None) -> None:
        login = self._login
        if not isinstance(login, OAuthLogin) or token is None:
            assert isinstance(login, PasswordLogin)
            client.login(login.username, login.password.get_secret_value())
            return
        try:
            client.oauth2_login(login.username, token.get_secret_value())
            return
        except LoginError as e:
            self._unless_disconnected(e)
        # Refused: the token may have been revoked early; a new one gets one more try.
        token = login.tokens.renewed(token)
        try:
            client.oauth2_login(login.username, token.get_secret_value())
        except LoginError as e:
            self._unless_disconnected(e)
            raise ImapError(
                "reauthorize",
                f"{self.host} refused OAuth2 sign-in as {login.username!r} even with a fresh "
                f"token ({_text(e)}): re-authorise the mailbox, and check IMAP is enabled for "
                "the account",
            ) from e

    def _unless_disconnected(self, error: LoginError) -> None:
        """imapclient reports a connection lost during AUTHENTICATE as a refused login: that is
        a network failure, not a reason to re-authorise."""
        if isinstance(error.__context__, imaplib.IMAP4.abort):
            raise ImapError(
                "network", f"{self.host}: connection lost while signing in: {_text(error)}"
            ) from error

    def _tls_context(self) -> ssl.SSLContext | None:
        if self._security == "plain":
            return None
        return self._ssl_context or tls_context(self._tls_ca_file)

    def _describe(self, error: OSError) -> ImapError:
        return _describe_os_error(
            self.host, self.port, error, timeout=self._timeout, ca_file=self._tls_ca_file
        )

    def __exit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        self._close(graceful=not isinstance(error, OSError))

    def _stop_at_deadline(self, client: IMAPClient) -> None:
        # Shutting the socket down wakes the call blocked on it, which then fails at once.
        self.deadline_passed = True
        with contextlib.suppress(OSError):
            client.socket().shutdown(socket.SHUT_RDWR)

    def _close(self, *, graceful: bool) -> None:
        """Log out, or after a timeout or a broken connection just close the socket: a LOGOUT
        to a server that stopped answering would wait a whole timeout again."""
        client, self._client = self._client, None
        if self._watchdog is not None:
            self._watchdog.cancel()
        if client is None:
            return
        if not graceful:
            with contextlib.suppress(IMAPClientError, OSError):
                client.shutdown()
            return
        try:
            client.logout()
        except (IMAPClientError, OSError):
            with contextlib.suppress(IMAPClientError, OSError):
                client.shutdown()

    def locate_folders(self, settings: MailboxSettings) -> dict[FolderRole, str | None]:
        """The folders of a mailbox's settings: its overrides, then its provider's names."""
        preset = settings.preset
        hints = (
            {FolderRole.SENT: preset.sent_folder, FolderRole.SPAM: preset.spam_folder}
            if preset
            else {}
        )
        return self.find_folders(
            {
                FolderRole.INBOX: settings.folders.inbox,
                FolderRole.SENT: settings.folders.sent,
                FolderRole.SPAM: settings.folders.spam,
            },
            hints=hints,
        )

    def find_folders(
        self,
        overrides: dict[FolderRole, str | None],
        *,
        hints: dict[FolderRole, str] | None = None,
    ) -> dict[FolderRole, str | None]:
        return choose_folders(self.client.list_folders(), overrides, hints=hints or {})

    def examine(self, path: str) -> FolderState:
        """Open ``path`` read-only: nothing this session does can change flags or delete mail."""
        try:
            response = self.client.select_folder(path, readonly=True)
        except IMAPClientError as e:
            raise ImapError("folder", f"cannot open folder {path!r}: {_text(e)}") from e
        return FolderState(
            path=path,
            uidvalidity=int(response[b"UIDVALIDITY"]),
            uidnext=int(response[b"UIDNEXT"]) if b"UIDNEXT" in response else None,
            exists=int(response.get(b"EXISTS", 0)),
        )

    def uids_above(self, last_uid: int) -> list[int]:
        # "UID n:*" always includes the highest UID, even below n: filter it out.
        uids = self.client.search(["UID", f"{last_uid + 1}:*"])
        return sorted(uid for uid in uids if uid > last_uid)

    def sizes(self, uids: Sequence[int]) -> dict[int, int]:
        response = self.client.fetch(uids, ["RFC822.SIZE"])
        return {uid: int(data.get(b"RFC822.SIZE", 0)) for uid, data in response.items()}

    def sender_headers(self, uids: Sequence[int]) -> Fetch[bytes]:
        """From/Sender/Reply-To of each message, fetched with BODY.PEEK (never sets \\Seen). A UID
        the server answered without them is unanswered, not a message without a sender."""
        response = self.client.fetch(uids, ["BODY.PEEK[HEADER.FIELDS (FROM SENDER REPLY-TO)]"])
        return Fetch(
            {
                uid: bytes(data[SENDER_FIELDS])
                for uid, data in response.items()
                if data.get(SENDER_FIELDS) is not None
            },
            unanswered_in(uids, response, SENDER_FIELDS),
        )

    def fetch(self, uids: Sequence[int]) -> Fetch[FetchedMessage]:
        """The whole messages, by UID; a UID the server answered without its body (or left out
        of its answer, as when it was deleted meanwhile) is unanswered."""
        response = self.client.fetch(uids, ["BODY.PEEK[]", "INTERNALDATE"])
        messages = {}
        for uid, data in response.items():
            raw = data.get(b"BODY[]")
            if raw is None:
                continue
            messages[uid] = FetchedMessage(
                uid=uid, internal_date=_utc(data.get(b"INTERNALDATE")), raw=bytes(raw)
            )
        return Fetch(messages, unanswered_in(uids, response, b"BODY[]"))

    def fetch_headers(self, uids: Sequence[int], *, max_bytes: int) -> Fetch[FetchedMessage]:
        """Only the header of each message (at most ``max_bytes`` of it), with the whole message's
        size, by UID: for messages too big to fetch whole. BODY.PEEK never sets \\Seen."""
        part = f"BODY.PEEK[HEADER]<0.{max_bytes}>"
        response = self.client.fetch(uids, [part, "INTERNALDATE", "RFC822.SIZE"])
        messages = {}
        for uid, data in response.items():
            header = data.get(b"BODY[HEADER]<0>")
            if header is None:
                continue
            messages[uid] = FetchedMessage(
                uid=uid,
                internal_date=_utc(data.get(b"INTERNALDATE")),
                raw=bytes(header),
                headers_only=True,
                size=int(data.get(b"RFC822.SIZE", 0)),
            )
        return Fetch(messages, unanswered_in(uids, response, b"BODY[HEADER]<0>"))

    def append_sent(self, raw: bytes, *, settings: MailboxSettings) -> str:
        """Store a message the seller sent in the Sent folder, marked read; returns the path."""
        path = self.locate_folders(settings)[FolderRole.SENT]
        if path is None:
            raise ImapError("folder", "no Sent folder found; set folders.sent for this mailbox")
        try:
            self.client.append(path, raw, flags=[b"\\Seen"])
        except IMAPClientError as e:
            raise ImapError("folder", f"cannot append to {path!r}: {_text(e)}") from e
        return path

    def copy_to(self, uids: Iterable[int], path: str) -> None:
        self.client.copy(list(uids), path)

    def supports_idle(self) -> bool:
        return bool(self.client.has_capability("IDLE"))

    def wait_for_change(self, seconds: float) -> bool:
        """IDLE on the selected folder for up to ``seconds``; True when the server reported news."""
        self.client.idle()
        try:
            responses = self.client.idle_check(timeout=seconds)
        finally:
            self.client.idle_done()
        return any(b"EXISTS" in r or b"RECENT" in r for r in responses if isinstance(r, tuple))


def _text(error: Exception) -> str:
    message = error.args[0] if error.args else error
    if isinstance(message, bytes):
        return message.decode(errors="replace")
    return str(message)
