"""Posting one body to one channel. Every failure is a ChannelError naming the channel and what
went wrong, never the URL: a Slack or Teams webhook URL is all it takes to post to the team."""

from __future__ import annotations

from app.alerts.channels.payloads import SIGNATURE_HEADER, signature
from app.config import AlertChannel
from app.errors import ChannelError
from app.http_client import http_client

MAX_REASON = 200  # characters of a refusal's body kept as its reason


def post(channel: AlertChannel, body: bytes) -> None:
    """POST ``body`` (JSON) to the channel; returns when it answered 2xx. Reads the URL (and a
    webhook's signing key) now, so an unset secret is a ConfigError naming its variable."""
    import httpx

    url = channel.url().get_secret_value()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "slawatch"}
    key = channel.secret()
    if key is not None:
        headers[SIGNATURE_HEADER] = signature(body, key.get_secret_value())
    who = f"alert channel {channel.key!r}"
    try:
        response = http_client().post(
            url, content=body, headers=headers, timeout=channel.timeout_seconds
        )
    except httpx.TimeoutException:
        raise ChannelError(f"{who}: no answer within {channel.timeout_seconds:g} s") from None
    except httpx.HTTPError as e:
        # The exception's text may quote the URL: only its type is kept.
        raise ChannelError(f"{who}: cannot reach it ({type(e).__name__})") from None
    if not response.is_success:
        said = " ".join(response.text.replace(url, "<url>").split())[:MAX_REASON]
        raise ChannelError(
            f"{who}: answered HTTP {response.status_code}" + (f" ({said})" if said else "")
        )
