"""What ringing sets on the channel is unset before the dialplan takes the call back (exit node)."""

from __future__ import annotations

from datetime import UTC, datetime

from fsivr.testing import Target
from fsivr.testing.harness import running

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)

BUNDLE = """
accounts:
  - {user: "101", password: "pw-101", extension: "101"}
scenarios:
  - scenario: ring-then-leave
    numbers: [{number: "800", exit_destination: "200 XML default"}]
    start: d
    nodes:
      d: {type: dial, targets: [sip:101], ring_timeout: 5, answered: out, no_answer: out, busy: out, failed: out}
      out: {type: exit}
"""

RINGING_VARS = {"continue_on_fail", "hangup_after_bridge", "ringback", "transfer_ringback"}


def test_ringing_variables_do_not_outlive_the_ivr() -> None:
    # Left set, continue_on_fail/hangup_after_bridge/ringback would change what the number's own
    # dialplan (here "200 XML default") does with its bridges.
    with running(BUNDLE) as harness:
        placed = harness.call(number="800", at=NOW, targets={"sip:101": Target("no_answer")})
    result = placed.result
    assert placed.path == [("d", "no_answer"), ("out", "exit")]
    names = [a.name for a in result.apps]
    assert names.index("bridge") < names.index("multiunset") < names.index("transfer")
    cleared = set(next(a.arg for a in result.apps if a.name == "multiunset").split())
    assert cleared >= RINGING_VARS
    # Set only through Call.set_channel_vars (which is what records them for the exit node).
    for app in result.apps[:names.index("bridge")]:
        if app.name in ("multiset", "set"):
            assert {pair.split("=", 1)[0] for pair in (app.arg or "").split()} <= cleared
    assert not RINGING_VARS & {k for k, v in result.variables.items() if v}
    assert result.transferred_to == "200 XML default"


def test_configured_ringback_reaches_freeswitch_for_expansion() -> None:
    """The operator's ringback may name a FreeSWITCH tone variable (vars.xml's us-ring): it is
    configuration, not caller text, so it is passed for FreeSWITCH to expand."""
    from fsivr.config import Config
    from fsivr.testing.harness import running

    cfg = Config()
    cfg.ringback = "${us-ring}"
    bundle = """
accounts:
  - {user: "101", password: "pw", extension: "101"}
scenarios:
  - scenario: r
    numbers: ["900"]
    start: d
    nodes:
      d: {type: dial, targets: [sip:101], answered: z, no_answer: z, busy: z, failed: z}
      z: {type: hangup}
"""
    with running(bundle, config=cfg) as harness:
        placed = harness.call(number="900")
    # Sent as written; FreeSWITCH (simulated) expanded it to the tone from vars.xml.
    [sent] = [c for c in placed.result.commands if b"continue_on_fail" in c]
    assert b"ringback=${us-ring}" in sent
    [setup] = [a for a in placed.result.apps if a.name == "multiset" and "continue_on_fail" in (a.arg or "")]
    assert "ringback=%(2000,4000,440,480)" in setup.arg
