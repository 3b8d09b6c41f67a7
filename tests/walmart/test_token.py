"""Walmart's token answer read as JSON or as the XML (OAuthTokenDTO) it sends when JSON is not
honoured; an answer that is neither, or XML declaring entities, holds no token."""

from __future__ import annotations

import pytest

from app.walmart.token import DEFAULT_LIFETIME_SECONDS, UnreadableToken, parse_token


def test_json_and_xml() -> None:
    json_answer = parse_token(
        b'{"access_token": "eyJabc", "token_type": "Bearer", "expires_in": 900}',
        "application/json;charset=utf-8",
    )
    assert json_answer.access_token.get_secret_value() == "eyJabc"
    assert json_answer.lifetime_seconds == 900
    xml_answer = parse_token(
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><OAuthTokenDTO>'
        b"<accessToken>eyJxyz</accessToken><tokenType>Bearer</tokenType>"
        b"<expiresIn>900</expiresIn></OAuthTokenDTO>",
        "application/xml",
    )
    assert xml_answer.access_token.get_secret_value() == "eyJxyz"
    assert "eyJxyz" not in repr(xml_answer)
    namespaced = parse_token(
        b'<ns2:OAuthTokenDTO xmlns:ns2="http://walmart.com/"><ns2:accessToken>t</ns2:accessToken>'
        b"</ns2:OAuthTokenDTO>",
        "",
    )
    assert namespaced.access_token.get_secret_value() == "t"
    assert namespaced.lifetime_seconds == DEFAULT_LIFETIME_SECONDS


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b'{"token_type": "Bearer"}', "application/json"),
        (b"not json", "application/json"),
        (b"<OAuthTokenDTO><tokenType>Bearer</tokenType></OAuthTokenDTO>", "application/xml"),
        (
            b'<!DOCTYPE t [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
            b"<OAuthTokenDTO><accessToken>&b;</accessToken></OAuthTokenDTO>",
            "application/xml",
        ),
        (b"<OAuthTokenDTO><accessToken>", "text/xml"),
        (b"plain text", "text/plain"),
        (b"{" + b" " * 70_000 + b"}", "application/json"),
    ],
)
def test_answers_without_a_token(body: bytes, content_type: str) -> None:
    with pytest.raises(UnreadableToken):
        parse_token(body, content_type)


def test_a_lifetime_that_makes_no_sense_is_walmarts_usual_one() -> None:
    for value in ('"soon"', "-5", "0", "1e999"):
        answer = parse_token(f'{{"access_token": "t", "expires_in": {value}}}'.encode(), "")
        assert answer.lifetime_seconds == DEFAULT_LIFETIME_SECONDS
