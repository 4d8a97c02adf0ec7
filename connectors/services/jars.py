"""Fetch the Kafka and QuestDB jars from Maven Central with ``mvn``, once, into a cache folder.

The cache lives outside the repository (``LIFELINE_CACHE_DIR``, default ``~/.cache/lifeline``).
A fetch writes a tiny ``pom.xml`` naming the artifact and asks Maven to copy it with its runtime
dependencies into ``<cache>/<name>-<version>/lib``; a ``.complete`` marker makes later calls free.
"""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
from pathlib import Path

from lifeline.connectors.services.exceptions import ServiceError, ToolMissingError

__all__ = ["check_java", "ensure_kafka_jars", "ensure_questdb_jar"]

_POM = """<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>lifeline.local</groupId><artifactId>{name}-runtime</artifactId><version>1</version>
  <packaging>pom</packaging>
  <dependencies>
{deps}
  </dependencies>
</project>
"""
_DEP = "    <dependency><groupId>{g}</groupId><artifactId>{a}</artifactId><version>{v}</version></dependency>"

# Kafka's broker logs through SLF4J 2; bind it to log4j2 so the broker log is readable.
_KAFKA_EXTRA = (
    ("org.slf4j", "slf4j-api", "2.0.17"),
    ("org.apache.logging.log4j", "log4j-slf4j2-impl", "2.24.3"),
    ("org.apache.logging.log4j", "log4j-core", "2.24.3"),
)


def check_java(minimum: int = 17) -> str:
    """Return the ``java`` path; raise :class:`ToolMissingError` if absent or older than ``minimum``."""
    java = shutil.which("java")
    if java is None:
        raise ToolMissingError(
            f"java was not found on PATH. Kafka 4 and QuestDB 9 need Java {minimum} or newer: "
            "install it (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) and try again."
        )
    out = subprocess.run([java, "-version"], capture_output=True, text=True, check=False).stderr
    match = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if match:
        major = int(match.group(1))
        if major == 1 and match.group(2):
            major = int(match.group(2))
        if major < minimum:
            raise ToolMissingError(f"Java {major} found at {java}; Java {minimum}+ is required.")
    return java


def _mvn() -> str:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise ToolMissingError(
            "mvn (Apache Maven) was not found on PATH; it fetches the Kafka and QuestDB jars from "
            "Maven Central on first use. Install it (Debian/Ubuntu: apt-get install maven) and try again."
        )
    return mvn


def _fetch(cache_dir: Path, name: str, version: str, artifacts: tuple[tuple[str, str, str], ...]) -> Path:
    target = cache_dir / f"{name}-{version}"
    lib = target / "lib"
    marker = target / ".complete"
    if marker.is_file():
        return lib
    mvn = _mvn()
    target.mkdir(parents=True, exist_ok=True)
    with (cache_dir / f".{name}-{version}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # two processes fetching at once take turns
        if not marker.is_file():
            _run_maven(mvn, target, lib, name, version, artifacts)
    return lib


def _run_maven(
    mvn: str, target: Path, lib: Path, name: str, version: str, artifacts: tuple[tuple[str, str, str], ...]
) -> None:
    deps = "\n".join(_DEP.format(g=g, a=a, v=v) for g, a, v in artifacts)
    (target / "pom.xml").write_text(_POM.format(name=name, deps=deps), encoding="utf-8")
    if lib.exists():
        shutil.rmtree(lib)
    cmd = [mvn, "-q", "-B", "-f", str(target / "pom.xml"), "dependency:copy-dependencies",
           f"-DoutputDirectory={lib}", "-DincludeScope=runtime"]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise ServiceError(f"mvn could not fetch {name} {version} from Maven Central:\n{tail}")
    (target / ".complete").write_text(version, encoding="utf-8")


def ensure_kafka_jars(cache_dir: Path, version: str) -> list[Path]:
    """The Kafka broker classpath (``kafka_2.13`` and its runtime dependencies), fetched if needed."""
    lib = _fetch(cache_dir, "kafka", version, (("org.apache.kafka", "kafka_2.13", version), *_KAFKA_EXTRA))
    jars = sorted(lib.glob("*.jar"))
    if not any(j.name.startswith("kafka_2.13-") for j in jars):
        raise ServiceError(f"{lib} holds no kafka_2.13 jar; delete {lib.parent} and try again")
    return jars


def ensure_questdb_jar(cache_dir: Path, version: str) -> Path:
    """The QuestDB server jar (native library inside), fetched if needed."""
    lib = _fetch(cache_dir, "questdb", version, (("org.questdb", "questdb", version),))
    jar = lib / f"questdb-{version}.jar"
    if not jar.is_file():
        raise ServiceError(f"{jar} is missing after the fetch; delete {lib.parent} and try again")
    return jar
