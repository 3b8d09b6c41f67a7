"""Provider presets and OAuth2 settings: what a seller types, and what slawatch fills in."""

from __future__ import annotations

import pytest
from pydantic import SecretStr, ValidationError

from app.config import MailboxSettings
from app.errors import ConfigError
from app.mail.credentials import CredentialsError, xoauth2_string
from app.oauth.authorize import code_from_redirect
from app.oauth.cipher import TokenCipher, new_key
from app.oauth.endpoints import bounded_seconds, endpoints_for


def _mailbox(**values: object) -> MailboxSettings:
    return MailboxSettings(**{"name": "support", **values})  # type: ignore[arg-type]


def test_a_gmail_address_alone_fills_servers_folders_and_the_seller_address() -> None:
    gmail = _mailbox(
        provider="google",
        username="Support@Shop.example",
        auth="oauth2",
        oauth_client_id="123.apps.googleusercontent.com",
        oauth_client_secret_env="GOOGLE_SECRET",
    )
    assert (gmail.host, gmail.imap_port, gmail.security) == ("imap.gmail.com", 993, "ssl")
    assert (gmail.smtp_host, gmail.smtp_port, gmail.smtp_security) == (
        "smtp.gmail.com",
        465,
        "ssl",
    )
    assert gmail.oauth_provider == "google"
    assert gmail.seller_addresses == ["support@shop.example"]
    # Gmail keeps a copy of what its SMTP server sends: another copy would show twice.
    assert gmail.append_sent_copy is False
    assert gmail.preset is not None
    assert (gmail.preset.sent_folder, gmail.preset.spam_folder) == (
        "[Gmail]/Sent Mail",
        "[Gmail]/Spam",
    )
    smtp = gmail.smtp()
    assert smtp is not None and smtp.username == "Support@Shop.example"
    assert smtp.from_address == "support@shop.example"


def test_microsoft_365_preset_and_its_tenant_endpoints() -> None:
    m365 = _mailbox(
        provider="microsoft",
        username="care@contoso.example",
        auth="oauth2",
        oauth_client_id="00000000-1111-2222-3333-444444444444",
        oauth_tenant="contoso.onmicrosoft.com",
    )
    assert (m365.host, m365.smtp_host, m365.smtp_port, m365.smtp_security) == (
        "outlook.office365.com",
        "smtp.office365.com",
        587,
        "starttls",
    )
    endpoints = endpoints_for(m365)
    base = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0"
    assert endpoints.token_url == f"{base}/token"
    assert endpoints.device_url == f"{base}/devicecode"
    assert endpoints.flow == "device"
    assert "offline_access" in endpoints.scopes
    assert "https://outlook.office.com/IMAP.AccessAsUser.All" in endpoints.scopes
    assert "https://outlook.office.com/SMTP.Send" in endpoints.scopes


def test_google_uses_the_browser_flow_with_the_mail_scope() -> None:
    gmail = _mailbox(
        provider="google",
        username="a@shop.example",
        auth="oauth2",
        oauth_client_id="id",
        oauth_client_secret_file="/run/secrets/google",
    )
    endpoints = endpoints_for(gmail)
    # Google's device flow does not admit https://mail.google.com/.
    assert endpoints.flow == "browser"
    assert endpoints.scopes == ("https://mail.google.com/",)


def test_explicit_keys_win_over_the_preset() -> None:
    mailbox = _mailbox(
        provider="microsoft",
        username="care@contoso.example",
        password_env="PW",
        host="imap.contoso.example",
        append_sent_copy=True,
    )
    assert mailbox.host == "imap.contoso.example"
    assert mailbox.append_sent_copy is True
    assert mailbox.smtp_host == "smtp.office365.com"


