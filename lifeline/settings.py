"""Settings: environment variables with the ``LIFELINE_`` prefix, an optional TOML file, defaults.

Precedence, highest first: keyword arguments, environment (``LIFELINE_KAFKA_PORT=19092``), the
TOML file named by ``LIFELINE_CONFIG`` (or ``./lifeline.toml`` if it exists), then the defaults
below, which work on a laptop with no configuration at all::

    # lifeline.toml
    kafka_port = 9092
    questdb_http_port = 9000
    readings_partitions = 4

To use your own cluster instead of the locally launched servers, set ``LIFELINE_KAFKA_BOOTSTRAP``
and ``LIFELINE_QUESTDB_HOST`` (and ports) and do not run ``lifeline services up``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

__all__ = ["Settings", "config_file", "get_settings"]


def _default_cache() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "lifeline"


def _default_state() -> Path:
    return Path(os.environ.get("XDG_STATE_HOME", Path.home() / ".local" / "state")) / "lifeline"


def config_file() -> Path | None:
    """The TOML config file in force: ``$LIFELINE_CONFIG``, else ``./lifeline.toml`` if present."""
    named = os.environ.get("LIFELINE_CONFIG")
    if named:
        return Path(named)
    local = Path("lifeline.toml")
    return local if local.is_file() else None


class Settings(BaseSettings):
    """Every tunable of the engine. Each field is also ``LIFELINE_<FIELD NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="LIFELINE_", extra="forbid", frozen=True)

    # where things live
    cache_dir: Path = Field(default_factory=_default_cache, description="downloaded jars (Kafka, QuestDB)")
    state_dir: Path = Field(default_factory=_default_state, description="server data, pid files, logs")
    registry_path: Path | None = Field(default=None, description="sensor registry CSV")
    rules_path: Path | None = Field(default=None, description="detector rules TOML (default: DOMAIN.md values)")

    # Kafka
    kafka_host: str = "127.0.0.1"
    kafka_port: int = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: int = Field(default=9093, ge=1, le=65535)
    kafka_bootstrap: str | None = Field(default=None, description="overrides kafka_host:kafka_port")
    kafka_version: str = "4.1.1"
    kafka_heap: str = "1g"
    readings_topic: str = "lifeline.readings"
    alerts_topic: str = "lifeline.alerts"
    dlq_topic: str = "lifeline.dlq"
    readings_partitions: int = Field(default=4, ge=1, le=1024)

    # QuestDB
    questdb_host: str = "127.0.0.1"
    questdb_http_port: int = Field(default=9000, ge=1, le=65535)
    questdb_pg_port: int = Field(default=8812, ge=1, le=65535)
    questdb_ilp_port: int = Field(default=9009, ge=1, le=65535)
    questdb_min_http_port: int = Field(default=9003, ge=1, le=65535)
    questdb_version: str = "9.2.2"
    questdb_heap: str = "1g"
    questdb_table_prefix: str = Field(
        default="", pattern=r"^[a-z0-9_]*$", description="prefix of every table name (isolates runs)"
    )
    questdb_user: str = "admin"
    questdb_password: str = "quest"

    # launcher
    startup_timeout_s: float = Field(default=90.0, gt=0)

    # dataflow (`lifeline run`)
    batch_size: int = Field(default=1000, ge=1, le=100_000, description="Kafka messages per Bytewax item")
    source_linger_ms: float = Field(
        default=50.0, ge=0, le=1000,
        description="after a short batch, wait this long before reading the partition again (bigger live batches)",
    )  # fmt: skip
    epoch_interval_s: float = Field(default=5.0, gt=0, description="Bytewax snapshot interval")
    recovery_dir: Path | None = Field(default=None, description="Bytewax recovery store (default: state_dir/recovery)")
    recovery_partitions: int = Field(default=1, ge=1, le=64)
    store_readings: Literal["all", "downsampled", "none"] = "downsampled"
    downsample_ms: int = Field(
        default=1000, ge=1, description="with store_readings=downsampled: one row per sensor per"
    )
    future_tolerance_s: float = Field(default=300.0, ge=0)
    max_message_bytes: int = Field(default=262_144, ge=64)
    sweep_interval_s: float = Field(default=300.0, gt=0, description="event time between silence sweeps")
    allowed_lateness_s: float = Field(
        default=0.0, ge=0,
        description="how far behind its sensor's newest a reading may arrive and still be used (held and reordered)",
    )  # fmt: skip
    group_max_skew_s: float = Field(
        default=3600.0, gt=0, description="how far a stalled partition may hold alerts back"
    )
    metrics_port: int = Field(default=9108, ge=0, le=65535, description="Prometheus /metrics port; 0 disables")
    questdb_flush_rows: int = Field(default=200_000, ge=1)
    questdb_flush_interval_s: float = Field(default=0.5, gt=0)
    supervise_retries: int = Field(
        default=3, ge=0, description="`lifeline run -p N`: restarts of a failed cluster before giving up"
    )
    supervise_backoff_s: float = Field(
        default=1.0, ge=0, description="wait before the first restart of a failed cluster; doubles per restart"
    )
    supervise_grace_s: float = Field(
        default=10.0, gt=0, description="how long cluster processes get to stop after SIGTERM before SIGKILL"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    @property
    def bootstrap_servers(self) -> str:
        """Kafka bootstrap servers string."""
        return self.kafka_bootstrap or f"{self.kafka_host}:{self.kafka_port}"

    @property
    def questdb_http_url(self) -> str:
        """Base URL of QuestDB's HTTP server (console, /exec, ILP over HTTP)."""
        return f"http://{self.questdb_host}:{self.questdb_http_port}"

    @property
    def questdb_ilp_conf(self) -> str:
        """Configuration string for the ``questdb`` client's ``Sender.from_conf``."""
        return f"http::addr={self.questdb_host}:{self.questdb_http_port};"

    @property
    def recovery_path(self) -> Path:
        """Where the Bytewax recovery store lives."""
        return self.recovery_dir or self.state_dir / "recovery"

    def environment(self, base: dict[str, str] | None = None) -> dict[str, str]:
        """``base`` (default: this process's environment) without any LIFELINE_* variable, plus these
        settings as LIFELINE_* variables: what a child process needs to see the same configuration."""
        env = {k: v for k, v in (os.environ if base is None else base).items() if not k.startswith("LIFELINE_")}
        env.update({f"LIFELINE_{k.upper()}": str(v) for k, v in self.model_dump().items() if v is not None})
        return env

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with some fields changed (validated)."""
        return Settings(**{**self.model_dump(), **changes})


def get_settings(**overrides: Any) -> Settings:
    """Settings from keyword overrides, environment, config file and defaults."""
    return Settings(**overrides)
