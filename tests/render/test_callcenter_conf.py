"""render-conf's callcenter.conf.xml: golden output for queues, agents (local and remote) and
tiers; hostile values stay text; what cannot be reached is refused; unchanged → not rewritten."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fsivr.render.conf import CALLCENTER_CONF, ConfData, RenderError, load_data, render, write
from fsivr.store.db import Store
from fsivr.store.directory import Account, Agent, Queue, QueueAgent

from .conftest import SMALL, config, make_store

GOLDEN = Path(__file__).parent / "golden" / "callcenter.xml"

QUEUES = SMALL.replace("gateways:", """
  - {user: "102", password: "secret-102", name: "Remote Rob", extension: "102", mobile: "+48600100200"}
queues:
  - name: sales@default
    strategy: ring-all
    music: local_stream://moh
    max_wait: 300
    max_wait_no_agent: 60
    max_wait_no_agent_reached: 10
    tier_rules_apply: true
    tier_rule_wait_second: 20
    discard_abandoned_after: 120
    abandoned_resume_allowed: true
    params: {time-base-score: system, agent-no-answer-status: On Break}
    agents: ["101", {account: "102", level: 2, position: 3}]
  - {name: support, agents: ["101"]}
agents:
  - {account: "101", status: Available, wrap_up_time: 5}
  - {account: "102", contact: mobile, gateway: trunk, max_no_answer: 1, no_answer_delay_time: 30}
gateways:""", 1)


def rendered(tmp_path: Path) -> dict[str, str]:
    url = make_store(tmp_path, QUEUES)
    store = Store(url)
    try:
        data = store.run(load_data)
    finally:
        store.close()
    return render(data, config(url))


def test_golden(tmp_path: Path) -> None:
    """FSIVR_UPDATE_GOLDEN=1 rewrites the golden file after an intended change (review the diff)."""
    text = rendered(tmp_path)[CALLCENTER_CONF]
    if os.environ.get("FSIVR_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()


def test_what_mod_callcenter_reads(tmp_path: Path) -> None:
    root = ET.fromstring(rendered(tmp_path)[CALLCENTER_CONF])
    cfg = root.find("configuration")
    assert cfg is not None and cfg.get("name") == "callcenter.conf"
    queues = {q.get("name"): {p.get("name"): p.get("value") for p in q.iter("param")} for q in cfg.iter("queue")}
    assert queues["sales@default"]["strategy"] == "ring-all"
    assert queues["sales@default"]["max-wait-time-with-no-agent-time-reached"] == "10"
    assert queues["sales@default"]["tier-rules-apply"] == "true"
    assert queues["sales@default"]["agent-no-answer-status"] == "On Break"
    # A queue that sets nothing still states mod_callcenter's defaults, and no moh of its own.
    assert queues["support"]["strategy"] == "longest-idle-agent"
    assert queues["support"]["discard-abandoned-after"] == "60"
    assert "moh-sound" not in queues["support"]
    agents = {a.get("name"): a.attrib for a in cfg.iter("agent")}
    assert agents["101"]["contact"] == "user/101"  # sip_domain $${domain} = the default domain
    assert agents["102"]["contact"] == "sofia/gateway/trunk/+48600100200"
    assert agents["102"]["max-no-answer"] == "1" and agents["102"]["no-answer-delay-time"] == "30"
    # The status is live state, set by fsivr serve; a queue reload must not reset it.
    assert all("status" not in a for a in agents.values())
    tiers = sorted((t.get("queue"), t.get("agent"), t.get("level"), t.get("position")) for t in cfg.iter("tier"))
    assert tiers == [("sales@default", "101", "1", "1"), ("sales@default", "102", "2", "3"),
                     ("support", "101", "1", "1")]


def test_hostile_values_stay_text() -> None:
    hostile = 'x" /><param name="strategy" value="random"/> $${hostname} ${system(id)}'
    data = ConfData(accounts=[Account("101", password="p")], agents=[Agent("101")],
                    queues=[Queue("q1", music=hostile, params={"record-template": hostile},
                                  agents=[QueueAgent("101")])])
    text = render(data, config("sqlite://"))[CALLCENTER_CONF]
    assert "$" not in text
    params = {p.get("name"): p.get("value") for p in ET.fromstring(text).iter("param")}
    assert params["moh-sound"] == hostile and params["strategy"] == "longest-idle-agent"


def test_an_unreachable_remote_agent_or_a_bad_queue_name_is_refused() -> None:
    data = ConfData(accounts=[Account("101", password="p")], agents=[Agent("101", contact="mobile")],
                    queues=[Queue("bad name")])
    with pytest.raises(RenderError) as exc:
        render(data, config("sqlite://"))
    assert any("agent '101'" in p for p in exc.value.problems)
    assert any("queue 'bad name'" in p for p in exc.value.problems)


def test_unchanged_is_not_rewritten(tmp_path: Path) -> None:
    files = rendered(tmp_path)
    out = tmp_path / "conf"
    assert CALLCENTER_CONF in write(files, out)
    mtime = (out / CALLCENTER_CONF).stat().st_mtime_ns
    assert write(rendered(tmp_path / "again"), out) == []
    assert (out / CALLCENTER_CONF).stat().st_mtime_ns == mtime
