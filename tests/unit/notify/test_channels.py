"""DingTalk, WeCom, Feishu and SMS against a real local HTTP receiver that checks each platform's
signature the way the platform documents it (the receiver's checks are written here, independently of
the code under test), SMS segmentation, and tier-3 quiet hours on a manual clock."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from lifeline.clock import ManualClock
from lifeline.models import Tier
from lifeline.notify.core import Message, Notice, NotifierCore
from lifeline.notify.exceptions import DeliveryError
from lifeline.notify.robots import RobotChannel
from lifeline.notify.routes import ChannelKind, Contact, SmsGateway, parse_rules
from lifeline.notify.sms import SmsChannel, sms_segments

SECRET = "SECtest-robot-secret-0123456789"
CONSOLE = "https://lifeline.city.example"


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers like the platforms do."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.answer: dict[str, Any] = {"errcode": 0, "errmsg": "ok"}
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                outer.requests.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                raw = json.dumps(outer.answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *_: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _message(event_factory: Any, tier: int = 1, label: str = "opened") -> Message:
    event = event_factory("b1c2", tier=tier, ts=1_796_263_500_000)  # 2026-12-03 02:05 UTC = 10:05 +08:00
    return Message("c", (Notice(event, label, "c", 0),))


def _dingtalk_verify(path: str, secret: str) -> bool:
    """DingTalk's documented check: sign == urlencode(base64(HmacSHA256(secret, timestamp + "\\n" + secret)))."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(path).query)
    timestamp = query["timestamp"][0]
    if abs(int(timestamp) - time.time() * 1000) > 3_600_000:
        return False
    expected = base64.b64encode(
        hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode(), digestmod=hashlib.sha256).digest()
    ).decode()
    return hmac.compare_digest(query["sign"][0], expected)  # parse_qs already url-decoded it


def _feishu_verify(body: dict[str, Any], secret: str) -> bool:
    """Feishu's documented check: sign == base64(HmacSHA256(key = timestamp + "\\n" + secret, data = empty))."""
    timestamp = body["timestamp"]
    if abs(int(timestamp) - time.time()) > 3600:
        return False
    key = f"{timestamp}\n{secret}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    return hmac.compare_digest(body["sign"], expected)


def test_dingtalk_markdown_is_signed_as_documented(receiver: Receiver, event_factory: Any) -> None:
    contact = Contact("gas-group", ChannelKind.DINGTALK, f"{receiver.url}/robot/send?access_token=tok", SECRET)
    channel = RobotChannel(console_url=CONSOLE, zone="Asia/Shanghai")
    assert channel.send(contact, _message(event_factory)) == "HTTP 200 ok"
    request = receiver.requests[0]
    assert request["path"].startswith("/robot/send?access_token=tok&timestamp=")
    assert _dingtalk_verify(request["path"], SECRET)
    assert not _dingtalk_verify(request["path"], SECRET + "x")
    body = json.loads(request["body"])
    assert body["msgtype"] == "markdown"
    assert body["markdown"]["title"] == "【一级】燃气泄漏 A-b1c2 新告警"
    text = body["markdown"]["text"]
    for part in ("一级", "燃气泄漏", "A-b1c2", "shushan", "2026-12-03 10:05 +08:00", "ch4 55 %LEL >= t1 50",
                 f"{CONSOLE}/console/alerts/b1c2"):  # fmt: skip
        assert part in text


def test_dingtalk_platform_error_code_is_a_failed_delivery(receiver: Receiver, event_factory: Any) -> None:
    receiver.answer = {"errcode": 310000, "errmsg": "sign not match"}
    contact = Contact("g", ChannelKind.DINGTALK, f"{receiver.url}/robot/send?access_token=tok", SECRET)
    with pytest.raises(DeliveryError, match="310000") as caught:
        RobotChannel(console_url=CONSOLE, zone="Asia/Shanghai").send(contact, _message(event_factory))
    assert caught.value.retry is False


