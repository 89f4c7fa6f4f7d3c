"""park: put the caller on a free slot of a parking lot (mod_valet_parking) and tell them its number.

Someone picks the caller up by dialling the slot from a phone: render-conf gives every slot of the
configured lots (the ``parking_lots`` setting, fsivr/parking.py) an extension running
``valet_park LOT SLOT``, which bridges the phone to the parked caller. That takes the caller out of
the socket application (trace 10: ``Action: bridge``, valet_park EXECUTE_COMPLETE, socket
EXECUTE_COMPLETE, uuid_bridge), so the IVR lets the call go and follows it until it ends.

Nobody picks up within the lot's timeout: the caller comes back here and the node takes
``next`` (the spec's outcome: the scenario goes on). valet_park waits that long by itself
(``valet_parking_timeout``) and, with no ``valet_parking_orbit_exten``, simply returns to the socket application
(mod_valet_parking.c valet_parking_function: read_frame_callback counts the timeout down, then the
play loop ends without a transfer). The caller pressing ``#`` ends the park the same way
(valet_on_dtmf returns SWITCH_STATUS_BREAK for '#'), so it takes ``next`` too.
"""

from __future__ import annotations

from fsivr.engine.call import Call, Handoff
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.engine.slots import occupied
from fsivr.esl.errors import ChannelLeft
from fsivr.nodes._prompt import prompt_or_text
from fsivr.nodes.say import FS_SAY
from fsivr.speech import words
from fsivr.store.names import DIALABLE_NAME


def _lot_name(value: str) -> str:
    if not DIALABLE_NAME.match(value):
        raise ValueError("must be a parking lot name: letters, digits and _ . + -")
    return value


@register
class Park(Node):
    type = "park"
    summary = "park the caller on a free slot of a parking lot and say its number; a phone dialling it picks up"
    params = {
        "lot": Param(str, required=True, check=_lot_name,
                     doc="parking lot, as configured in parking_lots (its slots and timeout)"),
        "prompt": Param(str, doc="stored prompt said before the slot number", ref="prompt"),
        "text": Param(str, doc="text said before the slot number (instead of a prompt)"),
        "language": Param(str, doc="language of the texts and of the slot number (default: the configured "
                                   "language): picks the TTS voice, or FreeSWITCH's say where its module is "
                                   "configured"),
        "voice": Param(str, doc="TTS voice for the texts (overrides the language's voice)"),
    }
    outcomes = ("next", "full")
    waits = True
    #: No free slot: nothing was played or waited for.
    instant_outcomes = ("full",)

    def compile(self) -> None:
        prompt_or_text(self, required=False)

    def run(self, call: Call) -> str:
        lot = call.services.config.lots().get(self.p["lot"])
        if lot is None:
            raise ValueError(f"no parking lot {self.p['lot']!r} in the parking_lots setting")
        call.answer()
        slots = call.services.parking
        busy = occupied(call.api(f"valet_info {lot.name}"))
        slot = slots.take(lot.name, lot.slots, busy, call.uuid)
        call.step_detail.update(lot=lot.name)
        if slot is None:
            return "full"
        call.step_detail.update(slot=slot)
        timed_out = True
        try:
            if self.p["prompt"] or self.p["text"]:
                call.play(call.playable(self.p["prompt"], self.p["text"], language=self.p["language"],
                                        voice=self.p["voice"]))
            self._say_slot(call, slot)
            call.set_channel_vars({"valet_parking_timeout": str(lot.timeout)})
            # An orbit extension (set by the dialplan before the IVR) would transfer the caller out
            # at the timeout instead of returning here: unset it (uuid_setvar without a value).
            call.api(f"uuid_setvar {call.uuid} valet_parking_orbit_exten")
            done = call.execute("valet_park", f"{lot.name} {slot}")
            # switch_ivr_uuid_bridge (switch_ivr_bridge.c) sets uuid_bridge on the parked channel
            # before it ends valet_park, and clears it once the bridge is up: present in this
            # completion only when a phone picked the caller up.
            picked_by = done.variable("uuid_bridge")
            if picked_by:
                timed_out = False
                call.step_detail.update(picked_up_by=picked_by)
                # The socket application ends next (trace 10): the call is not ours to end.
                call.handoff = Handoff(keep_until_hangup=True)
                raise ChannelLeft(f"picked up from {lot.name} slot {slot}")
            return "next"
        finally:
            slots.release(lot.name, slot, timed_out=timed_out)

    def _say_slot(self, call: Call, slot: str) -> None:
        """The slot digit by digit, as a phone dials it, the say node's way (nodes/say.py): by
        FreeSWITCH's say where the configuration has the language's say module, else as words in
        the language (fsivr.speech.words) spoken by its TTS voice."""
        language = self.p["language"] or call.services.config.language
        lang = words.base_language(language)
        modules = {words.base_language(m) for m in call.services.config.say_modules}
        if lang in modules and "digits" in FS_SAY.get(lang, frozenset()):
            call.step_detail["said"] = f"say {lang} number iterated {slot}"
            call.say(f"{lang}:{lang}", "number", "iterated", slot)
            return
        spoken = words.digits(slot, language)
        call.step_detail["said"] = spoken
        call.play(call.playable(text=spoken, language=language, voice=self.p["voice"]))
