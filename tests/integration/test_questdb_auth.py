"""The launcher's QuestDB asks for credentials on HTTP (console, /exec, ILP) and PG-wire (real server)."""

import httpx
import psycopg
import pytest

from lifeline.connectors.questdb import QuestDB
from lifeline.settings import Settings


def test_questdb_http_refuses_requests_without_the_launchers_credentials(services: Settings) -> None:
    url = f"{services.questdb_http_url}/exec"
    assert httpx.get(url, params={"query": "SELECT 1"}, timeout=10).status_code == 401
    assert httpx.get(url, params={"query": "SELECT 1"}, auth=("admin", "quest"), timeout=10).status_code == 401
    assert httpx.post(f"{services.questdb_http_url}/write", content=b"t v=1", timeout=10).status_code == 401
    with QuestDB(services) as db:  # the project's own client carries them
        assert db.exec("SELECT 1").rows == [[1]]


def test_questdb_pg_wire_refuses_the_default_password(services: Settings) -> None:
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(host=services.questdb_host, port=services.questdb_pg_port, user="admin",
                        password="quest", dbname="qdb", connect_timeout=10).close()  # fmt: skip
    with QuestDB(services) as db:
        assert db.query("SELECT 1 AS one").rows == [[1]]
