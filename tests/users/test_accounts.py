"""Disabling users, revoking and expiring tokens, over the API; password changes sign out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from app.config import AuthSettings
from app.db import session_scope
from app.enums import Role
from app.users.service import set_password
from tests.support.web import auth
from tests.users.helpers import START, Clock, Site, sign_in, signed_in


def audit_of(api: TestClient, admin: str, action: str) -> list[dict[str, Any]]:
    response = api.get("/api/v1/audit", params={"action": action}, headers=auth(admin))
    assert response.status_code == 200, response.text
    return list(response.json())


def test_a_disabled_users_tokens_are_refused_and_its_sessions_end(
    site: Site, add_user: Callable[..., str]
) -> None:
    admin = add_user("adam", Role.ADMIN)
    alice = add_user("alice")
    browser = site.browser()
    assert sign_in(browser, "alice").status_code == 303 and signed_in(browser)

    response = site.api.post("/api/v1/users/alice/disable", headers=auth(admin))
    assert response.status_code == 200, response.text
    assert response.json()["disabled_at"] is not None

    refused = site.api.get("/api/v1/me", headers=auth(alice))
    assert refused.status_code == 401
    assert "user 'alice' is disabled" in refused.json()["detail"]
    assert not signed_in(browser)
    # A disabled user cannot sign in again either, and is told nothing more than a wrong password.
    again = sign_in(site.browser("192.0.2.2"), "alice")
    assert again.status_code == 401 and "Wrong user name or password" in again.text

    [entry] = audit_of(site.api, admin, "user.disable")
    assert (entry["actor"], entry["detail"]["sessions_ended"]) == ("adam", 1)


def test_enabling_restores_the_tokens_but_not_the_ended_sessions(
    site: Site, add_user: Callable[..., str]
) -> None:
    admin = add_user("adam", Role.ADMIN)
    alice = add_user("alice")
    browser = site.browser()
    sign_in(browser, "alice")
    site.api.post("/api/v1/users/alice/disable", headers=auth(admin))

    response = site.api.post("/api/v1/users/alice/enable", headers=auth(admin))
    assert response.status_code == 200 and response.json()["disabled_at"] is None
    assert site.api.get("/api/v1/me", headers=auth(alice)).json()["name"] == "alice"
    assert not signed_in(browser)
    assert sign_in(browser, "alice").status_code == 303 and signed_in(browser)
    assert [e["actor"] for e in audit_of(site.api, admin, "user.enable")] == ["adam"]


def test_an_admin_cannot_disable_themselves_over_the_api(
    site: Site, add_user: Callable[..., str]
) -> None:
    adam = add_user("adam", Role.ADMIN)
    add_user("ada", Role.ADMIN)
    response = site.api.post("/api/v1/users/adam/disable", headers=auth(adam))
    assert response.status_code == 409
    assert "cannot disable yourself" in response.json()["detail"]
    assert site.api.get("/api/v1/me", headers=auth(adam)).status_code == 200
    # Another admin can.
    assert site.api.post("/api/v1/users/ada/disable", headers=auth(adam)).status_code == 200


def test_unknown_users_and_tokens_are_404_and_the_endpoints_need_an_admin(
    site: Site, add_user: Callable[..., str]
) -> None:
    admin = add_user("adam", Role.ADMIN)
    agent = add_user("alice")
    for method, path in [
        ("POST", "/api/v1/users/nobody/disable"),
        ("POST", "/api/v1/users/nobody/enable"),
        ("GET", "/api/v1/users/nobody/tokens"),
        ("POST", "/api/v1/tokens/999999/revoke"),
    ]:
        response = site.api.request(method, path, headers=auth(admin))
        assert response.status_code == 404, (path, response.text)
        assert site.api.request(method, path, headers=auth(agent)).status_code == 403
        # Without a token nothing is said about who exists.
        anonymous = site.api.request(method, path)
        assert anonymous.status_code == 401 and "nobody" not in anonymous.text


def test_a_revoked_token_is_refused_and_listed_as_revoked(
    site: Site, add_user: Callable[..., str], clock: Clock
) -> None:
    admin = add_user("adam", Role.ADMIN)
    alice = add_user("alice")
    assert site.api.get("/api/v1/me", headers=auth(alice)).status_code == 200

    listing = site.api.get("/api/v1/users/alice/tokens", headers=auth(admin))
    assert listing.status_code == 200
    [token] = listing.json()
    assert alice.startswith(token["prefix"]) and alice not in listing.text
    assert token["last_used_at"] is not None and token["revoked_at"] is None
    assert token["expires_at"] is None  # no [auth] token_days: tokens last until revoked

    clock.advance(minutes=5)
    revoked = site.api.post(f"/api/v1/tokens/{token['id']}/revoke", headers=auth(admin))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    refused = site.api.get("/api/v1/me", headers=auth(alice))
    assert (refused.status_code, refused.json()["detail"]) == (401, "invalid or revoked token")
    [listed] = site.api.get("/api/v1/users/alice/tokens", headers=auth(admin)).json()
    assert listed["revoked_at"] == revoked.json()["revoked_at"]

    [entry] = audit_of(site.api, admin, "token.revoke")
    assert (entry["actor"], entry["target_id"]) == ("adam", str(token["id"]))
    assert entry["detail"] == {"user": "alice", "prefix": token["prefix"]}


@pytest.mark.parametrize("auth_settings", [AuthSettings(token_days=30)])
def test_tokens_expire_token_days_after_they_were_issued(
    site: Site, add_user: Callable[..., str], clock: Clock
) -> None:
    admin = add_user("adam", Role.ADMIN)
    alice = add_user("alice")
    [token] = site.api.get("/api/v1/users/alice/tokens", headers=auth(admin)).json()
    assert token["expires_at"].replace("Z", "+00:00") == (START + timedelta(days=30)).isoformat()

    clock.advance(days=29, hours=23)
    assert site.api.get("/api/v1/me", headers=auth(alice)).status_code == 200
    clock.advance(hours=1)
    expired = site.api.get("/api/v1/me", headers=auth(alice))
    assert expired.status_code == 401
    assert "expired at 2026-12-31 09:00 UTC" in expired.json()["detail"]


def test_setting_a_password_signs_that_users_browsers_out(
    site: Site, add_user: Callable[..., str], session_factory: sessionmaker[Session]
) -> None:
    add_user("alice")
    add_user("bob")
    alice, bob = site.browser("192.0.2.1"), site.browser("192.0.2.2")
    sign_in(alice, "alice")
    sign_in(bob, "bob")

    with session_scope(session_factory) as db:
        set_password(db, name="alice", password="a new long password", actor="test")
    assert not signed_in(alice)
    assert signed_in(bob)
    assert sign_in(alice, "alice", "a new long password").status_code == 303


def test_an_admin_cannot_revoke_the_token_the_request_uses(
    site: Site, add_user: Callable[..., str]
) -> None:
    admin = add_user("adam", Role.ADMIN)
    [token] = site.api.get("/api/v1/users/adam/tokens", headers=auth(admin)).json()
    response = site.api.post(f"/api/v1/tokens/{token['id']}/revoke", headers=auth(admin))
    assert response.status_code == 409 and "this request uses" in response.json()["detail"]
    assert site.api.get("/api/v1/me", headers=auth(admin)).status_code == 200
