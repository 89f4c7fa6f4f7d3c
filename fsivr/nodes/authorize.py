"""authorize: let the call on only from a listed caller ID or with a PIN; lock a number out after
repeated failures, across calls.

PINs are held only as scrypt hashes (``fsivr pin hash``): a scenario, its export, the database
and the logs never show one. They are given in the scenario (``pins``) or, for a team whose PINs
change without a new scenario version, as a *PIN list*: a data table (``fsivr table import``) with
one row per person, its key naming the person and its ``pin`` column holding the hash (``pin_list``).
It is read when the caller is asked (one query); the person whose PIN matched is the call's
``authorized_as``. A row whose cell is not a PIN hash never matches (said in the log, by key).

A wrong PIN is counted per caller number in the store, so a caller who redials starts with the
failures of the calls before (and so does one reaching another ``fsivr serve`` on the same
database): after ``lockout_after`` failures within ``lockout_window`` seconds the number is denied
without being asked, until the window has moved past them.
"""

from __future__ import annotations

import logging
from typing import Any

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.pins import check_hash
from fsivr.engine.registry import register
from fsivr.nodes._prompt import prompt_or_text
from fsivr.store.names import DIALABLE_NAME
from fsivr.store.phone import caller_key, e164
from fsivr.store.tables import PIN_COLUMN

log = logging.getLogger("fsivr.nodes.authorize")


def _pins(value: list[Any]) -> list[str]:
    return [check_hash(str(v)) for v in value]


def _table(value: str) -> str:
    if not DIALABLE_NAME.match(value):
        raise ValueError(f"{value!r} is not a table name (letters, digits and _ . + -)")
    return value


def _caller_ids(value: list[Any]) -> list[str]:
    out = []
    for i, v in enumerate(value):
        try:
            out.append(e164(str(v)))
        except ValueError as exc:
            raise ValueError(f"caller_ids[{i}]: {exc}") from None
    return out


