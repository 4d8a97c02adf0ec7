"""The FastAPI application: REST, the websocket hub, health and metrics.

``create_app()`` builds everything from settings; ``lifeline api`` serves it with uvicorn. The
OpenAPI document is at ``/openapi.json`` and the interactive docs at ``/docs``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any

from confluent_kafka.admin import NewTopic  # type: ignore[attr-defined]
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException as StarletteHTTPException

from lifeline.api import (
    routes_alerts,
    routes_analyst,
    routes_console,
    routes_lifelines,
    routes_notify,
    routes_sensors,
    routes_work_orders,
    routes_ws,
)
from lifeline.api.alerts_store import AlertStore
from lifeline.api.auth import Authenticator, Permission, Principal
from lifeline.api.context import ApiContext, BearerCredentials, Ctx, bearer_principal
from lifeline.api.exceptions import ApiError
from lifeline.api.guard import DOC_PATHS, RequestGuard
from lifeline.api.hub import AlertHub, KafkaFeed
from lifeline.api.logs import uvicorn_log_config
from lifeline.api.metrics import ApiMetrics
from lifeline.api.readings_store import ReadingStore
from lifeline.api.settings import ApiSettings
from lifeline.api.views import ErrorOut, Health
from lifeline.api.work_orders import WorkOrderService
from lifeline.connectors.exceptions import QuestDBError
from lifeline.connectors.kafka import ensure_topics, make_producer
from lifeline.connectors.questdb import QuestDB
from lifeline.registry import Registry, load_registry
from lifeline.settings import Settings, get_settings

__all__ = ["create_app", "uvicorn_options"]

log = logging.getLogger(__name__)

_DESCRIPTION = """
Live alerts, alert history, sensors and series of the Lifeline stream processor (城市生命线).

**Authentication**: `Authorization: Bearer <token>` with an API key (`llk_...`, from the tokens file) or an
HS256 JWT; issue either with `lifeline api token`. Roles: `operator` (all alerts, acknowledge/resolve),
`owner` (only its own assets), `analyst` (read-only queries), `admin`.

**Live feed**: websocket `/ws/alerts?max_tier=2&lifeline=gas` with the token in the `Authorization`
header, or (browsers) the subprotocols `lifeline` and `bearer.<token>`, or a first message
`{"type": "auth", "token": "..."}` — a snapshot of active alerts, then every lifecycle event; reconnect with
`last_event_id` to receive what was missed.

