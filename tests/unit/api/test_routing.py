from __future__ import annotations

import pytest

from lifeline.api.exceptions import RulesError
from lifeline.api.routing import ChannelKind, parse_rules
from lifeline.models import AlertKind, Tier

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
    with pytest.raises(RulesError, match=message.replace("[", r"\[")):
        parse_rules(text)
