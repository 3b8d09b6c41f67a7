"""Secrets named by the settings, never written in them: read from an environment variable or a
file only when they are used."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import SecretStr

from app.errors import ConfigError


def read_secret_env(var_name: str, *, owner: str, key: str = "password_env") -> SecretStr:
    """The secret held by environment variable ``var_name``; ``owner`` names who needs it and
    ``key`` the setting that names the variable."""
    value = os.environ.get(var_name)
    if not value:
        raise ConfigError(f"{owner}: environment variable {var_name} ({key}) is not set")
    return SecretStr(value)


def read_secret_file(path: str, *, owner: str, key: str = "password_file") -> SecretStr:
    """The secret in file ``path`` (a Docker or Kubernetes secret), without its final newline."""
    try:
        value = Path(path).read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as e:
        raise ConfigError(f"{owner}: cannot read {key} {path}: {e.strerror}") from None
    if not value:
        raise ConfigError(f"{owner}: {key} {path} is empty")
    return SecretStr(value)


def read_password(env: str | None, file: str | None, *, owner: str) -> SecretStr | None:
    """The password named by ``password_env`` or ``password_file`` (never written in config)."""
    if env:
        return read_secret_env(env, owner=owner)
    if file:
        return read_secret_file(file, owner=owner)
    return None


def one_password_source(env: str | None, file: str | None, *, required: bool) -> None:
    if env and file:
        raise ValueError("give password_env or password_file, not both")
    if required and not (env or file):
        raise ValueError(
            "a password is needed: password_env (an environment variable's name) or "
            "password_file (a file's path); the password itself never goes in the config"
        )
