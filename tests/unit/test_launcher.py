import socket
from pathlib import Path

import pytest

from lifeline.connectors.services import manager
from lifeline.connectors.services.exceptions import PortInUseError, ToolMissingError
from lifeline.connectors.services.jars import check_java, ensure_kafka_jars
from lifeline.connectors.services.process import ManagedProcess
from lifeline.settings import Settings


def test_missing_java_names_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissingError, match="Java 17"):
        check_java()


def test_missing_maven_names_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ToolMissingError, match="apt-get install maven"):
        ensure_kafka_jars(tmp_path, "4.1.1")


def test_port_taken_by_a_stranger_is_reported_with_the_setting_to_change(tmp_path: Path) -> None:
    with socket.socket() as stranger:
        stranger.bind(("127.0.0.1", 0))
        stranger.listen()
        port = stranger.getsockname()[1]
        settings = Settings(state_dir=tmp_path, kafka_port=port, kafka_controller_port=port + 1)
        with pytest.raises(PortInUseError, match="LIFELINE_KAFKA_PORT"):
            manager.up(settings, report=lambda _l: None)


def test_stale_pid_file_is_not_mistaken_for_our_server(tmp_path: Path) -> None:
    proc = ManagedProcess("kafka", tmp_path / "run", tmp_path / "logs")
    proc.run_dir.mkdir(parents=True)
    proc.pid_file.write_text("1")  # pid 1 exists but is not our JVM
    assert proc.pid() is None
    assert not proc.pid_file.exists()
    assert proc.stop() is False
