"""Settings: environment variables with the ``LIFELINE_`` prefix, one TOML file, defaults.

One mechanism for every part of the product. Precedence, highest first: keyword arguments,
environment (``LIFELINE_KAFKA_PORT=19092``), the TOML file named by ``LIFELINE_CONFIG`` (or
``./lifeline.toml`` if it exists), then the defaults, which work on a laptop with no configuration::

    # lifeline.toml
    kafka_port = 9092             # core settings: top-level keys (Settings)
    readings_partitions = 4

    [api]                          # lifeline api: LIFELINE_API_* (ApiSettings)
    port = 8080

    [notify]                       # lifeline notify: LIFELINE_NOTIFY_* (NotifySettings)
    max_attempts = 4

    [rules.gas]                    # detector rules (RulesConfig), same keys as a rules file
    lel_t1 = 50.0

``lifeline config show`` lists every setting with its value and where it came from.

To use your own cluster instead of the locally launched servers, set ``LIFELINE_KAFKA_BOOTSTRAP``
and ``LIFELINE_QUESTDB_HOST`` (and ports) and do not run ``lifeline services up``.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from lifeline.exceptions import SettingsError

__all__ = ["LifelineSettings", "SettingRow", "Settings", "config_file", "config_table", "describe", "get_settings"]


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


#: tables of the config file that belong to other parts than the core settings
SECTIONS = ("api", "notify", "rules")
#: the file in the state folder that holds the generated QuestDB admin password
QUESTDB_SECRET_FILE = "questdb-admin.secret"


def config_table(table: str | None) -> dict[str, Any]:
    """One part of the config file: its top-level keys (``None``, the core settings) or one table.

    Empty when there is no config file; :class:`SettingsError` when it cannot be read.
    """
    path = config_file()
    if path is None:
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))  # -sig: a byte-order mark is no error
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist (LIFELINE_CONFIG); create it or unset it") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"config file {path} cannot be read as TOML: {exc}") from None
    if table is None:
        return {k: v for k, v in data.items() if k not in SECTIONS}
    section = data.get(table, {})
    if not isinstance(section, dict):
        raise SettingsError(f"config file {path}: [{table}] must be a table")
    return section


class LifelineSettings(BaseSettings):
    """Base of every settings class: keyword arguments, then ``<env_prefix><FIELD>`` variables, then the
    config file's part named by ``toml_table`` (``None``: its top-level keys), then the defaults."""

    toml_table: ClassVar[str | None] = None

    def __init__(self, **values: Any) -> None:
        """Read the settings; every invalid one is reported at once, by environment variable name."""
        try:
            super().__init__(**values)
        except ValidationError as exc:
            prefix = str(type(self).model_config.get("env_prefix", ""))
            problems = [
                f"  - {prefix}{'.'.join(str(part) for part in error['loc']).upper()}: {error['msg']}"
                + (f" (got {error['input']!r})" if not isinstance(error["input"], dict) else "")
                for error in exc.errors()
            ]
            where = f"; config file: {config_file()}" if config_file() else ""
            raise SettingsError(
                f"{len(problems)} invalid setting(s) (environment or config file{where}):\n" + "\n".join(problems)
            ) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, InitSettingsSource(settings_cls, config_table(cls.toml_table)))


@dataclass(frozen=True, slots=True)
class SettingRow:
    """One setting as ``lifeline config show`` prints it."""

    name: str
    env: str
    value: str
    source: Literal["default", "file", "env"]
    description: str


def describe(settings: LifelineSettings) -> list[SettingRow]:
    """Every field of ``settings`` with its value (secrets masked) and where it came from."""
    cls = type(settings)
    prefix = str(cls.model_config.get("env_prefix", ""))
    from_file = config_table(cls.toml_table)
    rows: list[SettingRow] = []
    for name, info in cls.model_fields.items():
        env = f"{prefix}{name.upper()}"
        source: Literal["default", "file", "env"] = "default"
        if env in os.environ:
            source = "env"
        elif name in from_file:
            source = "file"
        value = getattr(settings, name)
        shown = "" if value is None else ("******" if isinstance(value, SecretStr) or _secret(name) else str(value))
        rows.append(SettingRow(name, env, shown, source, info.description or ""))
    return rows


