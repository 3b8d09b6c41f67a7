"""The FastAPI application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from app import __version__, migrate
from app.config import ConfigError, Settings
from app.db import make_engine, make_session_factory
from app.errors import install_error_handler
from app.health import router as health_router
from app.users.router import router as users_router


def check_schema_current(database_url: str) -> None:
    """Refuse to serve a database the code does not match; the fix is one command."""
    engine = make_engine(database_url)
    try:
        current, head = migrate.current_revision(engine), migrate.head_revision()
    finally:
        engine.dispose()
    if current != head:
        raise ConfigError(
            f"database {engine.url.render_as_string(hide_password=True)} is at schema revision "
            f"{current or '(empty)'}, this version of slawatch needs {head}: "
            f"run `slawatch migrate`"
        )


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        try:
            yield
        finally:
            engine.dispose()

    app = FastAPI(
        title="slawatch",
        version=__version__,
        summary="Customer messages and their 48-hour Walmart deadlines.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handler(app)
    app.include_router(health_router)
    app.include_router(users_router)
    return app