@register
class Authorize(Node):
    type = "authorize"
    summary = "let the call on only from a listed caller ID or with a PIN; lock out a number after failures"
    params = {
        "pins": Param(list, check=_pins, doc="PIN hashes (scrypt$..., from `fsivr pin hash`); a plain PIN is refused"),
        "pin_list": Param(str, check=_table,
                          doc=f"a data table of PINs (`fsivr table import`): one row per person, its key the "
                              f"person, its `{PIN_COLUMN}` column the hash; the matching key becomes "
                              "`authorized_as`"),
        "caller_ids": Param(list, check=_caller_ids,
                            doc="caller numbers let on without a PIN (any spelling; compared in E.164)"),
        "prompt": Param(str, ref="prompt", doc="prompt asking for the PIN"),
        "text": Param(str, doc="text asking for the PIN, instead of a stored prompt"),
        "invalid_prompt": Param(str, ref="prompt", doc="prompt played after a wrong PIN, before the next try"),
        "invalid_text": Param(str, doc="text spoken after a wrong PIN (instead of invalid_prompt)"),
        "language": Param(str, doc="language of text prompts: picks the TTS voice configured for it"),
        "max_attempts": Param(int, default=3, between=(1, 10), doc="PIN entries allowed on this call"),
        "pin_digits": Param(int, default=8, between=(3, 16), doc="longest PIN (the caller ends it with #)"),
        "input_timeout": Param(float, default=7.0, between=(0, 60), low_open=True, unit="seconds",
                               doc="seconds to wait for the first key"),
        "digit_timeout": Param(float, default=3.0, between=(0, 60), low_open=True, unit="seconds",
                               doc="seconds between keys"),
        "lockout_after": Param(int, default=5, between=(1, 100),
                               doc="wrong PINs from one number (over all its calls) that lock it out"),
        "lockout_window": Param(int, default=900, between=(1, 7 * 86400), unit="seconds",
                                doc="the failures counted are those of the last this many seconds"),
    }
    outcomes = ("ok", "denied")
    waits = True
    instant_outcomes = ("ok", "denied")  # a listed caller ID, or a number locked out: no key asked

    def compile(self) -> None:
        prompt_or_text(self, required=False)
        self.pins: list[str] = list(self.p["pins"] or [])
        self.caller_ids = frozenset(self.p["caller_ids"] or [])
        self.asks = bool(self.pins or self.p["pin_list"])
        if not self.asks and not self.caller_ids:
            raise self.error("give pins, pin_list, caller_ids or several", "pins")
        if self.asks and not (self.p["prompt"] or self.p["text"]):
            raise self.error("asking for a PIN needs a prompt or text", "prompt")
        if self.p["invalid_prompt"]:
            self.refs.append(Ref("prompt", self.p["invalid_prompt"], "invalid_prompt"))

    def run(self, call: Call) -> str:
        if self.caller_ids and caller_key(call.caller) in self.caller_ids:
            call.vars["authorized_by"] = "caller_id"
            call.step_detail["by"] = "caller_id"
            return "ok"
        if not self.asks:
            call.step_detail["reason"] = "caller ID not listed"
            return "denied"
        data = call.services.data
        window, limit = self.p["lockout_window"], self.p["lockout_after"]
        if data.locked_out(call.caller, call.now(), window, limit):
            call.step_detail["reason"] = "locked out"
            log.info("call %s: authorize %s: %s is locked out", call.uuid, self.id, caller_key(call.caller))
            return "denied"
        entries = [("", h) for h in self.pins] + self._listed(call)
        call.answer()
        lang = self.p["language"]
        prompt = call.playable(self.p["prompt"], self.p["text"], language=lang)
        invalid = None
        if self.p["invalid_prompt"] or self.p["invalid_text"]:
            invalid = call.playable(self.p["invalid_prompt"], self.p["invalid_text"], language=lang)
        wrong = 0
        for attempt in range(self.p["max_attempts"]):
            if attempt and invalid is not None:
                call.play(invalid)
            got = call.collect(prompt, min_digits=1, max_digits=self.p["pin_digits"], tries=1,
                               timeout=self.p["input_timeout"], terminators="#", regex=r"[0-9*]+",
                               digit_timeout=self.p["digit_timeout"], invalid="silence_stream://10",
                               secret=True)
            entered = got.digits or got.invalid
            if not entered:
                continue  # no key: not a guess, nothing to count
            who = data.match_pin(entered, entries) if entries else None
            if who is not None:
                data.auth_ok(call.caller, call.now(), window)
                call.vars["authorized_by"] = "pin"
                call.step_detail.update(by="pin", wrong=wrong)
                if who:
                    call.vars["authorized_as"] = who
                    call.step_detail["as"] = who
                return "ok"
            wrong += 1
            data.auth_failed(call.caller, call.now())
            if data.locked_out(call.caller, call.now(), window, limit):
                call.step_detail.update(reason="locked out", wrong=wrong)
                log.info("call %s: authorize %s: %s locked out after a wrong PIN", call.uuid, self.id,
                         caller_key(call.caller))
                return "denied"
        call.step_detail.update(reason="no valid PIN", wrong=wrong)
        return "denied"

    def _listed(self, call: Call) -> list[tuple[str, str]]:
        """The PIN list's (person, hash) entries; none when the node has no list or it is missing."""
        table = self.p["pin_list"]
        if not table:
            return []
        rows = call.services.data.pin_list(table)
        if rows is None:
            log.warning("call %s: authorize %s: pin_list %s: no such data table; only the node's own pins "
                        "count", call.uuid, self.id, table)
            return []
        good = []
        for key, stored in rows:
            try:
                good.append((key, check_hash(stored)))
            except ValueError:
                # By key only: the cell may be a PIN someone typed in plain.
                log.warning("call %s: authorize %s: pin_list %s: row %s holds no PIN hash (fsivr pin hash); "
                            "it never matches", call.uuid, self.id, table, key)
        return good