def test_feishu_card_is_signed_as_documented(receiver: Receiver, event_factory: Any) -> None:
    receiver.answer = {"code": 0, "msg": "success"}
    contact = Contact("bridge-group", ChannelKind.FEISHU, f"{receiver.url}/open-apis/bot/v2/hook/abc", SECRET,
                      language="en")  # fmt: skip
    RobotChannel(console_url=CONSOLE, zone="Asia/Shanghai").send(contact, _message(event_factory, tier=2))
    body = json.loads(receiver.requests[0]["body"])
    assert _feishu_verify(body, SECRET)
    assert not _feishu_verify(body, "other")
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["title"]["content"] == "[Tier 2] gas leak at A-b1c2: opened"
    assert body["card"]["header"]["template"] == "orange"
    content = body["card"]["elements"][0]["content"]
    assert "**District**: shushan" in content and f"{CONSOLE}/console/alerts/b1c2" in content


def test_wecom_markdown_has_no_signature_and_keeps_the_key(receiver: Receiver, event_factory: Any) -> None:
    contact = Contact("water-group", ChannelKind.WECOM, f"{receiver.url}/cgi-bin/webhook/send?key=K-1")
    RobotChannel(console_url=CONSOLE, zone="Asia/Shanghai").send(contact, _message(event_factory, tier=3))
    request = receiver.requests[0]
    assert urllib.parse.parse_qs(urllib.parse.urlsplit(request["path"]).query) == {"key": ["K-1"]}
    body = json.loads(request["body"])
    assert set(body) == {"msgtype", "markdown"} and body["msgtype"] == "markdown"
    assert body["markdown"]["content"].startswith("### 【三级】燃气泄漏 A-b1c2 新告警")


def test_wecom_content_is_cut_to_4096_utf8_bytes(receiver: Receiver, event_factory: Any) -> None:
    event = event_factory("x", tier=3)
    message = Message("c", tuple(Notice(event, "opened", "c", 0) for _ in range(40)), digest=True)
    contact = Contact("w", ChannelKind.WECOM, f"{receiver.url}/send?key=K")
    RobotChannel(console_url=CONSOLE, zone="Asia/Shanghai").send(contact, message)
    content = json.loads(receiver.requests[0]["body"])["markdown"]["content"]
    assert len(content.encode()) <= 4096 and content.endswith("…")


@pytest.mark.parametrize(
    ("length", "expected"),
    [(70, [70]), (71, [67, 4]), (134, [67, 67]), (135, [67, 67, 1])],
)
def test_chinese_sms_segments_70_single_67_concatenated(length: int, expected: list[int]) -> None:
    text = ("燃气泄漏告警" * 30)[:length]
    segments = sms_segments(text)
    assert [len(s) for s in segments] == expected
    assert "".join(segments) == text


def test_gsm7_sms_segments_160_single_153_concatenated() -> None:
    assert [len(s) for s in sms_segments("a" * 160)] == [160]
    assert [len(s) for s in sms_segments("a" * 161)] == [153, 8]


def test_sms_never_splits_a_surrogate_pair() -> None:
    text = "告" * 66 + "🚨" + "警" * 10  # the emoji is 2 UTF-16 units: it cannot fit in unit 67
    segments = sms_segments(text)
    assert segments[0] == "告" * 66 and segments[1].startswith("🚨")


def test_sms_gateway_gets_each_segment_from_the_template(receiver: Receiver, event_factory: Any) -> None:
    template = {"mobile": "{phone}", "content": "{text}", "seq": "{part}/{parts}"}
    gateway = SmsGateway(url=f"{receiver.url}/sms/send", headers={"Authorization": "Bearer {token}"},
                         body=template, token="T0K")  # fmt: skip
    channel = SmsChannel(gateway, console_url=CONSOLE, zone="Asia/Shanghai")
    contact = Contact("mgr", ChannelKind.SMS, "+8613800000000")
    detail = channel.send(contact, _message(event_factory))
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    assert receiver.requests[0]["headers"]["Authorization"] == "Bearer T0K"
    assert all(b["mobile"] == "+8613800000000" for b in bodies)
    texts = [b["content"] for b in bodies]
    expected = f"【城市生命线】一级燃气泄漏新告警:A-b1c2,shushan,12-03 10:05。详情 {CONSOLE}/console/alerts/b1c2"
    assert len(expected) == 96  # > 70: two segments, 67 + 29
    assert texts == [expected[:67], expected[67:]]
    assert [b["seq"] for b in bodies] == ["1/2", "2/2"]
    assert detail == "sms 2 segment(s) accepted"


