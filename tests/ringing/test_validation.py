"""What validation says about ringing nodes (their declarations feed fsivr.scenario.validate)."""

from __future__ import annotations

import pytest

from fsivr import ringing
from fsivr.scenario.bundle import parse_text
from fsivr.scenario.validate import validate_bundle

DIRECTORY = """
accounts:
  - {user: "101", password: "x", extension: "101"}
groups:
  - {name: sales, members: ["101"]}
gateways:
  - {name: trunk}
"""


def errors(nodes: str) -> list[str]:
    text = DIRECTORY + f"""
scenarios:
  - scenario: s
    numbers: ["1"]
    start: n
    nodes:
      n: {nodes}
"""
    return validate_bundle(parse_text(text, "b.yaml")).errors


def test_valid_targets() -> None:
    assert errors('{type: dial, targets: [sip:101, ext:101, "101", group:sales, "+48600100200", '
                  '"tel:0600100200", "gateway:trunk/+48600100200", {target: sales, ring_timeout: 5}]}') == []


@pytest.mark.parametrize("node, message", [
    ("{type: dial, targets: [sip:999]}", "account '999' does not exist"),
    ("{type: dial, targets: [ext:555]}", "extension '555' does not exist"),
    ("{type: dial, targets: [group:nope]}", "group 'nope' does not exist"),
    ("{type: dial, targets: [gateway:nope/+48600100200]}", "gateway 'nope' does not exist"),
    ("{type: dial, targets: ['1,2']}", "is not sip:USER"),
    ("{type: dial, targets: ['sip:a|b']}", "not a valid account user"),
    ("{type: dial, targets: []}", "needs at least one target"),
    ("{type: dial, targets: [sip:101], weights: [1, 2]}", "gives 2 weights for 1 targets"),
    ("{type: dial, targets: [sip:101], strategy: round_robin}", "must be one of"),
    ("{type: dial, targets: [sip:101], ring_timeout: 0}", "between 1 and 600"),
    ("{type: dial, targets: [sip:101], caller_id: 'ACME Ltd'}", "caller_id must be a phone number"),
    ("{type: forward, number: '+48 600'}", "must be a phone number"),
    ("{type: forward, number: '+48600100200', gateway: nope}", "gateway 'nope' does not exist"),
    ("{type: group, group: nope}", "group 'nope' does not exist"),
    ("{type: extension, digits: 0}", "between 1 and 10"),
    ("{type: responsible_manager, mobile_after: 900}", "between 0 and 600"),
    ("{type: any_manager, retry_interval: 0}", "between 1 and 60"),
])
def test_invalid(node: str, message: str) -> None:
    found = errors(node)
    assert any(message in e for e in found), found


def test_parse_target_kinds() -> None:
    assert ringing.parse_target("sip:101") == ringing.Target("sip", "101", "sip:101")
    assert ringing.parse_target("101").kind == "bare"
    assert ringing.parse_target("+48600100200").kind == "number"
    assert ringing.parse_target("gateway:gw/+48600").gateway == "gw"