def test_custom_provider_needs_a_token_url_and_uses_its_device_endpoint() -> None:
    with pytest.raises(ValidationError, match="oauth_provider = 'custom' needs oauth_token_url"):
        _mailbox(
            host="mail.example",
            username="a@shop.example",
            auth="oauth2",
            oauth_provider="custom",
            oauth_client_id="id",
        )
    custom = _mailbox(
        host="mail.example",
        username="a@shop.example",
        auth="oauth2",
        oauth_provider="custom",
        oauth_client_id="id",
        oauth_token_url="https://idp.example/token",
        oauth_device_url="https://idp.example/device",
        oauth_scopes=["imap"],
    )
    endpoints = endpoints_for(custom)
    assert (endpoints.token_url, endpoints.flow, endpoints.scopes) == (
        "https://idp.example/token",
        "device",
        ("imap",),
    )


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"password_env": "PW"}, "uses no password"),
        ({"oauth_client_id": None}, "needs oauth_client_id"),
        ({"oauth_client_secret_env": None}, "Google needs the OAuth client's secret"),
        ({"oauth_client_secret_file": "/x"}, "not both"),
        ({"oauth_tenant": "../evil"}, "oauth_tenant"),
        ({"oauth_token_url": "file:///etc/passwd"}, "not an http"),
        ({"oauth_token_url": "http://idp.example/token"}, "tokens go only over https"),
        ({"oauth_device_url": "https://[::1/"}, "not a valid URL"),
    ],
)
def test_oauth2_settings_refused_with_the_reason(values: dict[str, object], problem: str) -> None:
    base: dict[str, object] = {
        "provider": "google",
        "username": "a@shop.example",
        "auth": "oauth2",
        "oauth_client_id": "id",
        "oauth_client_secret_env": "SECRET",
    }
    with pytest.raises(ValidationError, match=problem):
        _mailbox(**{**base, **values})


def test_password_auth_still_requires_a_password_source() -> None:
    with pytest.raises(ValidationError, match="a password is needed"):
        _mailbox(provider="google", username="a@shop.example")


def test_tokens_are_encrypted_and_a_rotated_key_still_reads_them() -> None:
    old_key, new = new_key(), new_key()
    stored = TokenCipher(SecretStr(old_key)).encrypt(SecretStr("1//refresh-token"))
    assert "refresh-token" not in stored
    rotated = TokenCipher(SecretStr(f"{new},{old_key}"))
    assert rotated.decrypt(stored).get_secret_value() == "1//refresh-token"
    reencrypted = rotated.rotate(stored)
    only_new = TokenCipher(SecretStr(new))
    assert only_new.decrypt(reencrypted).get_secret_value() == "1//refresh-token"
    with pytest.raises(ConfigError, match="cannot be decrypted"):
        only_new.decrypt(stored)


def test_a_key_that_is_not_a_fernet_key_is_refused() -> None:
    with pytest.raises(ConfigError, match="slawatch token-key"):
        TokenCipher(SecretStr("correct horse battery staple"))


def test_xoauth2_initial_response() -> None:
    assert (
        xoauth2_string("a@shop.example", SecretStr("ya29.tok"))
        == "user=a@shop.example\x01auth=Bearer ya29.tok\x01\x01"
    )


def test_another_security_keeps_its_own_port_and_an_own_relay_keeps_the_sent_copy() -> None:
    mailbox = _mailbox(
        provider="google",
        username="a@shop.example",
        password_env="PW",
        security="starttls",
        smtp_host="relay.shop.example",
    )
    assert (mailbox.host, mailbox.imap_port) == ("imap.gmail.com", 143)
    # Replies through a relay of the seller's own: nobody else files them in Sent.
    assert mailbox.append_sent_copy is True and mailbox.smtp_port is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (3599, 3599),
        ("3600", 3600),
        (None, 3600),
        ("soon", 3600),
        (1e20, 86400),
        (-5, 60),
        (float("nan"), 3600),
        (float("inf"), 3600),
    ],
)
def test_a_providers_token_lifetime_is_kept_within_bounds(value: object, expected: float) -> None:
    assert bounded_seconds(value, 3600) == expected


def test_only_the_answer_to_this_request_ends_the_browser_flow() -> None:
    state = "s3cr3t-state"
    assert (
        code_from_redirect(f"http://127.0.0.1:8765/?code=abc&state={state}", state=state) == "abc"
    )
    # Any page could send the browser to the loopback address: without the state, it is noise.
    with pytest.raises(ValueError, match="state differs"):
        code_from_redirect("http://127.0.0.1:8765/?error=access_denied", state=state)
    with pytest.raises(CredentialsError, match="access_denied: consent was not given"):
        code_from_redirect(f"http://127.0.0.1:8765/?error=access_denied&state={state}", state=state)
    with pytest.raises(ValueError, match="no authorization code"):
        code_from_redirect(f"http://127.0.0.1:8765/?state={state}", state=state)
