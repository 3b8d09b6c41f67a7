"""The sign-in form refuses guessing: per user name and per address, with growing lockouts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app.config import AuthSettings, Settings
from app.enums import Role
from app.main import create_app
from app.models import SignInThrottle
from app.web import sessions
from tests.support.web import auth
from tests.users.helpers import Clock, Site, sign_in


def locks(site: Site, admin: str) -> list[dict[str, Any]]:
    response = site.api.get(
        "/api/v1/audit", params={"action": "user.sign_in_locked"}, headers=auth(admin)
    )
    return list(reversed(response.json()))


def fail(site: Site, name: str, *, times: int, address: str | None = None) -> None:
    """``times`` wrong passwords for ``name``, each from its own address unless one is given
    (so that only the user name's count grows)."""
    for i in range(times):
        browser = site.browser(address or f"198.51.100.{i + 1}")
        assert sign_in(browser, name, "wrong password").status_code == 401


@pytest.fixture
def admin(add_user: Callable[..., str]) -> str:
    token = add_user("adam", Role.ADMIN)
    add_user("alice")
    return token


@pytest.fixture
def password_checks(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names whose password was checked (each check costs argon2)."""
    checked: list[str] = []
    verify = sessions.verify_password

    def counting(password_hash: str | None, password: str) -> bool:
        checked.append(password)
        return verify(password_hash, password)

    monkeypatch.setattr(sessions, "verify_password", counting)
    return checked


def test_five_failures_lock_the_user_name_out_even_for_the_right_password(
    site: Site, admin: str, password_checks: list[str], clock: Clock
) -> None:
    fail(site, "alice", times=5)
    checks = len(password_checks)

    locked = sign_in(site.browser("203.0.113.7"), "alice")
    assert locked.status_code == 429
    assert locked.headers["Retry-After"] == "60"
    assert "Try again after 2026-12-01 09:01:00 UTC" in locked.text
    assert len(password_checks) == checks, "a locked-out attempt must not hash the password"

    clock.advance(seconds=59)
    assert sign_in(site.browser("203.0.113.7"), "alice").headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert sign_in(site.browser("203.0.113.7"), "alice").status_code == 303


def test_one_audit_row_per_lockout_and_none_per_failure(
    site: Site, admin: str, clock: Clock
) -> None:
    fail(site, "alice", times=5)
    for _ in range(3):
        assert sign_in(site.browser(), "alice").status_code == 429
    [lock] = locks(site, admin)
    assert (lock["actor"], lock["detail"]["key"]) == ("alice", "user:alice")
    assert lock["detail"]["until"].startswith("2026-12-01T09:01:00")
    failed = site.api.get(
        "/api/v1/audit", params={"action": "user.sign_in_failed"}, headers=auth(admin)
    )
    assert failed.json() == []


def test_one_address_is_locked_out_across_user_names(site: Site, admin: str, clock: Clock) -> None:
    guesser = site.browser("203.0.113.50")
    for name in ("ann", "bert", "cleo", "dave", "alice"):
        assert sign_in(guesser, name, "wrong password").status_code == 401
    locked = sign_in(guesser, "adam")
    assert locked.status_code == 429 and locked.headers["Retry-After"] == "60"
    # The user names were tried once each: from elsewhere they sign in.
    assert sign_in(site.browser("203.0.113.51"), "alice").status_code == 303
    [lock] = locks(site, admin)
    assert (lock["actor"], lock["detail"]["key"]) == ("203.0.113.50", "address:203.0.113.50")


def test_each_lockout_lasts_twice_as_long_up_to_the_maximum(
    site: Site, admin: str, clock: Clock
) -> None:
    waits = []
    for _ in range(6):
        fail(site, "alice", times=5)
        locked = sign_in(site.browser(), "alice")
        assert locked.status_code == 429
        waits.append(int(locked.headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
    assert waits == [60, 120, 240, 480, 900, 900]
    assert [lock["detail"]["lockouts"] for lock in locks(site, admin)] == [1, 2, 3, 4, 5, 6]

    # Quiet for a whole window after its last lockout, the name starts over at a minute.
    clock.advance(minutes=15)
    fail(site, "alice", times=5)
    assert sign_in(site.browser(), "alice").headers["Retry-After"] == "60"


def test_a_successful_sign_in_resets_the_user_names_count(
    site: Site, admin: str, clock: Clock
) -> None:
    fail(site, "alice", times=4, address="192.0.2.10")
    assert sign_in(site.browser("192.0.2.10"), "alice").status_code == 303
    # Four more from another address: the name's count starts again from nothing.
    fail(site, "alice", times=4, address="192.0.2.20")
    assert sign_in(site.browser("192.0.2.30"), "alice", "wrong").status_code == 401
    assert sign_in(site.browser("192.0.2.30"), "alice").status_code == 429


def test_failures_further_apart_than_the_window_do_not_add_up(
    site: Site, admin: str, clock: Clock
) -> None:
    fail(site, "alice", times=4)
    clock.advance(minutes=15)
    fail(site, "alice", times=4)
    assert sign_in(site.browser(), "alice").status_code == 303


@pytest.mark.parametrize(
    "auth_settings",
    [AuthSettings(sign_in_max_failures=2, sign_in_max_lockout_minutes=3)],
)
def test_the_limits_come_from_the_auth_settings(site: Site, admin: str, clock: Clock) -> None:
    waits = []
    for _ in range(3):
        fail(site, "alice", times=2)
        waits.append(int(sign_in(site.browser(), "alice").headers["Retry-After"]))
        clock.advance(seconds=waits[-1])
    assert waits == [60, 120, 180]


def test_unknown_auth_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="sign_in_max_tries"):
        AuthSettings(sign_in_max_tries=3)  # type: ignore[call-arg]


def test_an_unknown_name_and_a_wrong_password_look_the_same(site: Site, admin: str) -> None:
    wrong = sign_in(site.browser("192.0.2.40"), "alice", "wrong password")
    unknown = sign_in(site.browser("192.0.2.41"), "no-such-user", "wrong password")

    # The same page but for the form's own CSRF token.
    def page(response: httpx.Response) -> tuple[int, str]:
        return response.status_code, re.sub(r'value="[^"]+"', "", response.text)

    assert page(wrong) == page(unknown)


def test_counts_quiet_for_a_whole_window_are_dropped(
    site: Site, admin: str, clock: Clock, session_factory: sessionmaker[Session]
) -> None:
    fail(site, "alice", times=5, address="192.0.2.60")
    clock.advance(minutes=1 + 15)
    fail(site, "bob", times=1, address="192.0.2.61")
    with session_factory() as db:
        keys = set(db.scalars(select(SignInThrottle.key)))
    assert keys == {"user:bob", "address:192.0.2.61"}


def test_replicas_share_the_counts(site: Site, admin: str, database_url: str) -> None:
    other_app = create_app(Settings(database_url=database_url))
    with TestClient(other_app) as other:
        replicas = [site, Site(other_app, other)]
        for i in range(5):
            browser = replicas[i % 2].browser(f"198.51.100.{i + 1}")
            assert sign_in(browser, "alice", "wrong password").status_code == 401
        assert sign_in(replicas[1].browser(), "alice").status_code == 429
        assert sign_in(replicas[0].browser(), "alice").status_code == 429
