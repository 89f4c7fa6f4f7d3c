"""Fixtures for the scenario tests: an upgraded store per database kind, and test-only node types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.registry import node_types, register
from fsivr.store.db import Store


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An empty store migrated to head, on SQLite and on PostgreSQL."""
    s = Store(db_url)
    s.upgrade()
    yield s
    s.close()


# Node types for these tests only (the real ones in fsivr/nodes are tested there): small, with the
# reference kinds validation has to check. Registered once, when pytest loads this conftest.


def _define() -> None:
    if "test_play" in node_types():
        return

    @register
    class TestPlay(Node):
        type = "test_play"
        summary = "play a prompt (test)"
        params = {"prompt": Param(str, required=True, ref="prompt", doc="prompt to play"),
                  "volume": Param(int, default=0, doc="dB")}
        outcomes = ("next",)
        waits = True

    @register
    class TestMenu(Node):
        type = "test_menu"
        summary = "menu (test)"
        params = {"prompt": Param(str, required=True, ref="prompt"), "input_timeout": Param(float, default=5.0)}
        outcomes = ("timeout", "invalid")
        option_outcomes = True
        waits = True

        def compile(self) -> None:
            self.options: dict[str, Any] = self.p.get("options") or {}
            if not self.options:
                raise self.error("a menu needs options", "options")

        def extra_outcomes(self) -> tuple[str, ...]:
            return tuple(self.options)

    @register
    class TestDial(Node):
        type = "test_dial"
        summary = "ring targets (test)"
        params = {"targets": Param(list, required=True, doc="who to ring"),
                  "ring_timeout": Param(int, default=20)}
        outcomes = ("answered", "no_answer", "busy", "failed")
        waits = True

        def compile(self) -> None:
            for t in self.p["targets"]:
                self.refs.append(Ref("target", str(t), "targets"))

    @register
    class TestGroup(Node):
        type = "test_group"
        params = {"group": Param(str, required=True, ref="group")}
        outcomes = ("answered", "no_answer")
        waits = True

    @register
    class TestVoicemail(Node):
        type = "test_voicemail"
        params = {"box": Param(str, required=True, ref="mailbox"), "queue": Param(str, ref="queue"),
                  "gateway": Param(str, ref="gateway")}
        outcomes = ("next",)
        waits = True

    @register
    class TestSet(Node):
        type = "test_set"
        params = {"variables": Param(dict, default={})}
        outcomes = ("next",)
        runs_after_call = True

    @register
    class TestGoto(Node):
        type = "test_goto"
        params = {"scenario": Param(str, required=True, ref="scenario")}
        outcomes = ()
        terminal = True

    @register
    class TestHangup(Node):
        type = "test_hangup"
        params = {"cause": Param(str, default="NORMAL_CLEARING")}
        outcomes = ()
        terminal = True


_define()
