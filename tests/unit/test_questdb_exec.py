"""``QuestDB.exec`` reads rows whose strings hold control characters, which QuestDB returns raw."""

from __future__ import annotations

import httpx
import pytest

from lifeline.connectors.exceptions import QuestDBError
from lifeline.connectors.questdb import QuestDB, parse_exec_body
from lifeline.settings import Settings

# what QuestDB 9 sends for a payload with NUL, SOH, a newline, a tab and US inside one string
RAW_BODY = (
    b'{"query":"SELECT payload FROM rejects","columns":[{"name":"payload","type":"STRING"}],'
    b'"timestamp":-1,"dataset":[["a\x00b\x01c\nd\te\x1f"],["\xff\xfeplain"]],"count":2}'
)


def test_the_body_parser_keeps_raw_control_characters() -> None:
    body = parse_exec_body(RAW_BODY)
    assert body["dataset"] == [["a\x00b\x01c\nd\te\x1f"], ["\ufffd\ufffdplain"]]


@pytest.mark.parametrize("raw", [b"<html>busy</html>", b"[1, 2]", b""])
def test_a_body_that_is_no_json_object_is_a_questdb_error(raw: bytes) -> None:
    with pytest.raises(QuestDBError):
        parse_exec_body(raw)


def test_exec_returns_rows_with_control_characters() -> None:
    def questdb(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=RAW_BODY, headers={"content-type": "application/json; charset=utf-8"})

    db = QuestDB(Settings())
    db._http = httpx.Client(transport=httpx.MockTransport(questdb), base_url="http://questdb.invalid")
    with db:
        result = db.exec("SELECT payload FROM rejects")
    assert result.columns == ["payload"]
    assert result.rows[0] == ["a\x00b\x01c\nd\te\x1f"]
