"""Inbound ESL (fsivr → FreeSWITCH's event socket, port 8021): short API conversations.

greenswitch's InboundESL speaks the protocol; this wraps it with what it lacks for a tool that
must never hang: one overall deadline (its auth wait and its ``send`` wait forever), errors that
say what went wrong (unreachable / refused password / no answer), and a shutdown that does not
sit in its one-second event-queue poll.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import gevent

log = logging.getLogger("fsivr.esl.inbound")

#: reloadxml answers ``+OK [...]`` even when the XML is broken; only this text means success
#: (mod_commands.c reload_xml_function; docs/freeswitch-notes.md §5).
RELOADXML_OK = "+OK [Success]"


class InboundError(Exception):
    """Talking to FreeSWITCH's inbound socket failed; the message is meant for the operator."""


class Unreachable(InboundError):
    """Nothing accepted the connection (FreeSWITCH down, wrong host/port, firewall)."""


@dataclass
class InboundClient:
    host: str = "127.0.0.1"
    port: int = 8021
    password: str = "ClueCon"
    timeout: float = 5.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    def api(self, command: str) -> str:
        """Run one API command and return its raw output (connect, auth, api, exit)."""
        from greenswitch.esl import InboundESL, NotConnectedError

        esl = InboundESL(self.host, self.port, self.password, timeout=self.timeout)
        try:
            with gevent.Timeout(self.timeout, InboundError(
                    f"FreeSWITCH at {self.where} did not answer within {self.timeout:g} s")):
                try:
                    esl.connect()
                except ValueError:
                    raise InboundError(f"FreeSWITCH at {self.where} refused the ESL password "
                                       "(esl_password / FSIVR_ESL_PASSWORD)") from None
                except (NotConnectedError, OSError) as exc:
                    raise Unreachable(f"FreeSWITCH is not reachable at {self.where}: {exc}") from None
                reply = esl.send("api " + command)
                return str(getattr(reply, "data", "") or "")
        finally:
            _close(esl)

    def reloadxml(self) -> str:
        """Ask FreeSWITCH to re-read its XML; raises InboundError unless it reports success."""
        out = self.api("reloadxml").strip()
        if out != RELOADXML_OK:
            raise InboundError(f"FreeSWITCH at {self.where} could not reload its XML: {out or 'no reply'}")
        return out


def _close(esl: object) -> None:
    """``exit`` if still connected (bounded), then drop the socket and greenswitch's greenlets."""
    try:
        if getattr(esl, "connected", False):
            with gevent.Timeout(1.0, False):
                esl.send("exit")  # type: ignore[attr-defined]
    except Exception:
        pass
    esl._run = False  # type: ignore[attr-defined]
    for name in ("_receive_events_greenlet", "_process_events_greenlet"):
        greenlet = getattr(esl, name, None)
        if greenlet is not None:
            greenlet.kill(block=False)
    sock = getattr(esl, "sock", None)
    if sock is not None:
        try:
            sock.close()
        except OSError:
            pass
