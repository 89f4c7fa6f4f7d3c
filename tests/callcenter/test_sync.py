"""mod_callcenter kept in step with the store by a running ``fsivr serve`` (App built as ``serve``
builds it), against the simulator's inbound side over real TCP, on SQLite and PostgreSQL:

* at start the sync reconciles an empty mod_callcenter (queue load, agent add + set ..., tier add);
* a change in the database becomes exactly the commands for that change;
* a restarted FreeSWITCH (a fresh simulator on the same address) is reconciled from the store.

The simulator has no XML: ``reloadxml`` here makes it read the callcenter.conf.xml the server wrote
(as FreeSWITCH would on reloadxml, and at start).
"""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import fields
from pathlib import Path

import gevent
import pytest
from sqlalchemy import delete, select

from fsivr.app import App
from fsivr.config import Config
from fsivr.scenario import repository
from fsivr.store.db import Store
from fsivr.store.models import AccountRow, AgentRow, QueueAgentRow, QueueRow
from fsivr.testing.inbound import InboundSwitch
from fsivr.testing.mods.callcenter import Queue as SimQueue
from fsivr.testing.simulator import Simulator

PASSWORD = "cc-Secret"
BOUND = 15.0  # generous: nothing here depends on how fast the machine is

BUNDLE = """
accounts:
  - {user: "101", password: "pw-101", name: "Anna", extension: "101"}
  - {user: "102", password: "pw-102", name: "Rob", extension: "102", mobile: "+48600100200"}
  - {user: "103", password: "pw-103", name: "Eve", extension: "103"}
gateways:
  - {name: trunk, proxy: sip.example.com}
queues:
  - name: sales@default
    strategy: ring-all
    max_wait: 300
    agents: ["101", {account: "102", level: 2, position: 1}]
agents:
  - {account: "101", status: Available, wrap_up_time: 5}
  - {account: "102", contact: mobile}
"""

CONF = "autoload_configs/callcenter.conf.xml"


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + BOUND
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {BOUND:g} s: {what}")
        gevent.sleep(0.05)


def xml_reader(sim: Simulator, conf_dir: Path) -> Callable[[], str]:
    """``reloadxml`` for the simulator: its mod_callcenter's callcenter.conf.xml becomes the file's
    ``<queues>`` (what ``queue load``/``reload`` read from then on; loaded queues stay as they are)."""
    kinds = {f.name: (f.type if isinstance(f.type, str) else f.type.__name__) for f in fields(SimQueue)}

    def reload(_arg: str = "") -> str:
        sim.callcenter.conf.clear()
        path = conf_dir / CONF
        if path.exists():
            for q in ET.parse(path).getroot().iter("queue"):
                settings: dict[str, object] = {}
                for p in q.iter("param"):
                    attr, value = p.get("name", "").replace("-", "_"), p.get("value", "")
                    if attr in kinds:
                        kind = kinds[attr]
                        settings[attr] = value == "true" if kind == "bool" else int(value) if kind == "int" else value
                sim.callcenter.define_queue(q.get("name", ""), **settings)
        return "+OK [Success]\n"
    return reload


def start_switch(conf_dir: Path, address: tuple[str, int] = ("127.0.0.1", 0)) -> tuple[InboundSwitch, Simulator]:
    sim = Simulator(("127.0.0.1", 1))
    reload = xml_reader(sim, conf_dir)
    # FreeSWITCH reads its configuration when it starts, and mod_callcenter loads every queue of
    # it (mod_callcenter.c load_config).
    reload()
    for name in list(sim.callcenter.conf):
        sim.callcenter.load_queue(name)
    switch = InboundSwitch(password=PASSWORD, sim=sim, api={"reloadxml": reload})
    switch.start(*address)
    return switch, sim


@pytest.fixture
def store(db_url: str, tmp_path: Path) -> Iterator[Store]:
    s = Store(db_url)
    s.upgrade()
    path = tmp_path / "bundle.yaml"
    path.write_text(BUNDLE)
    repository.import_file(s, path)
    yield s
    s.close()