def _secret(name: str) -> bool:
    return any(word in name for word in ("secret", "password"))


class Settings(LifelineSettings):
    """Every tunable of the engine. Each field is also ``LIFELINE_<FIELD NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="LIFELINE_", extra="forbid", frozen=True)

    # where things live
    cache_dir: Path = Field(default_factory=_default_cache, description="downloaded jars (Kafka, QuestDB)")
    state_dir: Path = Field(default_factory=_default_state, description="server data, pid files, logs")
    registry_path: Path | None = Field(default=None, description="sensor registry CSV")
    detector_rules_path: Path | None = Field(
        default=None, description="detector rules TOML (overrides the [rules] table and the documented defaults)"
    )

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
    work_orders_topic: str = "lifeline.work_orders"  # LIFELINE_WORK_ORDERS_TOPIC: work order lifecycle events
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
    questdb_user: str = "admin"  # LIFELINE_QUESTDB_USER: QuestDB's admin user (HTTP basic auth and PG-wire)
    # LIFELINE_QUESTDB_PASSWORD; empty (default): the launcher generates one into <state dir>/questdb-admin.secret
    questdb_password: str = ""
    questdb_readonly_user: str = "analyst"  # LIFELINE_QUESTDB_READONLY_USER: QuestDB's read-only PG-wire user
    questdb_readonly_password: str = ""  # LIFELINE_QUESTDB_READONLY_PASSWORD; empty: the launcher generates one

    # launcher
    startup_timeout_s: float = Field(default=90.0, gt=0)

    # dataflow (`lifeline run`)
    batch_size: int = Field(default=1000, ge=1, le=100_000, description="Kafka messages per Bytewax item")
    source_linger_ms: float = Field(
        default=50.0, ge=0, le=1000,
        description="after a short batch, wait this long before reading the partition again (bigger live batches)",
    )  # fmt: skip
    epoch_interval_s: float = Field(default=5.0, gt=0, description="Bytewax snapshot interval")
    snapshot_compression: int = Field(
        default=1, ge=0, le=9,
        description="zlib level of the partitions' sensor-state snapshots, 0 = off (1, the default: about 3x "
        "smaller; only the sensors touched in an epoch are compressed); the group stage's state is not compressed",
    )  # fmt: skip
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
    partition_stall_s: float = Field(
        default=0.0, ge=0,
        description="0 (default): alerts always wait for every partition that has unread messages, so they never "
        "depend on reading speed; > 0: a partition that delivered nothing for this many seconds although messages "
        "wait is declared stalled (logged, counted) and no longer holds alerts back",
    )  # fmt: skip
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

    @property
    def bootstrap_servers(self) -> str:
        """Kafka bootstrap servers string."""
        return self.kafka_bootstrap or f"{self.kafka_host}:{self.kafka_port}"

    @property
    def questdb_http_url(self) -> str:
        """Base URL of QuestDB's HTTP server (console, /exec, ILP over HTTP)."""
        return f"http://{self.questdb_host}:{self.questdb_http_port}"

    def questdb_credentials(self) -> tuple[str, str]:
        """``(user, password)`` of QuestDB's admin user: the configured password, else the launcher's generated one."""
        if self.questdb_password:
            return self.questdb_user, self.questdb_password
        from lifeline.credentials import generated_secret

        return self.questdb_user, generated_secret(self.state_dir / QUESTDB_SECRET_FILE)

    @property
    def questdb_ilp_conf(self) -> str:
        """Configuration string for the ``questdb`` client's ``Sender.from_conf`` (with the credentials)."""
        user, password = self.questdb_credentials()
        secret = password.replace(";", ";;")  # the conf string escapes its separator by doubling it
        return f"http::addr={self.questdb_host}:{self.questdb_http_port};username={user};password={secret};"

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
