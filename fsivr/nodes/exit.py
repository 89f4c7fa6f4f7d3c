"""exit: leave the IVR; the number's default destination takes the call."""

from __future__ import annotations

from fsivr.engine.call import Call, Handoff
from fsivr.engine.node import Node
from fsivr.engine.registry import register


@register
class Exit(Node):
    type = "exit"
    summary = "leave the IVR: the number's default destination (dialplan) takes the call"
    params = {}
    outcomes = ()
    terminal = True

    def run(self, call: Call) -> str:
        # What we set for ourselves (continue_on_fail, hangup_after_bridge, TTS voice...) would
        # change what the number's own dialplan does next: clear it first.
        call.clear_channel_vars()
        # When the socket app returns (the runner sends `exit`), FreeSWITCH runs the next action
        # of the number's extension — the default destination rendered after `socket`
        # (mod_event_socket.c listener_run; docs/freeswitch-notes.md §1). With an explicit
        # destination we `transfer` instead, and keep the connection until the call ends:
        # closing it early would stop a park or socket app in the target extension.
        call.handoff = Handoff(released=True)
        if call.exit_destination:
            call.execute("transfer", call.exit_destination, timeout=call.quick_timeout)
            call.handoff = Handoff(released=True, keep_until_hangup=True)
        return "exit"
