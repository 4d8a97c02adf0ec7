"""Everything a request handler needs, built once per app and kept on ``app.state.ctx``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from confluent_kafka import Producer
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lifeline.api.alerts_store import AlertStore
from lifeline.api.auth import Authenticator, Permission, Principal
from lifeline.api.hub import AlertHub, KafkaFeed
from lifeline.api.metrics import ApiMetrics
from lifeline.api.readings_store import ReadingStore
from lifeline.api.settings import ApiSettings
from lifeline.api.work_orders import WorkOrderService
from lifeline.connectors.questdb import QuestDB
from lifeline.registry import Registry
from lifeline.settings import Settings

__all__ = ["ApiContext", "Ctx", "get_ctx", "need"]


@dataclass
class ApiContext:
    """Shared services of one API process."""

    settings: Settings
    api: ApiSettings
    topic: str
    auth: Authenticator
    registry: Registry
    metrics: ApiMetrics
    hub: AlertHub
    db: QuestDB
    alerts: AlertStore
    readings: ReadingStore
    producer: Producer
    feed: KafkaFeed | None = field(default=None)
    work_orders: WorkOrderService | None = field(default=None)


def get_ctx(request: Request) -> ApiContext:
    """The app's context (FastAPI dependency)."""
    ctx: ApiContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ApiContext, Depends(get_ctx)]
_bearer = HTTPBearer(auto_error=False, description="API key (llk_...) or HS256 JWT; see `lifeline api token`")
#: the request's ``Authorization: Bearer`` credentials, if any (parsed once, by FastAPI's ``HTTPBearer``)
BearerCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def bearer_principal(ctx: Ctx, credentials: BearerCredentials) -> Principal:
    """The principal behind the request's bearer token (FastAPI dependency); 401 without a valid one."""
    return ctx.auth.authenticate(None if credentials is None else credentials.credentials)


def need(permission: Permission) -> Any:
    """A dependency that authenticates the bearer token and checks ``permission``; yields the principal."""

    def dependency(principal: Annotated[Principal, Depends(bearer_principal)]) -> Principal:
        principal.require(permission)
        return principal

    return Depends(dependency)
