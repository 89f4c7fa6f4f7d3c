"""User text never reaches FreeSWITCH's variable expansion or argument splitting as code.

The simulator expands application arguments as FreeSWITCH does (switch_channel_expand_variables_check,
including ``${api(args)}``, which real FreeSWITCH runs) and records any API run that way; every test
here asserts none ran and that the application got exactly the intended text.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fsivr.testing import expand as sim_expand
from fsivr.testing.harness import running

HOSTILE = "${system(touch /tmp/pwned)}"
TEXT = "it's \\ ${system(id)} $$5 '${uuid}'"

BUNDLE = f"""
scenarios:
  - scenario: inject
    numbers: ["600"]
    start: greet
    nodes:
      greet: {{type: set, variables: {{who: "Hello {{{{ caller_name }}}}", raw: "{{{{ caller_name }}}}"}}, next: say}}
      say: {{type: play, text: {TEXT!r}, next: ask}}
      ask: {{type: menu, text: {TEXT!r}, options: {{"1": bye}}, max_attempts: 1, timeout: bye, invalid: bye}}
      bye: {{type: hangup}}
"""
NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)


def test_hostile_caller_id_and_texts_are_inert() -> None:
    with running(BUNDLE) as harness:
        placed = harness.call(number="600", caller_name=HOSTILE, digits=["1"], at=NOW)
    result = placed.result
    assert placed.path == [("greet", "next"), ("say", "next"), ("ask", "1"), ("bye", "hangup")]
    assert result.api_expansions == [], result.api_expansions
    # The prompt text arrives exactly as written, in playback and inside play_and_get_digits.
    [play] = [a for a in result.apps if a.name == "playback"]
    assert play.arg == "say:" + TEXT
    [menu] = [a for a in result.apps if a.name == "play_and_get_digits"]
    assert sim_expand.separate_string(menu.arg, 11)[5] == "say:" + TEXT
    # The variables hold the caller's text; referenced later from a dialplan (${fsivr_who}),
    # FreeSWITCH's expansion yields that text and runs nothing.
    stored = result.variables["fsivr_who"]
    calls: list[tuple[str, str]] = []

    class Channel:
        def get_var(self, name: str) -> str | None:
            return stored if name == "fsivr_who" else None

    assert sim_expand.expand(Channel(), "${fsivr_who}", lambda n, a: calls.append((n, a)) or "") == f"Hello {HOSTILE}"
    assert calls == []


def test_the_simulator_really_runs_api_expansions() -> None:
    """Guard for the test above: an unescaped ${system(...)} is caught by the simulator."""
    class Channel:
        def get_var(self, name: str) -> str | None:
            return None

    calls: list[tuple[str, str]] = []
    sim_expand.expand(Channel(), "say:" + HOSTILE, lambda n, a: calls.append((n, a)) or "")
    assert calls == [("system", "touch /tmp/pwned")]
