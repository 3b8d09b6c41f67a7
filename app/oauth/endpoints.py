"""Talking to a provider's OAuth2 endpoints (RFC 6749 refresh and authorization code with PKCE,
RFC 8628 device code). No database: the grants module stores what these calls return.

Tokens travel only in request bodies and JSON answers, never in a URL or a log line."""

from __future__ import annotations

import base64
import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from pydantic import SecretStr

from app.config import MailboxSettings
from app.http_client import http_client
from app.mail.credentials import CredentialsError
from app.providers import PRESETS, AuthorizeFlow

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
# The provider's own errors that mean the grant is gone: a person must consent again.
REVOKED_GRANT_ERRORS = {"invalid_grant", "access_denied", "expired_token", "interaction_required"}
# Errors of the app registration itself: the configuration must change.
CLIENT_ERRORS = {"invalid_client", "unauthorized_client", "invalid_scope", "invalid_request"}


@dataclass(frozen=True)
class Endpoints:
    token_url: str
    device_url: str | None
    authorize_url: str | None
    scopes: tuple[str, ...]
    flow: AuthorizeFlow


def endpoints_for(settings: MailboxSettings) -> Endpoints:
    """The provider preset's endpoints (Microsoft's with the tenant), overridden by any
    configured ``oauth_*_url``; a custom provider uses the device flow when it has a device URL."""
    preset = PRESETS.get(settings.oauth_provider or "")
    tenant = settings.oauth_tenant

    def pick(configured: str | None, preset_url: str | None) -> str | None:
        return configured or (preset_url.format(tenant=tenant) if preset_url else None)

    token_url = pick(settings.oauth_token_url, preset.token_url if preset else None)
    if token_url is None:  # the settings validator requires one for a custom provider
        raise CredentialsError("config", f"mailbox {settings.name!r}: no oauth_token_url")
    device_url = pick(settings.oauth_device_url, preset.device_url if preset else None)
    authorize_url = pick(settings.oauth_authorize_url, preset.authorize_url if preset else None)
    scopes = tuple(settings.oauth_scopes or (preset.scopes if preset else ()))
    if preset is not None and not settings.oauth_device_url:
        flow: AuthorizeFlow = preset.authorize_flow
    else:
        flow = "device" if device_url else "browser"
    return Endpoints(token_url, device_url, authorize_url, scopes, flow)


@dataclass(frozen=True)
class TokenGrant:
    access_token: SecretStr
    expires_at: datetime
    # Present on a first grant, and when the provider rotates refresh tokens (Microsoft does).
    refresh_token: SecretStr | None


@dataclass(frozen=True)
class DeviceAuthorization:
    device_code: SecretStr
    user_code: str
    verification_uri: str
    expires_in: float
    interval: float


@dataclass(frozen=True)
class Pkce:
    """RFC 7636: the verifier stays here, only its hash goes into the browser's URL."""

    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> Pkce:
        verifier = secrets.token_urlsafe(64)
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii"))


def _host(url: str) -> str:
    return urlsplit(url).hostname or url


