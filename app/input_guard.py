"""Refusing request input that no database column can hold, before anything reads it.

PostgreSQL text cannot contain NUL; neither database driver can encode a lone surrogate (JSON's
``"\\ud800"`` escape decodes to one, and so would a response echoing it); JSON's ``Infinity``,
``NaN`` and ``1e400`` (which Python reads as infinity) fit no JSON column nor any response. Deep
inside a request each of them is a 500; one check at the door, before authentication and
validation, makes it a 400 that names the parameter. A query string that is not UTF-8 is refused
too, rather than searched for with replacement characters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request
from starlette.datastructures import UploadFile

from app.errors import HttpError

_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class UnstorableInput(HttpError):
    status_code = 400


def problem_in(value: object) -> str | None:
    """What no database could store in ``value`` (a string, or decoded JSON), else None."""
    if isinstance(value, str):
        if "\x00" in value:
            return "a NUL character"
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return "a lone surrogate (not Unicode text)"
    elif isinstance(value, float) and not math.isfinite(value):
        return f"the number {value} (JSON numbers must be finite)"
    return None


def _first_problem(where: str, value: Any) -> str | None:
    """The first problem in decoded JSON, with where it is (``body.settings.host``). Iterative:
    a nesting deep enough for the JSON parser must not overflow the stack here."""
    pending: list[tuple[str, Any]] = [(where, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                if found := problem_in(key):
                    return f"{found} in a key of {path}"
                pending.append((f"{path}.{key}", child))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", child) for index, child in enumerate(item))
        elif found := problem_in(item):
            return f"{found} in {path}"
    return None


def _refuse(pairs: Iterable[tuple[str, object]], kind: str) -> None:
    for name, value in pairs:
        found = problem_in(name) or problem_in(value)
        if found:
            raise UnstorableInput(f"{kind} {name!r} contains {found}; remove it")


async def refuse_unstorable_input(request: Request) -> None:
    """An app-wide dependency: runs before every endpoint's own dependencies and validation."""
    query = request.scope.get("query_string", b"").decode("latin-1")
    try:
        parse_qsl(query, keep_blank_values=True, encoding="utf-8", errors="strict")
    except UnicodeDecodeError:
        raise UnstorableInput(
            "the query string is not UTF-8; percent-encode the UTF-8 bytes of each value"
        ) from None
    _refuse(request.path_params.items(), "path parameter")
    _refuse(request.query_params.multi_items(), "query parameter")

    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in _FORM_TYPES:
        form = await request.form()  # parsed (and kept) by FastAPI already for form endpoints
        fields = [(name, v) for name, v in form.multi_items() if not isinstance(v, UploadFile)]
        _refuse(fields, "form field")
    elif not content_type or content_type == "application/json" or content_type.endswith("+json"):
        if not await request.body():
            return
        try:
            body = await request.json()  # parsed (and kept) by FastAPI already
        except (ValueError, RecursionError):
            return  # not JSON: FastAPI refuses it, or the endpoint takes no body
        if found := _first_problem("body", body):
            raise UnstorableInput(f"the JSON body contains {found}; remove it")