Errors are `{"error": code, "message": text}` with status 400, 401, 403, 404, 405, 409, 413, 422 or 503.
"""
_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "payload_too_large"}  # fmt: skip


def _error(status: int, code: str, message: str) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(ErrorOut(error=code, message=message).model_dump(), status_code=status, headers=headers)


def uvicorn_options(api: ApiSettings) -> dict[str, Any]:
    """How ``lifeline api`` runs uvicorn (the fan-out benchmark and the test server serve the same way).

    No ``server`` banner, websocket messages capped at ``ws_max_frame_bytes``, tokens redacted from the logs.
    """
    return {"host": api.host, "port": api.port, "ws": "websockets-sansio",
            "ws_per_message_deflate": api.ws_per_message_deflate, "backlog": 4096, "server_header": False,
            "ws_max_size": api.ws_max_frame_bytes, "log_config": uvicorn_log_config()}  # fmt: skip


def _public_paths(api: ApiSettings) -> frozenset[str]:
    ops = {"/healthz": api.public_healthz, "/metrics": api.public_metrics}
    return DOC_PATHS | routes_console.PUBLIC_PATHS | {path for path, public in ops.items() if public}


def create_app(
    settings: Settings | None = None,
    api_settings: ApiSettings | None = None,
    *,
    registry: Registry | None = None,
    authenticator: Authenticator | None = None,
) -> FastAPI:
    """Build the app. Kafka and QuestDB are contacted when it starts (lifespan), not here."""
    settings = settings or get_settings()
    api = api_settings or ApiSettings()
    if registry is None:
        registry = load_registry(settings.registry_path) if settings.registry_path else Registry([])
    auth = authenticator or Authenticator.from_files(api.tokens_path, api.jwt_secret, api.jwt_issuer,
                                                     max_ttl_s=api.jwt_max_ttl_hours * 3600)  # fmt: skip
    topic = api.alerts_topic or settings.alerts_topic

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics = ApiMetrics()
        db = QuestDB(settings)
        await asyncio.to_thread(ensure_topics, settings, [NewTopic(topic, num_partitions=1, replication_factor=1)])
        hub = AlertHub.from_settings(api, metrics)
        ticker = asyncio.create_task(hub.run_ticker(api.ws_heartbeat_s, api.ws_send_timeout_s))
        ctx = ApiContext(settings=settings, api=api, topic=topic, auth=auth, registry=registry, metrics=metrics,
                         hub=hub, db=db, alerts=AlertStore(db), readings=ReadingStore(db),
                         producer=make_producer(settings, **{"linger.ms": 0}))  # fmt: skip
        ctx.feed = KafkaFeed(settings, topic, hub, asyncio.get_running_loop())
        ctx.feed.start()
        ctx.work_orders = WorkOrderService(settings=settings, topic=settings.work_orders_topic, producer=ctx.producer,
                                           db=db)  # fmt: skip
        await asyncio.to_thread(ctx.work_orders.ensure_topic)
        ctx.work_orders.start(asyncio.get_running_loop())
        app.state.ctx = ctx
        try:
            yield
        finally:
            ctx.work_orders.stop()
            ticker.cancel()
            ctx.feed.stop()
            ctx.producer.flush(5)
            db.close()

    app = FastAPI(title="Lifeline API", version="0.1.0", description=_DESCRIPTION, lifespan=lifespan,
                  docs_url=None, redoc_url=None)  # fmt: skip  # served from local files by routes_console

    @app.exception_handler(ApiError)
    async def api_error(_request: Request, exc: ApiError) -> JSONResponse:
        return _error(exc.status, exc.code, exc.message)

    @app.exception_handler(QuestDBError)
    async def storage_error(request: Request, exc: QuestDBError) -> JSONResponse:
        log.warning("storage error on %s %s: %s", request.method, request.url.path, exc)
        return _error(503, "storage_unavailable", "the alert and reading store (QuestDB) failed; retry later")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = _error(exc.status_code, _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}"), exc.detail)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return _error(422, "invalid_request", problems)

    @app.middleware("http")
    async def timing(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        start = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        ctx: ApiContext | None = getattr(request.app.state, "ctx", None)
        if ctx is not None:
            ctx.metrics.http_latency.labels(path, request.method, str(response.status_code)).observe(
                time.perf_counter() - start
            )
        return response

    @app.get("/healthz", response_model=Health, tags=["ops"], summary="Liveness and readiness")
    def healthz(ctx: Ctx, response: Response) -> Health:
        """``ok`` once the hub has rebuilt its state from Kafka; 503 while starting or if the feed died.

        Needs a token (any role) unless ``LIFELINE_API_PUBLIC_HEALTHZ`` is true (the default).
        """
        feed_error = None if ctx.feed is None or ctx.feed.error is None else repr(ctx.feed.error)
        ready = ctx.hub.ready.is_set()
        status = "degraded" if feed_error else ("ok" if ready else "starting")
        if status != "ok":
            response.status_code = 503
        return Health(status=status, hub_ready=ready, feed_error=feed_error, active_alerts=len(ctx.hub.active()),
                      ws_clients=ctx.hub.client_count, last_event_id=ctx.hub.last_id)  # fmt: skip

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    def metrics(ctx: Ctx, credentials: BearerCredentials) -> Response:
        """Prometheus text format. Needs an admin token unless ``LIFELINE_API_PUBLIC_METRICS`` is true."""
        if not ctx.api.public_metrics:
            bearer_principal(ctx, credentials).require(Permission.ADMIN)
        return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/whoami", tags=["ops"], summary="The principal behind a token")
    def whoami(principal: Annotated[Principal, Depends(bearer_principal)]) -> dict[str, str | None]:
        """Who the bearer token says you are: name, role, owner scope."""
        return {"name": principal.name, "role": principal.role.value, "owner": principal.owner}

    app.include_router(routes_alerts.router)
    app.include_router(routes_sensors.router)
    app.include_router(routes_ws.router)
    app.include_router(routes_notify.router)
    app.include_router(routes_lifelines.router)
    app.include_router(routes_work_orders.router)
    app.include_router(routes_analyst.router)
    app.include_router(routes_console.router)
    _add_guards(app, api, auth)
    return app


def _add_guards(app: FastAPI, api: ApiSettings, auth: Authenticator) -> None:
    """The request guard, and outside it (so preflights and 401s carry CORS headers) the CORS allow-list."""
    app.add_middleware(RequestGuard, authenticator=auth, max_body_bytes=api.max_body_bytes,
                       public_paths=_public_paths(api))  # fmt: skip
    if api.cors_origins:
        app.add_middleware(CORSMiddleware, allow_origins=api.cors_origins, allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"], max_age=600)  # fmt: skip
