"""How slawatch's errors reach an HTTP client: one body for every error the API returns, and the
OpenAPI description of each route's errors. Every FastAPI exception handler is here.

The body is ``{"detail": "<what to do, in words>", "code": "<stable name>"}``, plus ``errors``
(each field's problem, as pydantic reports it) when the request did not validate."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from app.errors import CODES, NAMED_CODE_ERRORS, HttpError, LoginRequired

DESCRIPTIONS = {
    400: "The request cannot be carried out as it is (`detail` says why)",
    401: "No valid token: send `Authorization: Bearer <token>`",
    403: "The token's user lacks the role this needs",
    404: "No such thing (`detail` names it)",
    409: "It conflicts with the current state (`detail` says how)",
    413: "The request body is too large",
    422: "A parameter or the body is not valid (`errors` lists each field's problem)",
    429: "Too many attempts: wait and try again",
    502: "A server slawatch relies on (SMTP, Walmart) failed (`detail` says which and why)",
    503: "Not available now",
}


class FieldError(BaseModel):
    loc: list[str | int] = Field(description="where: body, query, path or header, then the field")
    msg: str
    type: str


class ErrorOut(BaseModel):
    """Every error the API returns."""

    detail: str = Field(description="what went wrong and what to do, in words")
    code: str = Field(
        description="a stable name for programs: "
        + ", ".join(sorted({*CODES.values(), *(e.code for e in NAMED_CODE_ERRORS if e.code)}))
    )
    errors: list[FieldError] | None = Field(
        default=None, description="each field's problem, when the request did not validate"
    )


def error_body(detail: str, code: str, errors: list[FieldError] | None = None) -> dict[str, Any]:
    return ErrorOut(detail=detail, code=code, errors=errors).model_dump(exclude_none=True)


def _field_errors(exc: RequestValidationError) -> list[FieldError]:
    return [
        FieldError(
            loc=[p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            msg=str(e.get("msg", "")),
            type=str(e.get("type", "")),
        )
        for e in exc.errors()
    ]


def _summary(errors: list[FieldError]) -> str:
    if not errors:
        return "the request is not valid"
    where = ".".join(str(p) for p in errors[0].loc)
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {errors[0].msg}{more}" if where else f"{errors[0].msg}{more}"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HttpError)
    def _render(_: Request, exc: HttpError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse(
            error_body(exc.message, exc.error_code), status_code=exc.status_code, headers=headers
        )

    @app.exception_handler(RequestValidationError)
    def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _field_errors(exc)
        return JSONResponse(error_body(_summary(errors), CODES[422], errors), status_code=422)

    @app.exception_handler(StarletteHTTPException)
    def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            error_body(str(exc.detail), CODES.get(exc.status_code, "error")),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(LoginRequired)
    def _to_login(_: Request, __: LoginRequired) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: the errors it can return beyond those its parameters and
    its token already say (see ``_inferred``)."""
    return {status: {"model": ErrorOut, "description": DESCRIPTIONS[status]} for status in statuses}


def _inferred(operation: dict[str, Any]) -> Iterator[int]:
    """The errors an operation can return by what it takes: a token (401, 403), a path
    parameter (404), any input (400: what no database can store, app.input_guard; 422)."""
    if operation.get("security"):
        yield from (401, 403)
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in parameters):
        yield 404
    if parameters or "requestBody" in operation:
        yield from (400, 422)


def document_errors(app: FastAPI) -> None:
    """Describe in /openapi.json every error response each API operation can return, each with
    ``ErrorOut`` (FastAPI's own 422 schema is replaced), so a generated client handles them."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        shape = ErrorOut.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(shape.pop("$defs", {}))
        components["ErrorOut"] = shape
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                for status in sorted({*_inferred(operation), *map(int, responses)}):
                    if status < 400:
                        continue
                    responses[str(status)] = {
                        "description": DESCRIPTIONS.get(status, "An error"),
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/ErrorOut"}
                            }
                        },
                    }
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
