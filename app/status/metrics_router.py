"""GET /metrics: the Prometheus scrape (app.metrics keeps what it serves)."""

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from app.deps import SettingsDep
from app.errors import Unauthenticated

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
def metrics(request: Request, settings: SettingsDep) -> Response:
    """Prometheus text format; needs `Authorization: Bearer <token>` when
    `status.metrics_token_env` is set."""
    token = settings.status.metrics_token()
    if token is not None:
        given = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if not hmac.compare_digest(given.encode(), token.get_secret_value().encode()):
            raise Unauthenticated("/metrics needs the token named by status.metrics_token_env")
    return Response(
        generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST
    )
