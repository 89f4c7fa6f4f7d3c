"""The exit node: leaving the IVR to the number's destination, with our channel variables cleared."""

from __future__ import annotations

from datetime import UTC, datetime

from fsivr.config import Config
from fsivr.testing import Hangup
from fsivr.testing.harness import running

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


EXIT_BUNDLE = """
scenarios:
  - scenario: leave
    numbers: [{number: "700", exit_destination: "200 XML default"}, "701"]
    start: hello
    nodes:
      hello: {type: play, text: "Hello", next: out}
      out: {type: exit}
"""


def test_exit_to_a_destination_transfers_clears_our_variables_and_follows_the_call() -> None:
    with running(EXIT_BUNDLE) as harness:
        placed = harness.call(number="700", at=NOW)
        result = placed.result
        assert placed.path == [("hello", "next"), ("out", "exit")]
        names = [a.name for a in result.apps]
        # what we set for TTS is cleared before the dialplan gets the call back
        assert names.index("multiunset") < names.index("transfer")
        cleared = next(a.arg for a in result.apps if a.name == "multiunset").split()
        assert {"tts_engine", "tts_voice"} <= set(cleared)
        assert result.transferred_to == "200 XML default"
        assert not any(c.startswith(b"api uuid_kill") for c in result.commands)
        assert placed.record["hangup_by"] != "server"


def test_exit_without_destination_ends_the_session_without_hanging_up() -> None:
    with running(EXIT_BUNDLE) as harness:
        placed = harness.call(number="701", at=NOW)
        assert placed.path == [("hello", "next"), ("out", "exit")]
        assert not any(c.startswith(b"api uuid_kill") for c in placed.result.commands)
        assert placed.result.commands[-1].strip() == b"exit"
        assert placed.record["hangup_by"] in ("ivr_exit", "socket")


def test_caller_hangs_up_during_exit_transfer() -> None:
    with running(EXIT_BUNDLE) as harness:
        placed = harness.call(number="700", at=NOW, hangup=Hangup(on_app="transfer"))
        assert placed.path[-1][0] == "out"
        assert placed.record is not None


def test_exit_without_destination_goes_to_the_default_exit_destination() -> None:
    # The number has no exit_destination: the configured default takes the call, as the dialplan
    # rendered for it does after `socket` (fsivr.render.conf).
    with running(EXIT_BUNDLE, config=Config(default_exit_destination="9196 XML default")) as harness:
        placed = harness.call(number="701", at=NOW)
        assert placed.path == [("hello", "next"), ("out", "exit")]
        assert placed.result.transferred_to == "9196 XML default"
        placed = harness.call(number="700", at=NOW)  # its own destination still wins
        assert placed.result.transferred_to == "200 XML default"
