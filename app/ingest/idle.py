"""IMAP IDLE on INBOX: tells the scheduler to poll as soon as the server reports new mail."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from imapclient.exceptions import IMAPClientError
from sqlalchemy.exc import SQLAlchemyError

from app.config import MailboxSettings
from app.errors import ConfigError
from app.mail.imap import ImapMailbox
from app.mail.imap_errors import ImapError
from app.oauth.grants import Logins

log = logging.getLogger(__name__)

# IDLE is re-issued this often, so a stop request is noticed quickly and no server drops the
# connection for inactivity (RFC 2177 asks for less than 29 minutes).
IDLE_SLICE_SECONDS = 10.0
RECONNECT_MAX_SECONDS = 300.0


class IdleWatcher(threading.Thread):
    """Watches one mailbox's INBOX; ``on_change`` runs when mail arrives. Polling is the fallback:
    a server without IDLE, or one that keeps failing, only delays news until the next poll."""

    def __init__(
        self, settings: MailboxSettings, logins: Logins, on_change: Callable[[], None]
    ) -> None:
        super().__init__(name=f"idle-{settings.name}", daemon=True)
        self._settings = settings
        self._logins = logins
        self._on_change = on_change
        self._stop = threading.Event()

    def stop(self) -> None:
        self._stop.set()

    def run(self) -> None:
        delay = float(self._settings.poll_seconds)
        while not self._stop.is_set():
            try:
                if not self._watch():
                    return
                delay = float(self._settings.poll_seconds)
            except (ImapError, ConfigError, IMAPClientError, OSError, SQLAlchemyError) as e:
                # The poll job reports mailbox health; here a failure only pauses the watching.
                log.info("mailbox %s: IDLE paused for %.0f s: %s", self._settings.name, delay, e)
                self._stop.wait(delay)
                delay = min(delay * 2, RECONNECT_MAX_SECONDS)

    def _watch(self) -> bool:
        """IDLE until stopped; False when the server has no IDLE (nothing to watch with)."""
        s = self._settings
        login = self._logins.for_mailbox(s)
        with ImapMailbox.for_settings(s, login, extra_timeout=IDLE_SLICE_SECONDS) as imap:
            if not imap.supports_idle():
                log.info(
                    "mailbox %s: server has no IDLE; polling every %s s", s.name, s.poll_seconds
                )
                return False
            imap.examine(s.folders.inbox)
            while not self._stop.is_set():
                if imap.wait_for_change(IDLE_SLICE_SECONDS):
                    self._on_change()
        return True
