"""agent_login: a queue agent logs in by phone (agent number + PIN) and becomes Available.

The agent number is the agent's account user (``101``), as mod_callcenter names agents. Calling
from the agent's own phone (the caller ID is the account's user or extension, as an internal call
shows it) skips the number prompt (``identify_by_caller_id``); the PIN is asked all the same — a
caller ID is easily forged. PINs are scrypt hashes in the store (``fsivr pin agent 101``, a
bundle's ``pin_hash``, or the agent_menu's key 2); an agent without one cannot log in by phone.

Wrong PINs are counted per agent in the store (key ``agent:<number>``), across calls and servers:
after ``lockout_after`` within ``lockout_window`` seconds that agent is refused without a PIN being
asked until the window has moved past them — and only that agent: others log in as before, from
any phone. An unknown agent number is answered exactly like a wrong PIN (and counted the same
way), so the IVR does not tell which numbers are agents.

On success the agent's status becomes ``Available`` (``set_available``) in mod_callcenter and in
the store, and ``agent`` is set for the agent_menu that follows.
"""

from __future__ import annotations

import logging

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.speech.agent import sentence

log = logging.getLogger("fsivr.nodes.agent_login")

#: A well-formed hash no PIN matches (random salt and digest): an unknown agent's PIN is checked
#: against it, so a wrong agent number takes as long as a wrong PIN.
_NO_AGENT = "scrypt$16384$8$1$eW3M1y2fQ8mJ0pRkT4cL7w$kq1Z0b9cPz3s8XgYf2WvN5hT6jR4uL1aE7dQ0oM9iBc"
#: What a keypad can give as an agent number (account users are digits for phone agents).
MAX_AGENT_DIGITS = 16


@register
class AgentLogin(Node):
    type = "agent_login"
    summary = "agent IVR log-in: agent number (or the agent's own phone) + PIN; the agent becomes Available"
    params = {
        "language": Param(str, doc="language of what the agent hears (default: the configured language)"),
        "voice": Param(str, doc="TTS voice (overrides the language's voice)"),
        "identify_by_caller_id": Param(bool, default=True,
                                       doc="a call from an agent's own phone (caller ID = its account's user or "
                                           "extension) is not asked for the agent number; the PIN still is"),
        "set_available": Param(bool, default=True,
                               doc="make the agent Available on log-in (false: the status stays as it is)"),
        "max_attempts": Param(int, default=3, between=(1, 10), doc="log-in attempts (number + PIN) on this call"),
        "input_timeout": Param(float, default=7.0, between=(0, 60), low_open=True, unit="seconds",
                               doc="seconds to wait for the first key"),
        "digit_timeout": Param(float, default=3.0, between=(0, 60), low_open=True, unit="seconds",
                               doc="seconds between keys"),
        "lockout_after": Param(int, default=5, between=(1, 100),
                               doc="wrong PINs for one agent (over all calls) that lock that agent out"),
        "lockout_window": Param(int, default=900, between=(1, 7 * 86400), unit="seconds",
                                doc="the failures counted are those of the last this many seconds"),
    }
    outcomes = ("ok", "denied")
    waits = True

    def _say(self, call: Call, key: str) -> None:
        call.play(self._playable(call, key))

    def _playable(self, call: Call, key: str) -> str:
        language = self.p["language"] or call.services.config.language
        return call.playable(text=sentence(key, language), language=language, voice=self.p["voice"])

    def _collect(self, call: Call, key: str, *, secret: bool) -> str | None:
        got = call.collect(self._playable(call, key), min_digits=1, max_digits=MAX_AGENT_DIGITS, tries=1,
                           timeout=self.p["input_timeout"], terminators="#", regex=r"[0-9*]+" if secret else r"\d+",
                           digit_timeout=self.p["digit_timeout"], invalid="silence_stream://10", secret=secret)
        return got.digits or got.invalid

    def run(self, call: Call) -> str:
        data, desk = call.services.data, call.services.agents
        if desk is None:
            raise RuntimeError("agent_login needs fsivr's store (agent statuses)")
        call.answer()
        window, limit = self.p["lockout_window"], self.p["lockout_after"]
        own = data.agent_by_phone(call.caller) if self.p["identify_by_caller_id"] else None
        wrong = 0
        for attempt in range(self.p["max_attempts"]):
            if attempt:
                self._say(call, "wrong")
            name = own or self._collect(call, "ask_agent", secret=False)
            if not name:
                continue  # no key: nothing to count
            if data.agent_locked_out(name, call.now(), window, limit):
                self._say(call, "locked")
                call.step_detail.update(reason="locked out", agent=name, wrong=wrong)
                log.info("call %s: agent_login %s: agent %s is locked out", call.uuid, self.id, name)
                return "denied"
            pin = self._collect(call, "ask_pin", secret=True)
            if not pin:
                continue
            agent = data.agent(name)
            if agent is not None and agent.pin_hash is None:
                log.warning("call %s: agent %s has no PIN for the agent IVR (set one: fsivr pin agent %s)",
                            call.uuid, name, name)
            # Checked against a hash no PIN matches when there is none: the same time either way.
            known = agent.pin_hash if agent is not None else None
            if data.check_pin(pin, [known or _NO_AGENT]) and known and agent is not None:
                data.agent_ok(name, call.now(), window)
                call.vars["agent"] = name
                call.step_detail.update(agent=name, by="caller_id" if own else "number", wrong=wrong)
                status = agent.status
                if self.p["set_available"]:
                    desk.set_status(name, "Available", None, call.api, at=call.now())
                    status = "Available"
                call.step_detail["status"] = status
                self._say(call, "logged_in")
                return "ok"
            wrong += 1
            data.agent_failed(name, call.now())
            if data.agent_locked_out(name, call.now(), window, limit):
                self._say(call, "locked")
                call.step_detail.update(reason="locked out", agent=name, wrong=wrong)
                log.info("call %s: agent_login %s: agent %s locked out after a wrong PIN", call.uuid, self.id, name)
                return "denied"
        call.step_detail.update(reason="no valid log-in", wrong=wrong)
        self._say(call, "wrong")
        return "denied"
