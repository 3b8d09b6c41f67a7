"""Calls to Walmart's Marketplace API for one seller account (a mailbox's credentials).

Read only by construction: the token request (``POST /v3/token``) and ``get`` are the only
requests this module can make; nothing in slawatch ships, cancels or refunds an order. Every
call sends ``WM_SEC.ACCESS_TOKEN``, ``WM_SVC.NAME``, a fresh ``WM_QOS.CORRELATION_ID`` and
``Accept: application/json``. A token is kept (in this process only, never stored) until shortly
before it expires; a 401 gets one new token and one retry; a 429 waits as ``Retry-After`` says,
within bounds, a few times. The client secret is read from its variable or file for each token
request and never logged, stored or put in an error.

httpx is imported by the calls: a poll process never loads it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import SecretStr

from app.clock import now
from app.config import MailboxSettings
from app.errors import ConfigError, WalmartApiError
from app.http_client import http_client
from app.walmart.token import UnreadableToken, parse_token

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

SERVICE_NAME = "Walmart Marketplace"
TOKEN_PATH = "/v3/token"
# A token this close to its expiry is replaced before a call rather than used.
TOKEN_MARGIN = timedelta(seconds=60)
# 429: at most this many waits per call, each at most MAX_RETRY_AFTER seconds.
RATE_LIMIT_RETRIES = 3
MAX_RETRY_AFTER = 30.0
MAX_ANSWER_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class _Token:
    value: SecretStr
    expires_at: datetime


class _Tokens:
    """The access tokens of this process, per API and client id."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, str], _Token] = {}

    def valid(self, key: tuple[str, str], at: datetime) -> _Token | None:
        with self._lock:
            token = self._tokens.get(key)
        return token if token and token.expires_at - TOKEN_MARGIN > at else None

    def keep(self, key: tuple[str, str], token: _Token) -> None:
        with self._lock:
            self._tokens[key] = token

    def forget(self, key: tuple[str, str], token: _Token | None = None) -> None:
        with self._lock:
            if token is None or self._tokens.get(key) == token:
                self._tokens.pop(key, None)


TOKENS = _Tokens()


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any  # the JSON document; None for an answer that is not JSON
    content: bytes = b""  # the answer as sent (a file such as an .xlsx report)


def correlation_id() -> str:
    return str(uuid.uuid4())