def serve(db_url: str, switch: InboundSwitch, conf_dir: Path) -> App:
    cfg = Config()
    cfg.database_url = db_url
    cfg.esl_host, cfg.esl_port = switch.address
    cfg.esl_password = PASSWORD
    cfg.callcenter_interval = 0.1
    cfg.live_link_max_backoff = 0.2
    cfg.freeswitch_conf_dir = str(conf_dir)
    app = App.build(cfg, port=0, live_link=True)
    app.start()
    return app


def cc_commands(switch: InboundSwitch, since: int = 0) -> list[str]:
    return [line[len("api callcenter_config "):] for _, line in switch.received[since:]
            if line.startswith("api callcenter_config ") and " list" not in line]


def agents_of(sim: Simulator) -> dict[str, tuple[object, ...]]:
    return {a.name: (a.type, a.contact, a.status, a.max_no_answer, a.wrap_up_time, a.reject_delay_time,
                     a.busy_delay_time, a.no_answer_delay_time) for a in sim.callcenter.agents.values()}


def tiers_of(sim: Simulator) -> set[tuple[str, str, int, int]]:
    return {(t.queue, t.agent, t.level, t.position) for t in sim.callcenter.tiers}


EXPECTED_AGENTS = {
    "101": ("callback", "user/101", "Available", 3, 5, 10, 60, 0),
    "102": ("callback", "sofia/gateway/trunk/+48600100200", "Logged Out", 3, 10, 10, 60, 0),
}
EXPECTED_TIERS = {("sales@default", "101", 1, 1), ("sales@default", "102", 2, 1)}


