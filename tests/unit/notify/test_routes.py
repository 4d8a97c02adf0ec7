from __future__ import annotations

import pytest

from lifeline.models import AlertKind, Tier
from lifeline.notify.exceptions import RoutesError
from lifeline.notify.routes import ChannelKind, parse_rules

RULES = """
digest_interval_s = 600
[contacts.duty]
webhook = "http://127.0.0.1:1/hook"
secret = "k"
[contacts.regulator]
email = "reg@example.org"
[contacts.boss]
email = "boss@example.org"
[contacts.desk]
email = "desk@example.org"
[contacts.analysts]
email = "an@example.org"
[contacts.devices]
email = "dev@example.org"

[[route]]
owner = "hefei-gas"
tiers = [1, 2, 3]
kinds = ["sensor_fault"]
levels = [["devices"]]
[[route]]
owner = "hefei-gas"
tier = 1
levels = [["duty", "regulator"], ["boss"]]
[[route]]
owner = "hefei-gas"
tier = 2
levels = [["desk"]]
[[route]]
owner = "*"
tier = 3
levels = [["analysts"]]
"""


def test_first_matching_route_wins(event_factory):
    rules = parse_rules(RULES)
    assert rules.contacts["duty"].channel is ChannelKind.WEBHOOK
    assert rules.route_for(event_factory(tier=1)).levels[0] == ("duty", "regulator")
    assert rules.route_for(event_factory(tier=2)).levels == (("desk",),)
    assert rules.route_for(event_factory(tier=3, owner="someone")).levels == (("analysts",),)
    assert rules.route_for(event_factory(tier=1, kind=AlertKind.SENSOR_FAULT)).levels == (("devices",),)
    assert rules.route_for(event_factory(tier=1, owner="someone")) is None


def test_defaults_escalate_tier1_and_digest_tier3(event_factory):
    rules = parse_rules(RULES)
    t1 = rules.route_for(event_factory(tier=1))
    t3 = rules.route_for(event_factory(tier=3, owner="x"))
    assert rules.escalation_wait_s(t1, Tier.T1) == 300.0
    assert rules.escalation_wait_s(t3, Tier.T3) is None
    assert t3.digests(Tier.T3) and not t1.digests(Tier.T1)
    assert rules.digest_interval_s == 600


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[route]]\nowner="x"\ntier=1\nlevels=[["nobody"]]', "unknown contact"),
        ('[contacts.a]\nemail="a@b"\n[[route]]\nowner="x"\ntier=7\nlevels=[["a"]]', "tiers must be"),
        ('[contacts.a]\nwebhook="http://x"\n[[route]]\nowner="x"\ntier=1\nlevels=[["a"]]', "needs secret"),
        ('[contacts.a]\nemail="a@b"\nwebhook="http://x"', "exactly one"),
        ("digest_interval_s = 5", "no [[route]]"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_problems_are_explained(text, message):
    with pytest.raises(RoutesError, match=message.replace("[", r"\[")):
        parse_rules(text)


def test_the_notify_command_checks_a_routing_file_and_names_the_setting_when_none_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pathlib import Path

    from typer.testing import CliRunner

    from lifeline.cli import app

    example = Path(__file__).resolve().parents[3] / "notify" / "routes.example.toml"
    monkeypatch.setenv("HEFEI_GAS_HOOK_SECRET", "s" * 32)  # the example's webhook secret comes from the environment
    checked = CliRunner().invoke(app, ["notify", "--check", "--routes", str(example)])
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("ok: ")
    monkeypatch.setenv("LIFELINE_NOTIFY_ROUTES_PATH", str(example))
    assert CliRunner().invoke(app, ["notify", "--check"]).exit_code == 0
    monkeypatch.delenv("LIFELINE_NOTIFY_ROUTES_PATH")
    missing = CliRunner().invoke(app, ["notify", "--check"])
    assert missing.exit_code == 2
    assert "LIFELINE_NOTIFY_ROUTES_PATH" in missing.output


def test_the_example_routes_anomaly_alerts_to_the_analyst_desk_one_by_one(event_factory):
    from pathlib import Path

    from lifeline.models import Tier

    example = Path(__file__).resolve().parents[3] / "notify" / "routes.example.toml"
    secret = 'secret = "' + "s" * 32 + '"'
    rules = parse_rules(example.read_text(encoding="utf-8").replace('secret_env = "HEFEI_GAS_HOOK_SECRET"', secret))
    route = rules.route_for(event_factory(tier=3, kind=AlertKind.ANOMALY, owner="hefei-gas"))
    assert route is not None and route.levels == (("analyst-desk",),) and not route.digests(Tier.T3)
    assert rules.route_for(event_factory(tier=3, kind=AlertKind.WATERLOGGING)).levels == (("analyst-queue",),)
