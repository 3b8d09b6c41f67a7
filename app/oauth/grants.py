"""Mailboxes' OAuth2 grants: stored encrypted, refreshed before they expire, and turned into the
``Login`` the IMAP and SMTP clients sign in with."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from app.clock import now
from app.config import MailboxSettings, Settings
from app.db import session_scope
from app.mail.credentials import CredentialsError, Login, OAuthLogin, PasswordLogin
from app.mailboxes import repository as mailbox_repository
from app.models import Mailbox, OAuthGrant
from app.oauth import repository as oauth_repository
from app.oauth.cipher import TokenCipher
from app.oauth.endpoints import OAuthClient, TokenGrant

# An access token this close to its expiry is refreshed first: a poll or an IDLE session can
# outlast a token that had only seconds left.
REFRESH_MARGIN = timedelta(minutes=5)

log = logging.getLogger(__name__)


def _grant_row(db: Session, mailbox_name: str) -> OAuthGrant | None:
    mailbox = mailbox_repository.mailbox_by_name(db, mailbox_name)
    return oauth_repository.grant_of(db, mailbox.id) if mailbox else None


def store(db: Session, mailbox: Mailbox, grant: TokenGrant, cipher: TokenCipher) -> OAuthGrant:
    """Keep a new grant from a person's consent, replacing any earlier (or refused) one."""
    if grant.refresh_token is None:
        raise CredentialsError(
            "reauthorize",
            "the provider gave no refresh token: the app registration must allow offline access "
            "(Microsoft: the offline_access scope; Google: a Desktop app client)",
        )
    row = oauth_repository.grant_of(db, mailbox.id) or OAuthGrant(mailbox_id=mailbox.id)
    row.refresh_token = cipher.encrypt(grant.refresh_token)
    row.access_token = cipher.encrypt(grant.access_token)
    row.access_expires_at = grant.expires_at
    row.authorized_at, row.refreshed_at = now(), None
    row.refused_at, row.refused_reason = None, None
    db.add(row)
    db.flush()
    return row


def forget(db: Session, mailbox: Mailbox) -> bool:
    """Remove the mailbox's grant; True if it had one."""
    row = oauth_repository.grant_of(db, mailbox.id)
    if row is None:
        return False
    db.delete(row)
    db.flush()
    return True


def reencrypt_all(db: Session, cipher: TokenCipher) -> int:
    """Every stored token re-encrypted with the cipher's first key (after a key rotation)."""
    rows = oauth_repository.all_grants(db)
    for row in rows:
        row.refresh_token = cipher.rotate(row.refresh_token)
        if row.access_token:
            row.access_token = cipher.rotate(row.access_token)
    return len(rows)


class MailboxTokens:
    """The access tokens of one mailbox, shared by every process through the database. Two
    processes refreshing at once both get valid tokens (providers keep an earlier refresh token
    valid when they rotate it), so no lock is held across the call to the provider. It commits
    its own short units of work: it is called in the middle of a poll or a connection test, and
    a refresh must be kept whatever becomes of them."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        settings: MailboxSettings,
        cipher: TokenCipher,
        lock: threading.Lock,
    ) -> None:
        self._session_factory = session_factory
        self._settings = settings
        self._cipher = cipher
        self._lock = lock

    def current(self) -> SecretStr:
        return self._token(refused=None)

    def renewed(self, refused: SecretStr) -> SecretStr:
        return self._token(refused=refused)

    def _token(self, *, refused: SecretStr | None) -> SecretStr:
        # One refresh at a time per mailbox in this process (a poll and its IDLE watcher).
        with self._lock:
            return self._token_locked(refused=refused)

    def _token_locked(self, *, refused: SecretStr | None) -> SecretStr:
        name = self._settings.name
        still_valid: SecretStr | None = None
        # Its own sessions, not the caller's: a refreshed token is committed at once and never
        # lost with a poll that fails later (the one exception to "the caller owns the commit").
        with session_scope(self._session_factory) as db:
            row = _grant_row(db, name)
            if row is None:
                raise CredentialsError(
                    "reauthorize",
                    f"mailbox {name!r} is not authorised yet: run "
                    f"`slawatch mailboxes authorize {name}`",
                )
            if row.refused_at is not None:
                raise CredentialsError("reauthorize", row.refused_reason or "sign-in refused")
            if row.access_token and row.access_expires_at:
                access = self._cipher.decrypt(row.access_token)
                issued = row.refreshed_at or row.authorized_at
                # Five minutes ahead, or half the lifetime of a short-lived token.
                margin = min(REFRESH_MARGIN, (row.access_expires_at - issued) / 2)
                left = row.access_expires_at - now()
                # A token refused by a server is renewed, unless another process already did.
                if refused is None or access != refused:
                    if left > margin:
                        return access
                    if left > timedelta(0):
                        still_valid = access
            refresh_token = self._cipher.decrypt(row.refresh_token)
        try:
            grant = OAuthClient(self._settings).refresh(refresh_token, now=now())
        except CredentialsError as e:
            if e.kind == "reauthorize":
                self._record_refusal(refresh_token, e.reason)
            elif still_valid is not None:
                # Refreshing early failed for now: the token in hand still works a while.
                log.warning("mailbox %s: early token refresh failed: %s", name, e.reason)
                return still_valid
            raise
        self._record_refresh(refresh_token, grant)
        return grant.access_token

    def _current_row(self, db: Session, refresh_token: SecretStr) -> OAuthGrant | None:
        """The grant row, unless a person authorised anew meanwhile (another refresh token)."""
        row = _grant_row(db, self._settings.name)
        if row is None or self._cipher.decrypt(row.refresh_token) != refresh_token:
            return None
        return row

    def _record_refresh(self, refresh_token: SecretStr, grant: TokenGrant) -> None:
        with session_scope(self._session_factory) as db:
            row = self._current_row(db, refresh_token)
            if row is None:
                return
            row.access_token = self._cipher.encrypt(grant.access_token)
            row.access_expires_at, row.refreshed_at = grant.expires_at, now()
            if grant.refresh_token is not None:
                row.refresh_token = self._cipher.encrypt(grant.refresh_token)

    def _record_refusal(self, refresh_token: SecretStr, reason: str) -> None:
        with session_scope(self._session_factory) as db:
            row = self._current_row(db, refresh_token)
            if row is not None:
                row.refused_at, row.refused_reason = now(), reason
                row.access_token = row.access_expires_at = None


class Logins:
    """How each mailbox signs in: its password, or its OAuth2 grant."""

    def __init__(self, session_factory: sessionmaker[Session], settings: Settings) -> None:
        self._session_factory = session_factory
        self._settings = settings
        self._cipher: TokenCipher | None = None
        self._locks: dict[str, threading.Lock] = {}

    def cipher(self) -> TokenCipher:
        # Read when first needed: a deployment without OAuth2 mailboxes needs no key.
        if self._cipher is None:
            self._cipher = TokenCipher(self._settings.token_key())
        return self._cipher

    def for_mailbox(self, mailbox: MailboxSettings) -> Login:
        if mailbox.auth == "password":
            return PasswordLogin(mailbox.username, mailbox.password())
        tokens = MailboxTokens(
            self._session_factory,
            mailbox,
            self.cipher(),
            self._locks.setdefault(mailbox.name, threading.Lock()),  # atomic: one lock a name
        )
        return OAuthLogin(mailbox.username, tokens)