def test_start_change_and_restart(store: Store, db_url: str, tmp_path: Path) -> None:
    conf_dir = tmp_path / "freeswitch"
    switch, sim = start_switch(conf_dir)
    app = serve(db_url, switch, conf_dir)
    try:
        assert app.callcenter is not None and app.link is not None
        # --- start: an empty mod_callcenter gets the store's queue, agents and tiers --------------
        wait_for(lambda: agents_of(sim) == EXPECTED_AGENTS and tiers_of(sim) == EXPECTED_TIERS,
                 "the store's agents and tiers in mod_callcenter")
        assert (conf_dir / CONF).exists() and sim.callcenter.queues["sales@default"].strategy == "ring-all"
        sent = cc_commands(switch)
        assert sent[0] == "queue load sales@default"
        assert switch.calls("api reloadxml") >= 1  # the XML was current before the queue load
        # Statuses with a space are quoted (trace 11: unquoted, 'Logged Out' is two arguments).
        assert "agent set status 102 'Logged Out'" in sent
        assert sent.index("agent set contact 101 user/101") < sent.index("agent set status 101 Available")
        assert "tier add sales@default 102 2 1" in sent
        # Settled: nothing more is sent while nothing changes, and the store is not read either:
        # the directory change counter alone answers each round (one small query).
        rounds, loads = app.callcenter.rounds, app.callcenter.loads
        mark = len(switch.received)
        wait_for(lambda: app.callcenter.rounds >= rounds + 5, "a few more sync rounds")
        assert cc_commands(switch, mark) == []
        assert app.callcenter.loads == loads and app.callcenter.unchanged >= 5

        # --- a database change becomes the commands for that change ---------------------------
        def change(session: object) -> None:
            ids = dict(session.execute(select(AccountRow.user, AccountRow.id)).all())  # type: ignore[attr-defined]
            agent101 = session.scalars(select(AgentRow).where(AgentRow.account_id == ids["101"])).one()  # type: ignore[attr-defined]
            agent101.status = "On Break"
            agent101.max_no_answer = 2
            tier102 = session.scalars(select(QueueAgentRow).where(QueueAgentRow.account_id == ids["102"])).one()  # type: ignore[attr-defined]
            tier102.level = 3
            queue = session.scalars(select(QueueRow)).one()  # type: ignore[attr-defined]
            session.add(AgentRow(account_id=ids["103"], status="Available"))  # type: ignore[attr-defined]
            session.add(QueueAgentRow(queue_id=queue.id, account_id=ids["103"], position=2))  # type: ignore[attr-defined]

        mark = len(switch.received)
        store.run(change)
        wait_for(lambda: sim.callcenter.agents.get("103") is not None and len(sim.callcenter.tiers) == 3
                 and sim.callcenter.agents["101"].status == "On Break", "the change in mod_callcenter")
        wait_for(lambda: app.callcenter.applied is not None, "the change applied")
        assert sorted(cc_commands(switch, mark)) == sorted([
            "agent set max_no_answer 101 2",
            "agent set status 101 'On Break'",
            "tier set level sales@default 102 3",
            "agent add 103 callback",
            "agent set contact 103 user/103",
            "agent set max_no_answer 103 3", "agent set wrap_up_time 103 10",
            "agent set reject_delay_time 103 10", "agent set busy_delay_time 103 60",
            "agent set no_answer_delay_time 103 0",
            "agent set status 103 Available",
            "tier add sales@default 103 1 2",
        ])

        # A queue parameter: the XML is rewritten and re-read, then the queue reloaded.
        mark = len(switch.received)
        reloads = switch.calls("api reloadxml")
        store.run(lambda s: setattr(s.scalars(select(QueueRow)).one(), "max_wait", 120))
        wait_for(lambda: sim.callcenter.queues["sales@default"].max_wait_time == 120, "the queue reloaded")
        wait_for(lambda: app.callcenter.applied is not None, "the reload applied")
        assert cc_commands(switch, mark) == ["queue reload sales@default"]
        assert switch.calls("api reloadxml") == reloads + 1
        assert 'name="max-wait-time" value="120"' in (conf_dir / CONF).read_text()

        # Removals: a tier, then an agent (the account is deleted).
        mark = len(switch.received)

        def remove(session: object) -> None:
            ids = dict(session.execute(select(AccountRow.user, AccountRow.id)).all())  # type: ignore[attr-defined]
            session.execute(delete(QueueAgentRow).where(QueueAgentRow.account_id == ids["102"]))  # type: ignore[attr-defined]
            session.execute(delete(AgentRow).where(AgentRow.account_id == ids["103"]))  # type: ignore[attr-defined]
            session.execute(delete(QueueAgentRow).where(QueueAgentRow.account_id == ids["103"]))  # type: ignore[attr-defined]

        store.run(remove)
        wait_for(lambda: "103" not in sim.callcenter.agents and len(sim.callcenter.tiers) == 1, "the removals")
        assert sorted(cc_commands(switch, mark)) == ["agent del 103", "tier del sales@default 102"]

        # --- FreeSWITCH restarts: a fresh mod_callcenter is reconciled from the store --------------
        address = switch.address
        reconciles = app.callcenter.reconciles
        switch.stop()
        wait_for(lambda: not app.link.connected, "the link notices the switch is gone")
        switch, sim = start_switch(conf_dir, address)
        expected_after = {
            "101": ("callback", "user/101", "On Break", 2, 5, 10, 60, 0),
            "102": EXPECTED_AGENTS["102"],
        }
        wait_for(lambda: agents_of(sim) == expected_after
                 and tiers_of(sim) == {("sales@default", "101", 1, 1)}, "the restarted switch reconciled")
        assert app.callcenter.reconciles > reconciles and app.link.connects == 2
        # The restarted switch read the XML at start: its queue needed no load, only the agents.
        assert not [c for c in cc_commands(switch) if c.startswith("queue")]
    finally:
        app.stop()
        switch.stop()


def test_without_mod_callcenter_it_says_so_once_and_keeps_serving(caplog: pytest.LogCaptureFixture) -> None:
    from fsivr.callcenter.state import CallcenterState, QueueConf
    from fsivr.callcenter.sync import CallcenterSync
    from fsivr.esl.link import EventLink

    switch = InboundSwitch(password=PASSWORD)  # no simulator: no mod_callcenter behind it
    host, port = switch.start()
    link = EventLink(host, port, PASSWORD, timeout=2.0)
    sync = CallcenterSync(link, lambda: CallcenterState(queues={"q": QueueConf("q")}), interval=0.05)
    sync.start()
    link.start()
    try:
        wait_for(lambda: sync.rounds >= 5, "a few sync rounds")
        assert caplog.text.count("FreeSWITCH's lists cannot be read") == 1
        assert sync.applied is None  # still unknown: reconciled once mod_callcenter answers
        assert link.api("reloadxml") == "+OK [Success]\n"  # the link itself is fine
    finally:
        sync.stop()
        link.stop()
        switch.stop()
