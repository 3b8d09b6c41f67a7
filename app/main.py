"""The FastAPI application factory."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles

from app import __version__, metrics
from app.alerts.router import router as alerts_router
from app.audit.router import router as audit_router
from app.config import Settings
from app.db import make_engine, make_read_session_factory, make_session_factory
from app.http_errors import document_errors, install_error_handlers
from app.ingest.router import router as ingest_router
from app.input_guard import refuse_unstorable_input
from app.mailboxes.router import router as mailboxes_router
from app.oauth.grants import Logins
from app.paths import PROJECT_ROOT
from app.replies.router import router as replies_router
from app.reports.router import pages_router as reports_pages_router
from app.reports.router import router as reports_router
from app.security_headers import SecurityHeaders
from app.status.health_router import router as health_router
from app.status.metrics_router import router as metrics_router
from app.status.router import router as status_router
from app.threads.router import router as threads_router
from app.threads.summary_router import router as summary_router
from app.users.router import router as users_router
from app.walmart.opening import OrderReads
from app.walmart.rate_router import router as walmart_rate_router
from app.walmart.webhook_router import router as walmart_webhook_router
from app.web.actions import router as web_actions_router
from app.web.pages import router as web_pages_router

# A request skips its bookkeeping (a token's last use) rather than wait longer than this for a
# job's write lock.
BOOKKEEPING_LOCK_WAIT_MS = 200
# The pages' stylesheets, beside templates/ (a file, so no page needs inline style).
STATIC_DIR = PROJECT_ROOT / "static"


def create_app(settings: Settings) -> FastAPI:
    """The API and pages. Scheduled work (polls, sweeps, figures) runs in other processes
    (`slawatch worker`, which `slawatch serve` starts beside it), never in the one answering."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = make_engine(settings.database_url)
        app.state.engine = engine
        app.state.session_factory = make_session_factory(engine)
        app.state.bookkeeping_factory = make_session_factory(
            engine, lock_wait_ms=BOOKKEEPING_LOCK_WAIT_MS
        )
        app.state.read_session_factory = make_read_session_factory(engine)
        app.state.logins = Logins(app.state.session_factory, settings)
        app.state.order_reads = OrderReads(app.state.session_factory)
        app.state.metrics_registry = metrics.app_registry(app.state.read_session_factory, settings)
        try:
            yield
        finally:
            app.state.order_reads.shutdown()
            engine.dispose()

    app = FastAPI(
        title="slawatch",
        version=__version__,
        summary="Customer messages and their 48-hour Walmart deadlines.",
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable_input)],
    )
    app.state.settings = settings
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(users_router)
    app.include_router(ingest_router)
    app.include_router(mailboxes_router)
    app.include_router(threads_router)
    app.include_router(summary_router)
    app.include_router(reports_router)
    app.include_router(walmart_rate_router)
    app.include_router(walmart_webhook_router)
    app.include_router(replies_router)
    app.include_router(audit_router)
    app.include_router(alerts_router)
    app.include_router(metrics_router)
    app.include_router(status_router)
    app.include_router(web_pages_router)
    app.include_router(web_actions_router)
    app.include_router(reports_pages_router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    document_errors(app)
    return app
