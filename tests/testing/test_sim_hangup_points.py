"""Hangup.on_command: the caller hangs up as a command reaches the switch, before or after its reply
(the points of the hangup matrix, tests/engine/test_hangup_matrix.py)."""

from __future__ import annotations

from fsivr.testing import CallScript, Hangup
from fsivr.testing.harness import running

BUNDLE = """
scenarios:
  - scenario: hello
    numbers: ["1"]
    start: hi
    nodes:
      hi: {type: play, text: "Hello", next: bye}
      bye: {type: hangup}
"""


def frames_after(wire: list[tuple[str, bytes]], marker: bytes) -> list[bytes]:
    """What the switch wrote after the server's command holding ``marker``."""
    at = next(i for i, (way, data) in enumerate(wire) if way == "send" and marker in data)
    return [data for way, data in wire[at + 1:] if way == "recv"]


def test_hangup_before_or_after_the_reply_to_a_command() -> None:
    with running(BUNDLE) as h:
        before = h.call(CallScript(number="1", record=True, hangup=Hangup(on_command="playback", cause="USER_BUSY")))
        after = h.call(CallScript(number="1", record=True,
                                  hangup=Hangup(on_command="playback", before_reply=False, cause="USER_BUSY")))
    for placed, first in ((before, b"Event-Name: CHANNEL_HANGUP\n"), (after, b"Reply-Text: +OK")):
        result = placed.result
        assert result.ok and (result.hangup_by, result.hangup_cause) == ("caller", "USER_BUSY")
        frames = frames_after(result.wire, b"execute-app-name: playback")
        assert first in frames[0], frames[:2]
        # Queued but never run: no CHANNEL_EXECUTE of the playback (freeswitch-notes section 7).
        assert not any(b"Application: playback" in f for f in frames)
        assert [a.name for a in result.apps if a.name == "playback"] == []
        # The count of commands that had arrived at the hangup includes the playback's sendmsg.
        assert b"execute-app-name: playback" in result.commands[result.commands_at_hangup - 1]
        assert result.commands[result.commands_at_hangup:] == [b"exit\n\n"]
        assert placed.path == [("hi", "hangup")]
