"""``lifeline services up | down | status``: bring the local Kafka and QuestDB up and down.

``up`` is idempotent: a server that is already running and healthy is left alone. A port held by
a process we did not start is reported with the setting that moves it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from lifeline.connectors.services.exceptions import PortInUseError, ServiceStartError
from lifeline.connectors.services.process import port_open
from lifeline.connectors.services.servers import KafkaServer, QuestDBServer, Server
from lifeline.settings import Settings

__all__ = ["ServiceStatus", "down", "servers", "status", "up"]

Report = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    """What ``status`` knows about one server."""

    name: str
    pid: int | None
    healthy: bool
    endpoints: dict[str, str]
    log_file: str

    @property
    def state(self) -> str:
        """running / starting / stopped / external."""
        if self.pid is None:
            return "external" if self.healthy else "stopped"
        return "running" if self.healthy else "starting"


def servers(settings: Settings) -> list[Server]:
    """The servers the launcher manages, in start order."""
    return [KafkaServer(settings), QuestDBServer(settings)]


def _port_hint(server: Server, port: int) -> str:
    s = server.settings
    names = {
        s.kafka_port: "LIFELINE_KAFKA_PORT",
        s.kafka_controller_port: "LIFELINE_KAFKA_CONTROLLER_PORT",
        s.questdb_http_port: "LIFELINE_QUESTDB_HTTP_PORT",
        s.questdb_pg_port: "LIFELINE_QUESTDB_PG_PORT",
        s.questdb_ilp_port: "LIFELINE_QUESTDB_ILP_PORT",
        s.questdb_min_http_port: "LIFELINE_QUESTDB_MIN_HTTP_PORT",
    }
    return names.get(port, "the port settings")


def up(settings: Settings, report: Report = print) -> list[ServiceStatus]:
    """Fetch (first time), start and wait for every server; return their status."""
    pending: list[Server] = []
    for server in servers(settings):
        proc = server.process
        if proc.pid() is not None:
            report(f"{server.name}: already running (pid {proc.pid()})")
            pending.append(server)
            continue
        for port in server.ports:
            if port_open(settings.kafka_host if server.name == "kafka" else settings.questdb_host, port):
                raise PortInUseError(
                    f"{server.name}: port {port} is already in use by a process this launcher did not start. "
                    f"Stop that process, or choose another port with {_port_hint(server, port)}=<port>."
                )
        report(f"{server.name}: fetching jars if needed (cache: {settings.cache_dir})")
        server.fetch()
        argv, env = server.argv_env()
        pid = proc.start(argv, env)
        report(f"{server.name}: started (pid {pid}), log {proc.log_file}")
        pending.append(server)
    deadline = time.monotonic() + settings.startup_timeout_s
    for server in pending:
        while not server.healthy():
            if server.process.pid() is None:
                tail = _tail(server.process.log_file)
                raise ServiceStartError(f"{server.name} exited during start-up. Last log lines:\n{tail}")
            if time.monotonic() > deadline:
                tail = _tail(server.process.log_file)
                raise ServiceStartError(
                    f"{server.name} did not answer within {settings.startup_timeout_s:.0f} s "
                    f"(LIFELINE_STARTUP_TIMEOUT_S). Last log lines:\n{tail}"
                )
            time.sleep(0.2)
        report(f"{server.name}: healthy")
    return status(settings)


def down(settings: Settings, report: Report = print) -> None:
    """Stop every server this launcher started (by pid). Servers it did not start are left alone."""
    for server in reversed(servers(settings)):
        if server.process.stop():
            report(f"{server.name}: stopped")
        else:
            report(f"{server.name}: not running")


def status(settings: Settings) -> list[ServiceStatus]:
    """The state of each server: pid, health, endpoints."""
    return [
        ServiceStatus(s.name, s.process.pid(), s.healthy(), s.endpoints(), str(s.process.log_file))
        for s in servers(settings)
    ]


def _tail(path: object, lines: int = 20) -> str:
    try:
        text = open(str(path), encoding="utf-8", errors="replace").read()  # noqa: SIM115
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])
