"""agent_menu: the agent IVR's status menu, for the agent an agent_login let in on this call.

Keys (spec §5) and what each does to the agent's mod_callcenter status (applied with
``callcenter_config agent set status`` over the live link and saved in the store):

* 1 — end the work session *on this phone*: the call ends, the status stays as it is (Available
  after a log-in), so the agent keeps taking queue calls; outcome ``ended``;
* 2 — change the PIN: entered twice, saved (hashed) when both agree; back to the menu;
* 3 — temporarily not ready (a break): ``On Break``; outcome ``on_break``;
* 4 — not ready: also ``On Break`` — mod_callcenter has only Logged Out, Available,
  Available (On Demand) and On Break, and only On Break keeps the agent logged in yet offered no
  call; the store keeps the difference (``status_reason`` ``not_ready`` vs ``break``) for people
  and reports; outcome ``not_ready``;
* \\* — log out: ``Logged Out``; outcome ``logged_out``.

No key or a wrong key replays the menu, up to ``max_attempts`` times, then ``timeout``.
"""

from __future__ import annotations

import logging

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.speech.agent import sentence, status_key

log = logging.getLogger("fsivr.nodes.agent_menu")

#: key → (mod_callcenter status, the store's reason, outcome)
STATUS_KEYS = {"3": ("On Break", "break", "on_break"), "4": ("On Break", "not_ready", "not_ready"),
               "*": ("Logged Out", None, "logged_out")}
MAX_PIN = 16


@register
class AgentMenu(Node):
    type = "agent_menu"
    summary = ("agent IVR menu after agent_login: 1 end the call, 2 change PIN, 3 break, 4 not ready "
               "(both On Break), * log out")
    params = {
        "language": Param(str, doc="language of what the agent hears (default: the configured language)"),
        "voice": Param(str, doc="TTS voice (overrides the language's voice)"),
        "max_attempts": Param(int, default=3, between=(1, 10), doc="menu replays on no key or a wrong key"),
        "input_timeout": Param(float, default=7.0, between=(0, 60), low_open=True, unit="seconds",
                               doc="seconds to wait for a key"),
        "digit_timeout": Param(float, default=3.0, between=(0, 60), low_open=True, unit="seconds",
                               doc="seconds between the keys of a new PIN"),
        "min_pin_digits": Param(int, default=4, between=(3, MAX_PIN), doc="shortest new PIN (key 2)"),
    }
    outcomes = ("ended", "on_break", "not_ready", "logged_out", "timeout")
    waits = True
    ending_outcomes = ("ended", "on_break", "not_ready", "logged_out")

    def _playable(self, call: Call, *keys: str) -> str:
        language = self.p["language"] or call.services.config.language
        text = " ".join(sentence(k, language, min=self.p["min_pin_digits"]) for k in keys)
        return call.playable(text=text, language=language, voice=self.p["voice"])

    def run(self, call: Call) -> str:
        agent = call.vars.get("agent")
        if not agent:
            raise ValueError("agent_menu: no agent logged in on this call (an agent_login must come first)")
        desk = call.services.agents
        if desk is None:
            raise RuntimeError("agent_menu needs fsivr's store (agent statuses)")
        call.answer()
        call.step_detail["agent"] = agent
        misses = 0
        while misses < self.p["max_attempts"]:
            got = call.collect(self._playable(call, "menu"), min_digits=1, max_digits=1, tries=1,
                               timeout=self.p["input_timeout"], terminators="none", regex=r"[1-4*]",
                               invalid="silence_stream://10")
            key = got.digits
            if not key:
                misses += 1
                continue
            call.step_detail["key"] = key
            if key == "1":
                found = call.services.data.agent(agent)
                said = status_key(found.status, found.status_reason) if found is not None else "available"
                call.step_detail["status"] = found.status if found is not None else None
                call.play(self._playable(call, said, "goodbye"))
                return "ended"
            if key == "2":
                call.step_detail["pin"] = self._change_pin(call, agent)
                misses = 0
                continue
            status, reason, outcome = STATUS_KEYS[key]
            applied = desk.set_status(agent, status, reason, call.api, at=call.now())
            call.step_detail.update(status=status, applied=applied)
            call.play(self._playable(call, status_key(status, reason), "goodbye"))
            return outcome
        return "timeout"

    def _change_pin(self, call: Call, agent: str) -> str:
        """Key 2: the new PIN twice; what happened (changed, mismatch, invalid, no_input)."""
        shortest = self.p["min_pin_digits"]
        entries = []
        for key in ("new_pin", "repeat_pin"):
            got = call.collect(self._playable(call, key), min_digits=1, max_digits=MAX_PIN, tries=1,
                               timeout=self.p["input_timeout"], terminators="#", regex=r"\d+",
                               digit_timeout=self.p["digit_timeout"], invalid="silence_stream://10", secret=True)
            if got.invalid or (got.digits and len(got.digits) < shortest):
                call.play(self._playable(call, "pin_invalid"))
                return "invalid"
            if not got.digits:
                return "no_input"
            entries.append(got.digits)
        if entries[0] != entries[1]:
            call.play(self._playable(call, "pin_mismatch"))
            return "mismatch"
        if not call.services.data.set_agent_pin(agent, entries[0]):
            raise LookupError(f"agent {agent!r} is no longer in the store")
        log.info("call %s: agent %s changed the agent IVR PIN", call.uuid, agent)
        call.play(self._playable(call, "pin_changed"))
        return "changed"
