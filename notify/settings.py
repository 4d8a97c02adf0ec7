"""Settings of the notifier (``LIFELINE_NOTIFY_*``, or the config file's ``[notify]`` table).

Connection settings (Kafka, QuestDB) come from the core :class:`~lifeline.settings.Settings`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from lifeline.settings import LifelineSettings

__all__ = ["NotifySettings"]


class NotifySettings(LifelineSettings):
    """Tunables of ``lifeline notify``. Each field is also ``LIFELINE_NOTIFY_<FIELD NAME>``, or a key of the
    config file's ``[notify]`` table."""

    toml_table = "notify"

    model_config = SettingsConfigDict(env_prefix="LIFELINE_NOTIFY_", extra="forbid", frozen=True)

    routes_path: Path | None = Field(
        default=None, description="routing file: contacts, routes, escalation levels, SMTP (see routes.example.toml)"
    )
    alerts_topic: str | None = Field(default=None, description="overrides the core alerts_topic")
    max_attempts: int = Field(default=4, ge=1, description="delivery attempts per notification")
    backoff_s: float = Field(default=1.0, ge=0, description="first retry delay; doubles each attempt")
    max_event_age_s: float = Field(
        default=3600.0, gt=0, description="events older than this are not notified when first seen (catch-up)"
    )
    retention_days: float = Field(
        default=7.0, gt=0,
        description="alerts closed longer ago, and events older than this, are forgotten (bounded memory)",
    )  # fmt: skip
    tick_s: float = Field(default=1.0, gt=0, description="how often escalation deadlines and digests are checked")
    http_timeout_s: float = Field(default=10.0, gt=0)
    workers: int = Field(default=4, ge=1, description="parallel deliveries")
    metrics_port: int = Field(
        default=0, ge=0, le=65535,
        description="Prometheus /metrics port of lifeline notify (first-notice latency per tier); 0 disables",
    )  # fmt: skip
