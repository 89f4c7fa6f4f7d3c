"""exit: leave the IVR; the number's default destination takes the call."""

from __future__ import annotations

from fsivr.engine.call import Call
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
        # `resume` makes the socket application return into the dialplan instead of hanging up
        # when we close the connection (mod_event_socket.c, LFLAG_RESUME), so the actions after
        # `socket` in the number's extension take the call. With an explicit destination we
        # transfer there instead; the channel then leaves the socket app.
        call.conn.command("resume")
        if call.exit_destination:
            call.execute("transfer", call.exit_destination, timeout=call.services.config.command_timeout * 3)
        call.released = True
        return "exit"
