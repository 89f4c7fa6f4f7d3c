"""Bundle sections for mod_callcenter: queue parameters, agents, and what is refused (with lines);
stored and read back on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from fsivr.scenario import repository
from fsivr.scenario.bundle import BundleError, parse_text
from fsivr.scenario.validate import Known, validate_bundle
from fsivr.store.db import Store
from fsivr.store.directory import Agent, load_agents, load_queues

BUNDLE = """\
accounts:
  - {user: "101", password: "pw", extension: "101"}
  - {user: "102", password: "pw", extension: "102", mobile: "+48600100200"}
  - {user: "103", password: "pw", extension: "103"}
gateways:
  - {name: trunk, proxy: sip.example.com}
queues:
  - name: sales@default
    strategy: top-down
    music: local_stream://moh
    max_wait: 300
    max_wait_no_agent: 60
    max_wait_no_agent_reached: 10
    tier_rules_apply: true
    tier_rule_wait_second: 20
    tier_rule_wait_multiply_level: true
    tier_rule_no_agent_no_wait: false
    discard_abandoned_after: 120
    abandoned_resume_allowed: true
    params: {time-base-score: system, ring-progressively-delay: 5}
    agents: ["101", {account: "102", level: 2, position: 3}, "103"]
agents:
  - {account: "101", status: Available, wrap_up_time: 5, max_no_answer: 2}
  - {account: "102", contact: mobile, gateway: trunk, busy_delay_time: 30, reject_delay_time: 1,
     no_answer_delay_time: 15}
"""


def test_parsed_and_valid() -> None:
    bundle = parse_text(BUNDLE, "q.yaml")
    assert validate_bundle(bundle).ok
    q = bundle.directory.queues[0]
    assert (q.strategy, q.max_wait_no_agent_reached, q.tier_rule_no_agent_no_wait, q.abandoned_resume_allowed) == \
        ("top-down", 10, False, True)
    assert q.params == {"time-base-score": "system", "ring-progressively-delay": 5}
    assert bundle.directory.agents[1] == Agent("102", contact="mobile", gateway="trunk", busy_delay_time=30,
                                               reject_delay_time=1, no_answer_delay_time=15)


def test_stored_and_read_back(db_url: str, tmp_path: Path) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(BUNDLE)
    store = Store(db_url)
    try:
        store.upgrade()
        repository.import_file(store, path)
        queues = store.run(load_queues)
        agents = store.run(load_agents)
    finally:
        store.close()
    assert queues["sales@default"] == parse_text(BUNDLE).directory.queues[0]
    assert agents["101"] == Agent("101", status="Available", wrap_up_time=5, max_no_answer=2)
    # Named only under the queue: an agent with the defaults (Logged Out until they log in).
    assert agents["103"] == Agent("103", status="Logged Out")


def test_shape_errors() -> None:
    with pytest.raises(BundleError) as err:
        parse_text("""\
queues:
  - {name: "bad name", strategy: sequentially-by-next-agent-order, params: {moh-sound: x, bogus: 1}}
  - {name: q2, agents: [{account: "101", level: 0}], params: {agent-no-answer-status: Away}}
agents:
  - {account: "101", status: Busy, contact: phone, colour: red}
""", "e.yaml")
    problems = err.value.problems
    assert any(p.startswith("e.yaml:2: queues[0].name: queue 'bad name': use letters") for p in problems)
    # Not a strategy of mod_callcenter 1.11.1 (it would silently fall back to another order).
    assert any(p.startswith("e.yaml:2: queues[0].strategy: must be one of ring-all") for p in problems)
    assert any(p.startswith("e.yaml:2: queues[0].params.moh-sound: not a mod_callcenter queue parameter fsivr "
                            "passes on; use `music`") for p in problems)
    assert any(p.startswith("e.yaml:2: queues[0].params.bogus: not a mod_callcenter") for p in problems)
    assert any(p.startswith("e.yaml:3: queues[1].agents[0].level: must be a whole number >= 1") for p in problems)
    assert any(p.startswith("e.yaml:3: queues[1].params.agent-no-answer-status: must be one of") for p in problems)
    assert any(p.startswith("e.yaml:5: agents[0].status: must be one of Logged Out") for p in problems)
    assert any(p.startswith("e.yaml:5: agents[0].contact: must be one of sip, mobile") for p in problems)
    assert any(p.startswith("e.yaml:5: agents[0].colour: unknown key") for p in problems)


def test_agent_references() -> None:
    bundle = parse_text("""\
accounts:
  - {user: "101", password: "pw"}
agents:
  - {account: "101", contact: mobile, gateway: nogw}
  - {account: "999"}
  - {account: "101"}
""", "r.yaml")
    errors = validate_bundle(bundle, Known(extensions={})).errors
    assert "r.yaml:4: agents[0]: account '101' has no mobile number to ring a remote agent on" in errors
    assert "r.yaml:4: agents[0]: gateway 'nogw' does not exist" in errors
    assert "r.yaml:5: agents[1]: account '999' does not exist" in errors
    assert "r.yaml:6: agents[2]: agent account '101' appears more than once" in errors
