"""Errors a client can act on, rendered by one handler as ``{"detail": message}``."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


class AppError(Exception):
    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class NotFound(AppError):
    status_code = 404


class Conflict(AppError):
    status_code = 409


class Unauthenticated(AppError):
    status_code = 401


class Forbidden(AppError):
    status_code = 403


def install_error_handler(app: FastAPI) -> None:
    @app.exception_handler(AppError)
    def _render(_: Request, exc: AppError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)
