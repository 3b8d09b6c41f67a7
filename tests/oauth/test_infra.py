"""The OAuth2 test infrastructure itself, driven by real clients: the authorization server over
HTTP, Dovecot checking its tokens for XOAUTH2/OAUTHBEARER, and the SMTP server's AUTH."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import smtplib
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from imapclient import IMAPClient
from imapclient.exceptions import LoginError

from tests.support.dovecot import Dovecot
from tests.support.imap import closing_client
from tests.support.oauth import OAUTH_CLIENT_ID, OAUTH_CLIENT_SECRET, OAuthAccount, OAuthSmtpServer
from tests.support.oauth_provider import DEVICE_GRANT, OAuthProvider

CLIENT = {"client_id": OAUTH_CLIENT_ID, "client_secret": OAUTH_CLIENT_SECRET}
MESSAGE = b"From: a@example.test\r\nTo: b@example.test\r\nSubject: hi\r\n\r\nhello\r\n"


def imap(account: OAuthAccount) -> IMAPClient:
    return IMAPClient(account.host, port=account.port, ssl=False, timeout=10)


def xoauth2(user: str, token: str) -> str:
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def test_dovecot_takes_live_tokens_by_xoauth2_and_oauthbearer(oauth_account: OAuthAccount) -> None:
    oauth_account.append("INBOX", [MESSAGE])
    with closing_client(imap(oauth_account)) as client:
        client.oauthbearer_login(oauth_account.username, oauth_account.access_token())
        assert client.select_folder("INBOX")[b"EXISTS"] == 1
    # Dovecot 2.3 introspects with a form POST: token=... (and empty client_id, client_secret).
    content_type, body = oauth_account.provider.introspection_requests[0]
    assert content_type == "application/x-www-form-urlencoded"
    assert body.startswith(b"token=at-")


def test_dovecot_refuses_expired_and_revoked_tokens_at_once(oauth_account: OAuthAccount) -> None:
    provider, user = oauth_account.provider, oauth_account.username
    # The same token logs in, then not once expired: Dovecot caches no answer.
    token = oauth_account.access_token()
    with closing_client(imap(oauth_account)) as client:
        client.oauth2_login(user, token)
    provider.expire_access_tokens()
    with closing_client(imap(oauth_account)) as client, pytest.raises(LoginError):
        client.oauth2_login(user, token)

    token = oauth_account.access_token()
    provider.revoke_all(user)
    with closing_client(imap(oauth_account)) as client, pytest.raises(LoginError):
        client.oauthbearer_login(user, token)

    # A live token of another user does not open this mailbox.
    other = provider.issue_access_token("someone-else@example.test")
    with closing_client(imap(oauth_account)) as client, pytest.raises(LoginError):
        client.oauth2_login(user, other)


def test_dovecot_still_takes_passwords(oauth_dovecot: Dovecot) -> None:
    oauth_dovecot.add_user("pw-user@example.test", "pw")
    client = IMAPClient(oauth_dovecot.host, port=oauth_dovecot.port, ssl=False, timeout=10)
    with closing_client(client):
        client.login("pw-user@example.test", "pw")


def test_smtp_xoauth2_and_password(
    oauth_smtp_server: OAuthSmtpServer, oauth_account: OAuthAccount
) -> None:
    handler, user = oauth_smtp_server.handler, oauth_account.username
    with smtplib.SMTP(oauth_smtp_server.host, oauth_smtp_server.port, timeout=10) as smtp:
        smtp.ehlo()
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            smtp.sendmail(user, ["b@example.test"], MESSAGE)
        assert refused.value.smtp_code == 530  # AUTH first
        smtp.auth("XOAUTH2", lambda _=None: xoauth2(user, oauth_account.access_token()))
        smtp.sendmail(user, ["b@example.test"], MESSAGE)
    assert handler.messages == [(["b@example.test"], MESSAGE)]
    assert handler.logins == [(user, "XOAUTH2")]

    expired = oauth_account.access_token(lifetime=0)
    for mechanism, sign_in in [
        ("XOAUTH2", lambda smtp: smtp.auth("XOAUTH2", lambda _=None: xoauth2(user, expired))),
        ("password", lambda smtp: smtp.login(oauth_smtp_server.username, "wrong")),
    ]:
        with smtplib.SMTP(oauth_smtp_server.host, oauth_smtp_server.port, timeout=10) as smtp:
            smtp.ehlo()
            with pytest.raises(smtplib.SMTPAuthenticationError) as error:
                sign_in(smtp)
            assert error.value.smtp_code == 535, mechanism
    # smtplib's login() tries PLAIN, then LOGIN.
    assert [m for _, m in handler.refused] == ["XOAUTH2", "PLAIN", "LOGIN"]

    with smtplib.SMTP(oauth_smtp_server.host, oauth_smtp_server.port, timeout=10) as smtp:
        smtp.login(oauth_smtp_server.username, oauth_smtp_server.password)
    assert handler.logins[-1] == (oauth_smtp_server.username, "PLAIN")


def test_smtp_refused_xoauth2_answers_as_gmail(
    oauth_smtp_server: OAuthSmtpServer, oauth_account: OAuthAccount
) -> None:
    """A JSON error challenge first; the 535 only after the client's (empty) answer."""
    sasl = base64.b64encode(xoauth2(oauth_account.username, "at-unknown").encode()).decode()
    with smtplib.SMTP(oauth_smtp_server.host, oauth_smtp_server.port, timeout=10) as smtp:
        smtp.ehlo()
        code, challenge = smtp.docmd("AUTH", f"XOAUTH2 {sasl}")
        assert code == 334
        assert json.loads(base64.b64decode(challenge))["status"] == "401"
        code, reply = smtp.docmd("")
        assert code == 535 and b"Username and Password not accepted" in reply


