"""Reading the settings: the TOML file, then the environment over it; any problem becomes one
ConfigError naming each key and where it came from."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from app.config.settings import ENV_PREFIX, Settings
from app.errors import ConfigError

CONFIG_ENV_VAR = "SLAWATCH_CONFIG"
DEFAULT_CONFIG_FILE = "slawatch.toml"


def config_file_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV_VAR) or DEFAULT_CONFIG_FILE)


def _read_config_file(path: Path, *, required: bool) -> dict[str, Any]:
    if not path.exists():
        if required:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"config file {path} is not valid TOML: {e}") from None
    except OSError as e:
        raise ConfigError(f"config file {path} cannot be read: {e.strerror}") from None


def describe_problem(error: Any) -> str:
    """One validation error as "key: what is wrong" (`mailboxes[0].port: ...`)."""
    loc = [str(part) for part in error["loc"]]
    key = "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc).lstrip(".") or "(top level)"
    if error["type"] == "extra_forbidden":
        return f"unknown key '{key}'"
    return f"{key}: {error['msg'].removeprefix('Value error, ')}"


def _describe(error: Any, *, path: Path) -> str:
    env_name = ENV_PREFIX + "__".join(str(part) for part in error["loc"]).upper()
    where = f"environment variable {env_name}" if env_name in os.environ else str(path)
    return f"{where}: {describe_problem(error)}"


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the settings; any problem becomes one ConfigError naming each key."""
    # The default file is optional; one named on the command line or in the environment is not.
    required = path is not None or bool(os.environ.get(CONFIG_ENV_VAR))
    path = path or config_file_path()
    values = _read_config_file(path, required=required)
    try:
        return Settings(**values)
    except ValidationError as e:
        problems = "\n".join(_describe(err, path=path) for err in e.errors())
        raise ConfigError(f"invalid configuration:\n{problems}") from None
