"""How to start and health-check each real server: Kafka (KRaft, single node) and QuestDB."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from confluent_kafka.admin import AdminClient

from lifeline.connectors.readonly import readonly_password
from lifeline.connectors.services.jars import check_java, ensure_kafka_jars, ensure_questdb_jar
from lifeline.connectors.services.process import ManagedProcess
from lifeline.settings import QUESTDB_SECRET_FILE, Settings

__all__ = ["KafkaServer", "QuestDBServer", "Server"]

_LOG4J = """status = error
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.stdout.ref = STDOUT
logger.kafka.name = kafka.server.KafkaRaftServer
logger.kafka.level = INFO
"""


@dataclass(frozen=True, slots=True)
class Server:
    """Common shape of a launched server."""

    settings: Settings

    name = "server"

    @property
    def process(self) -> ManagedProcess:
        """Pid and log bookkeeping for this server."""
        return ManagedProcess(self.name, self.settings.state_dir / "run", self.settings.state_dir / "logs")

    @property
    def ports(self) -> tuple[int, ...]:
        """Every port the server listens on."""
        raise NotImplementedError

    def endpoints(self) -> dict[str, str]:
        """Human-readable endpoints for ``services status``."""
        raise NotImplementedError

    def fetch(self) -> None:
        """Make sure the jars are in the cache."""
        raise NotImplementedError

    def argv_env(self) -> tuple[list[str], dict[str, str]]:
        """The command line and extra environment that start the server."""
        raise NotImplementedError

    def healthy(self) -> bool:
        """True when the server answers a real request."""
        raise NotImplementedError


_QUESTDB_LEAN = {
    "QDB_SHARED_NETWORK_WORKER_COUNT": "1",
    "QDB_SHARED_QUERY_WORKER_COUNT": "1",
    "QDB_SHARED_WRITE_WORKER_COUNT": "1",
    "QDB_SHARED_WORKER_NAP_THRESHOLD": "100",
    "QDB_SHARED_WORKER_SLEEP_THRESHOLD": "1000",
}


@dataclass(frozen=True, slots=True)
class KafkaServer(Server):
    """Apache Kafka in KRaft mode, one node acting as broker and controller, on 127.0.0.1."""

    name = "kafka"

    @property
    def ports(self) -> tuple[int, ...]:
        return (self.settings.kafka_port, self.settings.kafka_controller_port)

    def endpoints(self) -> dict[str, str]:
        return {"Kafka bootstrap": self.settings.bootstrap_servers}

    @property
    def data_dir(self) -> Path:
        """Kafka's log directory."""
        return self.settings.state_dir / "kafka" / "data"

    def fetch(self) -> None:
        ensure_kafka_jars(self.settings.cache_dir, self.settings.kafka_version)

    def _write_config(self) -> Path:
        s = self.settings
        conf_dir = s.state_dir / "kafka"
        conf_dir.mkdir(parents=True, exist_ok=True)
        props = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@{s.kafka_host}:{s.kafka_controller_port}",
            "listeners": f"PLAINTEXT://{s.kafka_host}:{s.kafka_port},CONTROLLER://{s.kafka_host}:{s.kafka_controller_port}",
            "advertised.listeners": f"PLAINTEXT://{s.kafka_host}:{s.kafka_port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "log.dirs": str(self.data_dir),
            "num.partitions": "1",
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "4",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",
            "message.max.bytes": "4194304",
            "log.retention.hours": "168",
        }
        path = conf_dir / "server.properties"
        path.write_text("".join(f"{k}={v}\n" for k, v in props.items()), encoding="utf-8")
        (conf_dir / "log4j2.properties").write_text(_LOG4J, encoding="utf-8")
        return path

    def argv_env(self) -> tuple[list[str], dict[str, str]]:
        java = check_java()
        jars = ensure_kafka_jars(self.settings.cache_dir, self.settings.kafka_version)
        classpath = ":".join(str(j) for j in jars)
        config = self._write_config()
        log4j = config.parent / "log4j2.properties"
        if not (self.data_dir / "meta.properties").is_file():
            self._format(java, classpath, config)
        argv = [java, self.process.marker, f"-Xmx{self.settings.kafka_heap}", f"-Xms{self.settings.kafka_heap}",
                "-XX:+UseG1GC", "-Djava.awt.headless=true", f"-Dlog4j2.configurationFile={log4j}",
                "-cp", classpath, "kafka.Kafka", str(config)]  # fmt: skip
        return argv, {}

    def _format(self, java: str, classpath: str, config: Path) -> None:
        import subprocess

        cluster_id = uuid.uuid4().bytes.hex()[:22]
        # Kafka cluster ids are 22 url-safe base64 chars; a hex slice of a uuid is a valid choice.
        proc = subprocess.run(
            [
                java,
                "-cp",
                classpath,
                "kafka.tools.StorageTool",
                "format",
                "-t",
                cluster_id,
                "-c",
                str(config),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            from lifeline.connectors.services.exceptions import ServiceStartError

            raise ServiceStartError(f"kafka storage format failed:\n{proc.stdout}\n{proc.stderr}")

    def healthy(self) -> bool:
        try:
            admin = AdminClient({"bootstrap.servers": self.settings.bootstrap_servers, "log_level": 0})
            metadata = admin.list_topics(timeout=2.0)
        except Exception:
            return False
        return bool(metadata.brokers)


@dataclass(frozen=True, slots=True)
class QuestDBServer(Server):
    """QuestDB (``io.questdb/io.questdb.ServerMain``) with its root under the state folder."""

    name = "questdb"

    @property
    def ports(self) -> tuple[int, ...]:
        s = self.settings
        return (s.questdb_http_port, s.questdb_pg_port, s.questdb_ilp_port, s.questdb_min_http_port)

    def endpoints(self) -> dict[str, str]:
        s = self.settings
        return {
            "QuestDB console (HTTP, /exec, ILP over HTTP)": (
                f"{s.questdb_http_url}  (user {s.questdb_user}, password "
                + (
                    "from LIFELINE_QUESTDB_PASSWORD)"
                    if s.questdb_password
                    else f"in {s.state_dir / QUESTDB_SECRET_FILE})"
                )
            ),
            "QuestDB PG-wire": f"postgresql://{s.questdb_user}@{s.questdb_host}:{s.questdb_pg_port}/qdb",
            "QuestDB ILP over TCP": f"{s.questdb_host}:{s.questdb_ilp_port}",
        }

    def fetch(self) -> None:
        ensure_questdb_jar(self.settings.cache_dir, self.settings.questdb_version)

    def argv_env(self) -> tuple[list[str], dict[str, str]]:
        s = self.settings
        java = check_java()
        jar = ensure_questdb_jar(s.cache_dir, s.questdb_version)
        root = s.state_dir / "questdb"
        root.mkdir(parents=True, exist_ok=True)
        env = {
            "QDB_HTTP_BIND_TO": f"{s.questdb_host}:{s.questdb_http_port}",
            "QDB_HTTP_MIN_NET_BIND_TO": f"{s.questdb_host}:{s.questdb_min_http_port}",
            "QDB_PG_NET_BIND_TO": f"{s.questdb_host}:{s.questdb_pg_port}",
            "QDB_LINE_TCP_NET_BIND_TO": f"{s.questdb_host}:{s.questdb_ilp_port}",
            "QDB_LINE_UDP_ENABLED": "false",
            "QDB_TELEMETRY_ENABLED": "false",
            # not QuestDB's well-known defaults: the web console, /exec, ILP over HTTP and PG-wire all
            # ask for the admin credentials (LIFELINE_QUESTDB_PASSWORD, or a generated secret)
            "QDB_PG_USER": s.questdb_credentials()[0],
            "QDB_PG_PASSWORD": s.questdb_credentials()[1],
            "QDB_HTTP_USER": s.questdb_credentials()[0],
            "QDB_HTTP_PASSWORD": s.questdb_credentials()[1],
            "QDB_PG_READONLY_USER_ENABLED": "true",
            "QDB_PG_READONLY_USER": s.questdb_readonly_user,
            "QDB_PG_READONLY_PASSWORD": readonly_password(s),
        }
        # One thread per worker pool and a short spin before a worker sleeps: QuestDB's defaults
        # (two or more threads per pool, each spinning when idle) took a third of a core on a
        # 2-core machine for a few thousand rows/s, CPU the flow needs. QDB_* variables in the
        # environment override these (e.g. QDB_SHARED_WRITE_WORKER_COUNT=4 on a big server).
        for key, value in _QUESTDB_LEAN.items():
            env[key] = os.environ.get(key, value)
        argv = [java, self.process.marker, f"-Xmx{s.questdb_heap}", "-XX:+UseParallelGC",
                "-p", str(jar), "-m", "io.questdb/io.questdb.ServerMain", "-d", str(root)]  # fmt: skip
        return argv, env

    def healthy(self) -> bool:
        try:
            r = httpx.get(
                f"{self.settings.questdb_http_url}/exec",
                params={"query": "SELECT 1"},
                timeout=2.0,
                auth=self.settings.questdb_credentials(),
            )
        except httpx.HTTPError:
            return False
        return r.status_code == 200
