"""A real OAuth2 authorization server on 127.0.0.1 for the tests, shaped like Google's and
Microsoft's: form-encoded requests, JSON answers, refresh / device-code / authorization-code (PKCE)
grants, and RFC 7662 introspection for Dovecot's oauth2 passdb. State lives in memory; the HTTP
side is ``tests.support.oauth_http``."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlencode, urlsplit

from tests.support.oauth_http import OAuthError, OAuthHandler, parse_form

DEFAULT_SCOPE = "https://mail.google.com/"
DEFAULT_ACCESS_TOKEN_LIFETIME = 3600
DEFAULT_DEVICE_INTERVAL = 1
DEFAULT_DEVICE_CODE_LIFETIME = 900
AUTHORIZATION_CODE_LIFETIME = 600
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# RFC 8628 §6.1: consonants only, so a user code spells no word and has no look-alike characters.
USER_CODE_ALPHABET = "BCDFGHJKLMNPQRSTVWXZ"


@dataclass
class _AccessToken:
    user: str
    scope: str
    expires_at: float


@dataclass
class _RefreshToken:
    user: str
    scope: str


@dataclass
class _DeviceGrant:
    device_code: str
    client_id: str
    scope: str
    expires_at: float
    last_poll: float = 0.0
    user: str | None = None
    denied: bool = False


@dataclass
class _AuthorizationCode:
    client_id: str
    redirect_uri: str
    code_challenge: str
    user: str
    scope: str
    expires_at: float


@dataclass
class _Records:
    token_requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)  # every access and refresh token given out
    refresh_count: int = 0
    introspections: int = 0
    introspection_requests: list[tuple[str, bytes]] = field(default_factory=list)
    authorization_requests: list[dict[str, str]] = field(default_factory=list)


class OAuthProvider:
    """``with OAuthProvider(client_id=..., client_secret=...) as provider:`` or start()/stop().

    A confidential client (``client_secret`` given) must send its secret with every token request,
    in the form or HTTP Basic, as Google requires; a public client sends none."""

    def __init__(
        self,
        client_id: str = "slawatch-test",
        client_secret: str | None = None,
        default_user: str = "user@example.test",
    ) -> None:
        self._set_knobs()
        self.client_id = client_id
        self.client_secret = client_secret
        self.default_user = default_user
        self._lock = threading.Lock()
        self._access: dict[str, _AccessToken] = {}
        self._refresh: dict[str, _RefreshToken] = {}
        self._devices: dict[str, _DeviceGrant] = {}  # by user code
        self._codes: dict[str, _AuthorizationCode] = {}
        self._records = _Records()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- life cycle ---------------------------------------------------------------------------

    def start(self) -> OAuthProvider:
        provider = self

        class Handler(OAuthHandler):
            oauth = provider

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
        if self._thread:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> OAuthProvider:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def reset(self) -> None:
        """Back to the defaults of every knob, and empty records; tokens already issued stay."""
        with self._lock:
            self._set_knobs()
            self._records = _Records()

    def _set_knobs(self) -> None:
        """What a test may change, at its default."""
        self.access_token_lifetime: float = DEFAULT_ACCESS_TOKEN_LIFETIME
        self.rotate_refresh_tokens = False
        self.deny_next_authorization = False
        self.device_interval: int = DEFAULT_DEVICE_INTERVAL
        self.device_code_lifetime: int = DEFAULT_DEVICE_CODE_LIFETIME

    # --- addresses ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._server, "the provider is not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_url(self) -> str:
        return self.url + "/token"

    @property
    def device_url(self) -> str:
        return self.url + "/devicecode"

    @property
    def authorize_url(self) -> str:
        return self.url + "/authorize"

    @property
    def introspection_url(self) -> str:
        return self.url + "/introspect"

    @property
    def verification_url(self) -> str:
        return self.url + "/device"

    # --- records (copies: the server threads keep appending) ----------------------------------

    @property
    def token_requests(self) -> list[tuple[str, dict[str, str]]]:
        with self._lock:
            return list(self._records.token_requests)

    @property
    def refresh_count(self) -> int:
        return self._records.refresh_count

    @property
    def introspections(self) -> int:
        return self._records.introspections

    @property
    def introspection_requests(self) -> list[tuple[str, bytes]]:
        """(Content-Type, body) of each introspection request, as the client sent them."""
        with self._lock:
            return list(self._records.introspection_requests)

    @property
    def authorization_requests(self) -> list[dict[str, str]]:
        """The query of each /authorize request (scope, login_hint, state...)."""
        with self._lock:
            return list(self._records.authorization_requests)

    # --- controls for tests -------------------------------------------------------------------

    def issue_refresh_token(self, user: str, scope: str = DEFAULT_SCOPE) -> str:
        with self._lock:
            return self._new_refresh_token(user, scope)

    def issue_access_token(
        self, user: str, lifetime: float | None = None, scope: str = DEFAULT_SCOPE
    ) -> str:
        token = "at-" + secrets.token_urlsafe(24)
        lifetime = self.access_token_lifetime if lifetime is None else lifetime
        with self._lock:
            self._access[token] = _AccessToken(user, scope, time.time() + lifetime)
            self._records.issued.append(token)
        return token

    def revoke_refresh_token(self, token: str) -> None:
        with self._lock:
            self._refresh.pop(token, None)

    def revoke_all(self, user: str) -> None:
        """As a password change or an admin's "sign out everywhere": every token of the user."""
        with self._lock:
            for tokens in (self._refresh, self._access):
                for token in [t for t, grant in tokens.items() if grant.user == user]:
                    del tokens[token]

    def expire_access_tokens(self) -> None:
        with self._lock:
            for token in self._access.values():
                token.expires_at = 0.0

    def expire_device_codes(self) -> None:
        with self._lock:
            for grant in self._devices.values():
                grant.expires_at = 0.0

    def approve_device(self, user_code: str, user: str) -> None:
        with self._lock:
            self._device(user_code).user = user

    def deny_device(self, user_code: str) -> None:
        with self._lock:
            self._device(user_code).denied = True

    def issued_tokens(self) -> list[str]:
        """Every access and refresh token given out since the last reset, revoked ones too."""
        with self._lock:
            return list(self._records.issued)

    def user_of(self, access_token: str) -> str | None:
        """The user a live access token belongs to, or None (expired, revoked or unknown)."""
        with self._lock:
            grant = self._access.get(access_token)
            return grant.user if grant and grant.expires_at > time.time() else None

    def _device(self, user_code: str) -> _DeviceGrant:
        try:
            return self._devices[user_code.strip().upper()]
        except KeyError:
            raise KeyError(f"no device authorization with user code {user_code!r}") from None

    # --- endpoints (called by the HTTP handler; raise OAuthError for an error answer) ----------

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> dict[str, Any]:
        grant_type = form.get("grant_type", "")
        with self._lock:
            self._records.token_requests.append((grant_type, dict(form)))
            self._check_client(form, basic)
            if grant_type == "refresh_token":
                return self._refresh_grant(form)
            if grant_type == DEVICE_GRANT:
                return self._device_grant(form)
            if grant_type == "authorization_code":
                return self._code_grant(form)
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r}")

    def device_authorization(
        self, form: dict[str, str], basic: tuple[str, str] | None
    ) -> dict[str, Any]:
        with self._lock:
            if (basic[0] if basic else form.get("client_id")) != self.client_id:
                raise OAuthError("invalid_client", "unknown client_id", 401)
            device_code = "dc-" + secrets.token_urlsafe(24)
            user_code = "-".join(
                "".join(secrets.choice(USER_CODE_ALPHABET) for _ in range(4)) for _ in range(2)
            )
            self._devices[user_code] = _DeviceGrant(
                device_code,
                self.client_id,
                form.get("scope", DEFAULT_SCOPE),
                time.time() + self.device_code_lifetime,
            )
            verification_uri = self.verification_url
            return {
                "device_code": device_code,
                "user_code": user_code,
                "verification_uri": verification_uri,
                "expires_in": self.device_code_lifetime,
                "interval": self.device_interval,
                "message": f"To sign in, open {verification_uri} and enter the code {user_code}.",
            }

    def authorize(self, query: dict[str, str]) -> str:
        """The URL the browser is sent to: the redirect_uri with a code, or an error."""
        with self._lock:
            self._records.authorization_requests.append(dict(query))
            redirect_uri = query.get("redirect_uri", "")
            # RFC 6749 §4.1.2.1: never redirect to an unverified URI; answer the browser instead.
            if query.get("client_id") != self.client_id:
                raise OAuthError("invalid_client", "unknown client_id")
            if urlsplit(redirect_uri).scheme not in ("http", "https"):
                raise OAuthError("invalid_request", "redirect_uri")
            answer = {"state": query["state"]} if "state" in query else {}
            if self.deny_next_authorization:
                self.deny_next_authorization = False
                answer = {"error": "access_denied", **answer}
            elif query.get("response_type") != "code":
                answer = {"error": "unsupported_response_type", **answer}
            elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                answer = {"error": "invalid_request", **answer}
            else:
                code = "ac-" + secrets.token_urlsafe(24)
                self._codes[code] = _AuthorizationCode(
                    self.client_id,
                    redirect_uri,
                    query["code_challenge"],
                    query.get("login_hint") or self.default_user,
                    query.get("scope", DEFAULT_SCOPE),
                    time.time() + AUTHORIZATION_CODE_LIFETIME,
                )
                answer = {"code": code, **answer}
            return redirect_uri + ("&" if "?" in redirect_uri else "?") + urlencode(answer)

    def introspect(self, content_type: str, body: bytes) -> dict[str, Any]:
        token = parse_form(body).get("token", "")
        with self._lock:
            self._records.introspections += 1
            self._records.introspection_requests.append((content_type, body))
            grant = self._access.get(token)
            if not grant or grant.expires_at <= time.time():
                return {"active": False}
            return {
                "active": True,
                "email": grant.user,
                "username": grant.user,
                "sub": grant.user,
                "scope": grant.scope,
                "client_id": self.client_id,
                "token_type": "Bearer",
                "exp": int(grant.expires_at),
            }

    # --- grants (with the lock held) ----------------------------------------------------------

    def _check_client(self, form: dict[str, str], basic: tuple[str, str] | None) -> None:
        client_id, secret = basic or (form.get("client_id"), form.get("client_secret"))
        if client_id != self.client_id:
            raise OAuthError("invalid_client", "unknown client_id", 401)
        if self.client_secret is not None and secret != self.client_secret:
            raise OAuthError("invalid_client", "client secret is wrong or missing", 401)

    def _tokens(self, user: str, scope: str, with_refresh_token: bool) -> dict[str, Any]:
        access_token = "at-" + secrets.token_urlsafe(24)
        lifetime = self.access_token_lifetime
        self._access[access_token] = _AccessToken(user, scope, time.time() + lifetime)
        self._records.issued.append(access_token)
        answer: dict[str, Any] = {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": scope,
        }
        if with_refresh_token:
            answer["refresh_token"] = self._new_refresh_token(user, scope)
        if "openid" in scope.split():
            answer["id_token"] = self._id_token(user)
        return answer

    def _new_refresh_token(self, user: str, scope: str) -> str:
        token = "rt-" + secrets.token_urlsafe(24)
        self._refresh[token] = _RefreshToken(user, scope)
        self._records.issued.append(token)
        return token

    def _id_token(self, user: str) -> str:
        """An OpenID Connect ID token, unsigned (alg "none"): a client that got it straight from
        the token endpoint over TLS may read it without checking a signature."""
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": self.client_id,
            "sub": user,
            "email": user,
            "email_verified": True,
            "preferred_username": user,
            "iat": now,
            "exp": now + 3600,
        }
        parts = [{"alg": "none", "typ": "JWT"}, claims]
        encoded = [base64.urlsafe_b64encode(json.dumps(p).encode()).rstrip(b"=") for p in parts]
        return b".".join(encoded).decode() + "."

    def _refresh_grant(self, form: dict[str, str]) -> dict[str, Any]:
        grant = self._refresh.get(form.get("refresh_token", ""))
        if grant is None:
            raise OAuthError("invalid_grant", "the refresh token is unknown, expired or revoked")
        self._records.refresh_count += 1
        # Rotation as Microsoft does it: a new refresh token, and the old one stays valid.
        return self._tokens(grant.user, grant.scope, self.rotate_refresh_tokens)

    def _device_grant(self, form: dict[str, str]) -> dict[str, Any]:
        code = form.get("device_code", "")
        found = [(u, g) for u, g in self._devices.items() if g.device_code == code]
        if not found:
            raise OAuthError("invalid_grant", "unknown device_code")
        user_code, grant = found[0]
        now = time.time()
        if grant.expires_at <= now:
            raise OAuthError("expired_token", "the device code has expired")
        if grant.denied:
            raise OAuthError("access_denied", "the user declined")
        if grant.user is None:
            too_soon = now - grant.last_poll < self.device_interval
            grant.last_poll = now
            raise OAuthError("slow_down" if too_soon else "authorization_pending")
        del self._devices[user_code]  # one use
        return self._tokens(grant.user, grant.scope, with_refresh_token=True)

    def _code_grant(self, form: dict[str, str]) -> dict[str, Any]:
        grant = self._codes.pop(form.get("code", ""), None)  # one use, even when it fails
        if grant is None or grant.expires_at <= time.time():
            raise OAuthError("invalid_grant", "the code is unknown, used or expired")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization's")
        verifier = form.get("code_verifier", "").encode()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=")
        if not secrets.compare_digest(challenge.decode(), grant.code_challenge):
            raise OAuthError("invalid_grant", "PKCE verification failed")
        return self._tokens(grant.user, grant.scope, with_refresh_token=True)
