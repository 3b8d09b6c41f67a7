"""How slawatch's errors reach an HTTP client: every FastAPI exception handler, in one place."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse

from app.errors import HttpError, LoginRequired


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HttpError)
    def _render(_: Request, exc: HttpError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(LoginRequired)
    def _to_login(_: Request, __: LoginRequired) -> RedirectResponse:
        return RedirectResponse("/login", status_code=303)
