"""Settings of the API server (``LIFELINE_API_*``; the notifier's are in :mod:`lifeline.notify.settings`).

They live here, not in :mod:`lifeline.settings`, so the core settings stay small; connection
settings (Kafka, QuestDB, registry path) still come from the core :class:`~lifeline.settings.Settings`.

Example::

    export LIFELINE_API_TOKENS_PATH=/etc/lifeline/tokens.toml
    export LIFELINE_API_JWT_SECRET=$(openssl rand -hex 32)
    lifeline api --port 8080
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lifeline.settings import LifelineSettings

__all__ = ["ApiSettings"]


class ApiSettings(LifelineSettings):
    """Tunables of ``lifeline api``. Each field is also ``LIFELINE_API_<FIELD NAME>``, or a key of the
    config file's ``[api]`` table.

    Limits and exposure (environment name, default):

    * ``LIFELINE_API_MAX_BODY_BYTES`` (65536): largest request body; larger ones get 413 before they are
      read in full, and every request is authenticated before its body is read at all.
    * ``LIFELINE_API_WS_MAX_FRAME_BYTES`` (65536): largest websocket message a client may send (close 1009).
    * ``LIFELINE_API_JWT_MAX_TTL_HOURS`` (24): JWTs whose ``exp`` lies further ahead are refused, and
      ``lifeline api token --ttl-hours`` may not exceed it. ``LIFELINE_API_JWT_SECRET`` must be ≥ 32 bytes.
    * ``LIFELINE_API_PUBLIC_HEALTHZ`` (true) / ``LIFELINE_API_PUBLIC_METRICS`` (true): serve ``/healthz``
      / ``/metrics`` without a token; when false, ``/healthz`` needs any valid token and ``/metrics`` an
      admin token.
    * ``LIFELINE_API_CORS_ORIGINS`` (empty): browser origins allowed to call the API, as a JSON list,
      e.g. ``'["https://console.example.org"]'``; empty = no cross-origin access.
    """

    toml_table = "api"

    model_config = SettingsConfigDict(env_prefix="LIFELINE_API_", extra="forbid", frozen=True)

    host: str = Field(default="127.0.0.1", description="address uvicorn binds to")
    port: int = Field(default=8080, ge=0, le=65535)
    tokens_path: Path | None = Field(default=None, description="TOML file of API keys (see `lifeline api token`)")
    jwt_secret: str | None = Field(default=None, description="HS256 secret for bearer JWTs; unset = JWTs refused")
    jwt_issuer: str = "lifeline"
    alerts_topic: str | None = Field(default=None, description="overrides the core alerts_topic")
    replay_size: int = Field(
        default=20_000, ge=10, description="most events kept in memory for reconnecting clients (the replay window)"
    )
    replay_max_age_s: float = Field(
        default=3600.0, gt=0, description="events older than this (Kafka time, against the newest) leave the window"
    )
    dedup_window: int = Field(
        default=50_000, ge=1, description="distinct alert events remembered to skip at-least-once duplicates"
    )
    ws_queue_size: int = Field(default=2_000, ge=1, description="live events buffered per websocket client")
    ws_max_dropped: int = Field(default=10_000, ge=1, description="drops after which a slow client is disconnected")
    ws_send_timeout_s: float = Field(default=10.0, gt=0, description="a send slower than this disconnects")
    ws_heartbeat_s: float = Field(default=15.0, gt=0)
    ws_auth_timeout_s: float = Field(default=5.0, gt=0, description="wait for an auth message when no token given")
    ws_coalesce_ms: float = Field(
        default=50.0, ge=0, description="after a wake-up, wait this long to pack more events into one frame"
    )
    ws_batch_max: int = Field(default=500, ge=1, description="most events packed into one websocket frame")
    ws_per_message_deflate: bool = Field(
        default=False,
        description="offer permessage-deflate compression; costs the server a compression per frame per client "
        "(a shared frame can no longer be reused), which roughly halves how many clients one process can feed",
    )
    ready_timeout_s: float = Field(default=60.0, gt=0, description="wait for the hub to rebuild state from Kafka")
    public_metrics: bool = Field(default=True, description="serve /metrics without a token")
    public_healthz: bool = Field(default=True, description="serve /healthz without a token")
    max_body_bytes: int = Field(default=64 * 1024, ge=1, description="largest request body (413 above)")
    ws_max_frame_bytes: int = Field(default=64 * 1024, ge=1024, description="largest websocket message from a client")
    jwt_max_ttl_hours: float = Field(default=24.0, gt=0, description="JWTs expiring later than this are refused")
    cors_origins: list[str] = Field(default_factory=list, description="origins allowed cross-origin; empty = none")