RULES = """
digest_interval_s = 600
timezone = "Asia/Shanghai"
[contacts.night-group]
wecom = "http://127.0.0.1:1/send?key=K"
quiet_hours = "22:00-07:00"
[contacts.duty]
dingtalk = "http://127.0.0.1:1/robot/send?access_token=t"
secret = "s"
[[route]]
owner = "*"
tiers = [1]
levels = [["duty"]]
[[route]]
owner = "*"
tiers = [3]
levels = [["night-group"]]
digest = false
"""


def _shanghai_ms(day: int, hour: int, minute: int = 0) -> int:
    return round(datetime(2026, 12, day, hour, minute, tzinfo=ZoneInfo("Asia/Shanghai")).timestamp() * 1000)


def test_tier3_waits_for_the_end_of_quiet_hours(event_factory: Any) -> None:
    rules = parse_rules(RULES)
    start = _shanghai_ms(3, 23, 0)  # 23:00 in Shanghai = 15:00 UTC
    assert datetime.fromtimestamp(start / 1000, UTC).hour == 15
    clock = ManualClock(start)
    core = NotifierCore(rules, clock)
    assert core.handle(event_factory("q", tier=3, ts=start)) == []  # quiet: held back
    clock.advance(600)
    assert core.tick() == []  # 23:10, still quiet
    clock.advance(8 * 3600 - 600 - 60)  # 06:59
    assert core.tick() == []
    clock.advance(60)  # 07:00: quiet hours are over
    out = core.tick()
    assert [(m.contact, m.digest, [n.event.alert_id for n in m.notices]) for m in out] == [("night-group", True, ["q"])]


def test_quiet_hours_do_not_hold_tier1(event_factory: Any) -> None:
    rules = parse_rules(RULES.replace('levels = [["duty"]]', 'levels = [["night-group"]]'))
    start = _shanghai_ms(3, 23, 0)
    core = NotifierCore(rules, ManualClock(start))
    out = core.handle(event_factory("t1", tier=1, ts=start))
    assert [m.contact for m in out] == ["night-group"] and Tier(out[0].notices[0].event.tier) is Tier.T1


def test_routes_parse_robot_and_sms_contacts() -> None:
    rules = parse_rules(
        RULES + '[contacts.mgr]\nsms = "+8613800000000"\nlanguage = "en"\n[sms]\nurl = "http://127.0.0.1:1/s"\n'
    )
    assert rules.contacts["night-group"].channel is ChannelKind.WECOM
    assert rules.contacts["night-group"].quiet_hours == (22 * 60, 7 * 60)
    assert rules.contacts["duty"].secret == "s"
    assert rules.contacts["mgr"].language == "en" and rules.sms is not None


def test_a_free_standing_notice_goes_out_as_a_card(receiver: Receiver) -> None:
    contact = Contact("bridge-group", ChannelKind.DINGTALK, f"{receiver.url}/robot/send?access_token=t", SECRET)
    message = Message(
        "bridge-group", (), text=("BR-001 健康周报已生成", "运行正常。\n\n报告:https://r.example/BR-001.html")
    )
    RobotChannel(console_url=CONSOLE, zone="Asia/Shanghai").send(contact, message)
    body = json.loads(receiver.requests[0]["body"])
    assert _dingtalk_verify(receiver.requests[0]["path"], SECRET)
    assert body["markdown"]["title"] == "BR-001 健康周报已生成"
    assert body["markdown"]["text"] == "### BR-001 健康周报已生成\n\n运行正常。\n\n报告:https://r.example/BR-001.html"
