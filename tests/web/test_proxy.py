"""`slawatch serve` behind a reverse proxy: X-Forwarded-For and -Proto are believed only from the
addresses in [server] forwarded_allow_ips (the client's address in the log, https making the
cookies Secure), never from anyone else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from app.config import ServerSettings
from tests.support.processes import cli_env, migrated, serving

FORWARDED = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> str:
    where = tmp_path_factory.mktemp("proxy")
    url = f"sqlite:///{where / 'slawatch.db'}"
    migrated(url, where)
    return url


@contextmanager
def serve(database: str, tmp_path: Path, proxies: list[str]) -> Iterator[tuple[str, Path]]:
    """`slawatch serve` trusting ``proxies``; yields its URL and its log."""
    config = tmp_path / "slawatch.toml"
    config.write_text(f"[server]\nforwarded_allow_ips = {proxies!r}\n".replace("'", '"'))
    log = tmp_path / "serve.log"
    env = {**cli_env(database), "SLAWATCH_CONFIG": str(config)}
    with serving(env, tmp_path, "--no-scheduler", log=log, stop_within=20) as (_, base):
        yield base, log


def test_forwarded_headers_from_a_trusted_proxy_are_believed(database: str, tmp_path: Path) -> None:
    with serve(database, tmp_path, ["127.0.0.1"]) as (base, log):
        response = httpx.get(f"{base}/login", headers=FORWARDED)
    assert "Secure" in response.headers["set-cookie"]  # the browser is on https
    assert "203.0.113.7" in log.read_text()  # the client, not the proxy, is logged


def test_forwarded_headers_from_anyone_else_are_ignored(database: str, tmp_path: Path) -> None:
    with serve(database, tmp_path, ["192.0.2.10"]) as (base, log):
        response = httpx.get(f"{base}/login", headers=FORWARDED)
    assert "Secure" not in response.headers["set-cookie"]
    assert "203.0.113.7" not in log.read_text()


def test_proxies_are_addresses_or_networks() -> None:
    assert ServerSettings().trusted_proxies() == ["127.0.0.1", "::1"]  # uvicorn's default
    assert ServerSettings(forwarded_allow_ips=["10.0.0.0/8", "*"]).trusted_proxies() == [
        "10.0.0.0/8",
        "*",
    ]
    with pytest.raises(ValidationError, match="'proxy.example' is not an IP address or network"):
        ServerSettings(forwarded_allow_ips=["proxy.example"])