def bounded_seconds(value: Any, default: float, *, low: float = 60, high: float = 86400) -> float:
    """A provider's duration, kept within sane bounds: a bad one must not break a poll."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return default
    return min(max(seconds, low), high) if math.isfinite(seconds) else default


class DevicePending(Exception):
    """The person has not finished yet; ``slow_down`` asks to poll less often (RFC 8628)."""

    def __init__(self, *, slow_down: bool) -> None:
        super().__init__("authorization pending")
        self.slow_down = slow_down


class OAuthClient:
    """One mailbox's app registration talking to its provider."""

    def __init__(self, settings: MailboxSettings) -> None:
        self.settings = settings
        self.endpoints = endpoints_for(settings)
        self._timeout = settings.timeout_seconds

    def _client_fields(self) -> dict[str, str]:
        fields = {"client_id": self.settings.oauth_client_id or ""}
        secret = self.settings.oauth_client_secret()
        if secret is not None:
            fields["client_secret"] = secret.get_secret_value()
        return fields

    def _scope(self) -> dict[str, str]:
        return {"scope": " ".join(self.endpoints.scopes)} if self.endpoints.scopes else {}

    def _post(self, url: str, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        import httpx

        host = _host(url)
        try:
            response = http_client().post(
                url, data=form, headers={"Accept": "application/json"}, timeout=self._timeout
            )
        except httpx.InvalidURL:
            raise CredentialsError("config", f"{url!r} is not a usable OAuth2 endpoint") from None
        except httpx.TimeoutException:
            raise CredentialsError(
                "network", f"{host} did not answer in time (no reply within {self._timeout:g} s)"
            ) from None
        except httpx.HTTPError as e:
            raise CredentialsError("network", f"cannot reach {host}: {e}") from None
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise CredentialsError(
                "network", f"{host} answered {response.status_code} without a JSON body"
            )
        return response.status_code, body

    def _grant(self, status: int, body: dict[str, Any], *, now: datetime) -> TokenGrant:
        host = _host(self.endpoints.token_url)
        if status != 200 or "access_token" not in body:
            raise self._refusal(status, body, host=host)
        refresh = body.get("refresh_token")
        return TokenGrant(
            access_token=SecretStr(str(body["access_token"])),
            expires_at=now + timedelta(seconds=bounded_seconds(body.get("expires_in"), 3600)),
            refresh_token=SecretStr(str(refresh)) if refresh else None,
        )

    def _refusal(self, status: int, body: dict[str, Any], *, host: str) -> CredentialsError:
        error = str(body.get("error") or f"HTTP {status}")
        # The description is the provider's text about the request, never a token.
        described = str(body.get("error_description") or "").splitlines()
        detail = f"{error}: {described[0]}" if described else error
        if error in REVOKED_GRANT_ERRORS:
            return CredentialsError(
                "reauthorize",
                f"{host} refused the stored sign-in ({detail}); re-authorise with "
                f"`slawatch mailboxes authorize {self.settings.name}`",
            )
        if error in CLIENT_ERRORS:
            return CredentialsError(
                "config",
                f"{host} refused the app registration ({detail}); check oauth_client_id, "
                "the client secret and the scopes",
            )
        return CredentialsError("network", f"{host} answered {status} ({detail})")

    def refresh(self, refresh_token: SecretStr, *, now: datetime) -> TokenGrant:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token.get_secret_value(),
            **self._client_fields(),
            **self._scope(),
        }
        status, body = self._post(self.endpoints.token_url, form)
        return self._grant(status, body, now=now)

    def start_device_flow(self) -> DeviceAuthorization:
        if not self.endpoints.device_url:
            raise CredentialsError(
                "config", f"mailbox {self.settings.name!r}: no oauth_device_url for the device flow"
            )
        form = {**self._client_fields(), **self._scope()}
        status, body = self._post(self.endpoints.device_url, form)
        host = _host(self.endpoints.device_url)
        if status != 200 or "device_code" not in body:
            raise self._refusal(status, body, host=host)
        # RFC 8628 says verification_uri; Google's older answer says verification_url.
        uri = body.get("verification_uri") or body.get("verification_url")
        if not body.get("user_code") or not uri:
            raise CredentialsError("network", f"{host} answered without a user code or address")
        return DeviceAuthorization(
            device_code=SecretStr(str(body["device_code"])),
            user_code=str(body["user_code"]),
            verification_uri=str(uri),
            expires_in=bounded_seconds(body.get("expires_in"), 900),
            interval=bounded_seconds(body.get("interval"), 5, low=0),
        )

    def poll_device_flow(self, device: DeviceAuthorization, *, now: datetime) -> TokenGrant:
        """The tokens once the person has approved; DevicePending until then."""
        form = {
            "grant_type": DEVICE_GRANT,
            "device_code": device.device_code.get_secret_value(),
            **self._client_fields(),
        }
        status, body = self._post(self.endpoints.token_url, form)
        error = body.get("error")
        if error in ("authorization_pending", "slow_down"):
            raise DevicePending(slow_down=error == "slow_down")
        if error in ("access_denied", "expired_token"):
            raise CredentialsError(
                "reauthorize",
                f"the sign-in was not completed ({error}: declined, or the code expired); "
                "run the command again",
            )
        return self._grant(status, body, now=now)

    def authorization_url(self, *, redirect_uri: str, state: str, pkce: Pkce) -> str:
        if not self.endpoints.authorize_url:
            raise CredentialsError(
                "config",
                f"mailbox {self.settings.name!r}: no oauth_authorize_url for the browser flow",
            )
        query = {
            "client_id": self.settings.oauth_client_id or "",
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": state,
            "code_challenge": pkce.challenge,
            "code_challenge_method": "S256",
            "login_hint": self.settings.username,
            # Google returns a refresh token only for offline access, and again only on consent.
            "access_type": "offline",
            "prompt": "consent",
            **self._scope(),
        }
        return f"{self.endpoints.authorize_url}?{urlencode(query)}"

    def exchange_code(
        self, *, code: str, redirect_uri: str, pkce: Pkce, now: datetime
    ) -> TokenGrant:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pkce.verifier,
            **self._client_fields(),
        }
        status, body = self._post(self.endpoints.token_url, form)
        return self._grant(status, body, now=now)