def test_refresh_grant(oauth_account: OAuthAccount) -> None:
    provider, refresh_token = oauth_account.provider, oauth_account.refresh_token()
    with httpx.Client() as http:
        answer = http.post(
            provider.token_url,
            data={**CLIENT, "grant_type": "refresh_token", "refresh_token": refresh_token},
        )
        assert answer.status_code == 200
        tokens = answer.json()
        assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
        assert "refresh_token" not in tokens
        with closing_client(imap(oauth_account)) as client:
            client.oauth2_login(oauth_account.username, tokens["access_token"])

        provider.rotate_refresh_tokens = True
        form = {**CLIENT, "grant_type": "refresh_token", "refresh_token": refresh_token}
        assert http.post(provider.token_url, data=form).json()["refresh_token"] != refresh_token
        assert provider.refresh_count == 2

        wrong_secret = http.post(provider.token_url, data={**form, "client_secret": "nope"})
        assert (wrong_secret.status_code, wrong_secret.json()["error"]) == (401, "invalid_client")
        provider.revoke_refresh_token(refresh_token)
        revoked = http.post(provider.token_url, data=form)
        assert (revoked.status_code, revoked.json()["error"]) == (400, "invalid_grant")


def test_device_code_grant(fresh_oauth_provider: OAuthProvider) -> None:
    provider = fresh_oauth_provider
    with httpx.Client() as http:

        def start() -> tuple[str, dict[str, str]]:
            answer = http.post(provider.device_url, data={**CLIENT, "scope": "mail"}).json()
            assert answer["verification_uri"] == provider.url + "/device"
            form = {**CLIENT, "grant_type": DEVICE_GRANT, "device_code": answer["device_code"]}
            return answer["user_code"], form

        def poll(form: dict[str, str]) -> httpx.Response:
            return http.post(provider.token_url, data=form)

        user_code, form = start()
        assert poll(form).json()["error"] == "authorization_pending"
        assert poll(form).json()["error"] == "slow_down"  # the interval is 1 s
        provider.device_interval = 0
        provider.approve_device(user_code, "device-user@example.test")
        tokens = poll(form).json()
        assert provider.user_of(tokens["access_token"]) == "device-user@example.test"
        assert tokens["refresh_token"]

        user_code, form = start()
        provider.deny_device(user_code)
        assert poll(form).json()["error"] == "access_denied"
        user_code, form = start()
        provider.expire_device_codes()
        assert poll(form).json()["error"] == "expired_token"


def test_authorization_code_grant_with_pkce(fresh_oauth_provider: OAuthProvider) -> None:
    provider = fresh_oauth_provider
    redirect_uri = "http://127.0.0.1:9/callback"
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    query = {
        "client_id": OAUTH_CLIENT_ID,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": "openid email https://mail.google.com/",
        "state": "s1",
        "code_challenge": challenge.decode(),
        "code_challenge_method": "S256",
        "login_hint": "browser-user@example.test",
    }
    with httpx.Client() as http:

        def authorize() -> dict[str, str]:
            # What the browser does: follow the consent to the loopback redirect.
            answer = http.get(provider.authorize_url, params=query)
            assert answer.status_code == 302
            location = urlsplit(answer.headers["location"])
            assert location._replace(query="").geturl() == redirect_uri
            return {k: v[0] for k, v in parse_qs(location.query).items()}

        def exchange(code: str, **changes: str) -> httpx.Response:
            form = {**CLIENT, "grant_type": "authorization_code", "code": code}
            form |= {"redirect_uri": redirect_uri, "code_verifier": verifier, **changes}
            return http.post(provider.token_url, data=form)

        wrong_verifier = exchange(authorize()["code"], code_verifier="wrong")
        assert wrong_verifier.json()["error"] == "invalid_grant"
        other_uri = exchange(authorize()["code"], redirect_uri="http://127.0.0.1:9/other")
        assert other_uri.json()["error"] == "invalid_grant"
        redirect = authorize()
        assert redirect["state"] == "s1"
        tokens = exchange(redirect["code"]).json()
        assert provider.user_of(tokens["access_token"]) == "browser-user@example.test"
        assert tokens["refresh_token"] and tokens["id_token"]
        assert exchange(redirect["code"]).json()["error"] == "invalid_grant"  # one use

        provider.deny_next_authorization = True
        assert authorize() == {"error": "access_denied", "state": "s1"}
