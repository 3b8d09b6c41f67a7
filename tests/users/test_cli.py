"""The `slawatch users` commands that manage accounts, run as an operator runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from app.enums import Role
from tests.support.web import auth
from tests.users.helpers import Site, sign_in, signed_in

ROOT = Path(__file__).parents[2]


def slawatch(
    database_url: str, *args: str, stdin: str | None = None, **env: str
) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "users", *args],
        env={
            **os.environ,
            "SLAWATCH_DATABASE_URL": database_url,
            "PYTHONPATH": str(ROOT),
            **env,
        },
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    return result.returncode, result.stdout + result.stderr


def test_disable_list_revoke_and_enable_from_the_command_line(
    site: Site, add_user: Callable[..., str], database_url: str
) -> None:
    admin = add_user("adam", Role.ADMIN)
    alice = add_user("alice")
    browser = site.browser()
    sign_in(browser, "alice")

    code, out = slawatch(database_url, "disable", "alice")
    assert code == 0, out
    assert site.api.get("/api/v1/me", headers=auth(alice)).status_code == 401
    assert not signed_in(browser)
    code, out = slawatch(database_url, "enable", "alice")
    assert code == 0, out
    assert site.api.get("/api/v1/me", headers=auth(alice)).status_code == 200

    code, out = slawatch(database_url, "tokens", "alice", SLAWATCH_AUTH__TOKEN_DAYS="90")
    assert code == 0, out
    header, row = out.strip().splitlines()
    assert header.split("\t") == ["id", "prefix", "created", "last used", "expires", "revoked"]
    token_id, prefix, created, _, expires, revoked = row.split("\t")
    assert alice.startswith(prefix.removesuffix("..."))
    assert (created, expires, revoked) == ("2026-12-01 09:00 UTC", "2027-03-01 09:00 UTC", "no")

    code, out = slawatch(database_url, "revoke-token", token_id)
    assert code == 0 and "revoked" in out, out
    assert site.api.get("/api/v1/me", headers=auth(alice)).status_code == 401
    assert slawatch(database_url, "tokens", "alice")[1].strip().split("\t")[-1] != "no"

    actions = [e["action"] for e in site.api.get("/api/v1/audit", headers=auth(admin)).json()]
    assert actions[:3] == ["token.revoke", "user.enable", "user.disable"]


def test_the_last_enabled_admin_cannot_be_disabled(
    client: TestClient, add_user: Callable[..., str], database_url: str
) -> None:
    adam = add_user("adam", Role.ADMIN)
    code, out = slawatch(database_url, "disable", "adam")
    assert code == 1 and "last enabled admin" in out
    assert client.get("/api/v1/me", headers=auth(adam)).status_code == 200
    code, out = slawatch(database_url, "disable", "nobody")
    assert code == 1 and "no user named 'nobody'" in out
    code, out = slawatch(database_url, "revoke-token", "99999999999")
    assert code == 1 and "no token with id" in out


def test_a_new_password_signs_the_user_out(
    site: Site, add_user: Callable[..., str], database_url: str
) -> None:
    add_user("alice")
    browser = site.browser()
    sign_in(browser, "alice")
    code, out = slawatch(
        database_url, "password", "alice", "--password-stdin", stdin="another password\n"
    )
    assert code == 0, out
    assert not signed_in(browser)
    assert sign_in(browser, "alice", "another password").status_code == 303
