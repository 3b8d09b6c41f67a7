"""Reading the settings: the TOML file, then the environment over it; any problem becomes one
ConfigError naming each key and where it came from."""

from __future__ import annotations

import json
import os
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

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
    except UnicodeDecodeError as e:
        line = e.object[: e.start].count(b"\n") + 1
        raise ConfigError(
            f"config file {path} is not UTF-8 (as TOML must be): byte {e.start} (line {line}) is "
            f"0x{e.object[e.start]:02x}; save the file as UTF-8"
        ) from None
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


# A value of the wrong type in the file, which lax validation would coerce (true to 1, 993.0 to
# 993, "60" to 60): refused, since the file says what it means. The environment is text, so its
# values are converted as usual.
_TYPE_ERRORS = {"int_type", "float_type", "bool_type", "string_type", "list_type", "dict_type"}
_TYPE_NAMES = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "list_type": "a list",
    "dict_type": "a table",
}


def _wrong_types(values: dict[str, Any]) -> list[str]:
    """Each file value whose TOML type is not the type its key takes, as "key: expected X, got
    Y". Sections are checked strictly one by one (their own rules come later, in full)."""
    problems = []
    for name, value in values.items():
        adapter = _adapters().get(name)
        if adapter is None:
            continue  # an unknown key: the full validation names it
        try:
            adapter.validate_python(value, strict=True)
        except ValidationError as e:
            for error in e.errors():
                if error["type"] in _TYPE_ERRORS:
                    key = describe_problem({**error, "loc": (name, *error["loc"])}).split(":")[0]
                    expected = _TYPE_NAMES[error["type"]]
                    problems.append(f"{key}: expected {expected}, got {_as_toml(error['input'])}")
    return problems


def _as_toml(value: object) -> str:
    try:
        return json.dumps(value)  # true, "60", 993.0: as the file wrote them
    except TypeError:
        return repr(value)


@cache
def _adapters() -> dict[str, TypeAdapter[Any]]:
    return {
        name: TypeAdapter(field.annotation)
        for name, field in Settings.model_fields.items()
        if field.annotation is not None
    }


def load_settings(path: Path | None = None) -> Settings:
    """Read and validate the settings; any problem becomes one ConfigError naming each key."""
    # The default file is optional; one named on the command line or in the environment is not.
    required = path is not None or bool(os.environ.get(CONFIG_ENV_VAR))
    path = path or config_file_path()
    values = _read_config_file(path, required=required)
    wrong = _wrong_types(values)
    if wrong:
        problems = "\n".join(f"{path}: {problem}" for problem in wrong)
        raise ConfigError(f"invalid configuration:\n{problems}")
    try:
        return Settings(**values)
    except ValidationError as e:
        problems = "\n".join(_describe(err, path=path) for err in e.errors())
        raise ConfigError(f"invalid configuration:\n{problems}") from None