class WalmartClient:
    """One mailbox's seller account. ``sleep`` is how a 429 waits (tests may pass their own)."""

    def __init__(
        self, mailbox: MailboxSettings, *, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        if not mailbox.has_walmart_api:
            raise WalmartApiError(
                "config", f"mailbox {mailbox.name!r} has no Walmart API credentials"
            )
        self._mailbox = mailbox
        self._base = mailbox.walmart_api_url
        self._host = urlsplit(self._base).hostname or self._base
        self._timeout = mailbox.walmart_timeout_seconds
        self._key = (self._base, mailbox.walmart_client_id or "")
        self._sleep = sleep

    # ---- the one kind of call -------------------------------------------------------------

    def get(
        self,
        path: str,
        params: dict[str, str] | None = None,
        *,
        accept: str = "application/json",
        rate_limit_waits: int = RATE_LIMIT_RETRIES,
    ) -> Answer:
        """``GET path``: the answer of any status below 500 but 401 and 429 (handled here);
        WalmartApiError when Walmart cannot be reached or keeps refusing. ``accept`` asks for
        another type (a report file); an endpoint that allows one call a minute passes
        ``rate_limit_waits=0``, since waiting within the call would not get past its limit."""
        token = self._token()
        refreshed = False
        waits = 0
        while True:
            response = self._send("GET", path, params=params, token=token.value, accept=accept)
            if response.status_code == 401 and not refreshed:
                TOKENS.forget(self._key, token)
                token, refreshed = self._token(), True
                continue
            if response.status_code == 429 and waits < rate_limit_waits:
                delay = retry_after(response.headers.get("Retry-After"), attempt=waits)
                log.info("Walmart API %s: rate limited, waiting %.1f s", self._host, delay)
                self._sleep(delay)
                waits += 1
                continue
            break
        if response.status_code == 401:
            raise WalmartApiError(
                "auth",
                f"{self._host} refused a new access token for {path} (HTTP 401): check that "
                f"the API key of mailbox {self._mailbox.name!r} is still active",
            )
        if response.status_code == 429:
            raise WalmartApiError(
                "rate_limited",
                f"{self._host} kept answering 429 (too many requests) for {path}; will try "
                "again later",
            )
        if response.status_code >= 500:
            raise WalmartApiError(
                "unreachable", f"{self._host} answered HTTP {response.status_code} for {path}"
            )
        return Answer(response.status_code, _json(response), response.content)

    # ---- the token ------------------------------------------------------------------------

    def _token(self) -> _Token:
        at = now()
        token = TOKENS.valid(self._key, at)
        if token is None:
            token = self._new_token(at)
            TOKENS.keep(self._key, token)
        return token

    def _new_token(self, at: datetime) -> _Token:
        try:
            secret = self._mailbox.walmart_client_secret()
        except ConfigError as e:
            raise WalmartApiError("config", e.message) from None
        response = self._send(
            "POST",
            TOKEN_PATH,
            form={"grant_type": "client_credentials"},
            basic=(self._mailbox.walmart_client_id or "", secret),
        )
        if response.status_code in (400, 401, 403):
            raise WalmartApiError(
                "auth",
                f"{self._host} refused the API key (HTTP {response.status_code}{_code(response)})"
                f": check walmart_client_id and the secret named by mailbox "
                f"{self._mailbox.name!r}'s walmart_client_secret_env / _file",
            )
        if response.status_code == 429:
            raise WalmartApiError("rate_limited", f"{self._host} answered 429 to the token request")
        if response.status_code != 200:
            raise WalmartApiError(
                "unreachable",
                f"{self._host} answered HTTP {response.status_code} to the token request",
            )
        try:
            answer = parse_token(response.content, response.headers.get("Content-Type", ""))
        except UnreadableToken as e:
            raise WalmartApiError(
                "unreachable", f"{self._host} answered the token request without a token ({e})"
            ) from None
        return _Token(answer.access_token, at + timedelta(seconds=answer.lifetime_seconds))

    # ---- HTTP -----------------------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        token: SecretStr | None = None,
        form: dict[str, str] | None = None,
        basic: tuple[str, SecretStr] | None = None,
        accept: str = "application/json",
    ) -> httpx.Response:
        import httpx

        headers = {
            "WM_SVC.NAME": SERVICE_NAME,
            "WM_QOS.CORRELATION_ID": correlation_id(),
            "Accept": accept,
        }
        if token is not None:
            headers["WM_SEC.ACCESS_TOKEN"] = token.get_secret_value()
        auth = httpx.BasicAuth(basic[0], basic[1].get_secret_value()) if basic else None
        try:
            response = http_client().request(
                method,
                self._base + path,
                params=params,
                data=form,
                headers=headers,
                auth=auth,
                timeout=self._timeout,
            )
        except httpx.InvalidURL:
            raise WalmartApiError(
                "config", f"{self._base!r} (walmart_api_url) is not a usable URL"
            ) from None
        except httpx.TimeoutException:
            raise WalmartApiError(
                "unreachable",
                f"{self._host} did not answer in time (no reply within {self._timeout:g} s)",
            ) from None
        except httpx.HTTPError as e:
            raise WalmartApiError(
                "unreachable", f"cannot reach {self._host}: {type(e).__name__}"
            ) from None
        if len(response.content) > MAX_ANSWER_BYTES:
            raise WalmartApiError(
                "unreachable", f"{self._host} answered {path} with more than 10 MB"
            )
        return response


def retry_after(value: str | None, *, attempt: int) -> float:
    """Seconds to wait after a 429: ``Retry-After`` (seconds or an HTTP date) within
    [0, MAX_RETRY_AFTER], else 1, 2, 4 ... seconds."""
    fallback = min(float(2**attempt), MAX_RETRY_AFTER)
    if not value:
        return fallback
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = (parsedate_to_datetime(value) - now()).total_seconds()
        except (TypeError, ValueError):
            return fallback
    if seconds != seconds:  # NaN
        return fallback
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _code(response: httpx.Response) -> str:
    """Walmart's error code from an error answer (``{"error": [{"code": ...}]}`` or OAuth's
    ``{"error": "..."}``), never the request or a token."""
    body = _json(response)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, list) and error and isinstance(error[0], dict):
        error = error[0].get("code")
    return f", {str(error)[:80]}" if isinstance(error, str) and error else ""
