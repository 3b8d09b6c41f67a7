"""Walmart's answer to ``POST /v3/token``: JSON when asked for it, XML (``OAuthTokenDTO``) when
the ``Accept`` header is not honoured. Pure: the text in, the token and its lifetime out."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from xml.etree import ElementTree

from pydantic import SecretStr

# Walmart's tokens last 15 minutes; an answer without a usable lifetime is taken as that.
DEFAULT_LIFETIME_SECONDS = 900.0
MAX_LIFETIME_SECONDS = 86400.0
# A token answer is a few hundred bytes; anything much bigger is not one.
MAX_TOKEN_ANSWER_BYTES = 64 * 1024
# No DOCTYPE, so no entity can expand: the parser only ever sees plain elements.
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


class UnreadableToken(ValueError):
    """The answer holds no access token (the message never quotes the answer)."""


@dataclass(frozen=True)
class TokenAnswer:
    access_token: SecretStr
    lifetime_seconds: float


def _lifetime(value: object) -> float:
    try:
        seconds = float(str(value))
    except (TypeError, ValueError):
        return DEFAULT_LIFETIME_SECONDS
    if not math.isfinite(seconds) or seconds <= 0:
        return DEFAULT_LIFETIME_SECONDS
    return min(seconds, MAX_LIFETIME_SECONDS)


def parse_token(body: bytes, content_type: str) -> TokenAnswer:
    """The token in a JSON (``access_token``, ``expires_in``) or XML (``accessToken``,
    ``expiresIn``) answer, whichever the body is."""
    if len(body) > MAX_TOKEN_ANSWER_BYTES:
        raise UnreadableToken(f"the answer is {len(body)} bytes, too big for a token")
    text = body.lstrip()
    if "json" in content_type.lower() or text.startswith(b"{"):
        return _from_json(text)
    if "xml" in content_type.lower() or text.startswith(b"<"):
        return _from_xml(text)
    raise UnreadableToken(f"the answer is neither JSON nor XML ({content_type or 'no type'})")


def _from_json(body: bytes) -> TokenAnswer:
    try:
        data = json.loads(body)
    except ValueError:
        raise UnreadableToken("the answer is not valid JSON") from None
    token = data.get("access_token") if isinstance(data, dict) else None
    if not isinstance(token, str) or not token:
        raise UnreadableToken("the JSON answer has no access_token")
    return TokenAnswer(SecretStr(token), _lifetime(data.get("expires_in")))


def _from_xml(body: bytes) -> TokenAnswer:
    if _DOCTYPE.search(body):
        raise UnreadableToken("the XML answer declares a DOCTYPE, which a token never has")
    try:
        root = ElementTree.fromstring(body)  # noqa: S314  no DOCTYPE, so no entities (above)
    except ElementTree.ParseError:
        raise UnreadableToken("the answer is not valid XML") from None

    def text_of(name: str) -> str | None:
        # Namespaced or not: Walmart's OAuthTokenDTO elements are matched by their local name.
        for element in root.iter():
            if element.tag.rpartition("}")[2] == name and element.text:
                return element.text.strip()
        return None

    token = text_of("accessToken")
    if not token:
        raise UnreadableToken("the XML answer has no accessToken")
    return TokenAnswer(SecretStr(token), _lifetime(text_of("expiresIn")))
