"""Which parking-lot slot a call may take: FreeSWITCH's word (valet_info) plus what this server
knows that valet_info does not say yet.

Parking on an occupied slot is not refused by mod_valet_parking: ``valet_park LOT SLOT`` on a slot
someone holds *retrieves* them (mod_valet_parking.c valet_parking_function: token found, not
bridged → switch_ivr_uuid_bridge). So a slot must be really free, and two things valet_info cannot
show are kept here, per server process:

* a slot chosen for a call that is still hearing its number, before its valet_park starts;
* a slot whose caller went back to the scenario after the timeout: its token stays in the lot
  with ``token->timeout = 1`` (hidden from valet_info) until check_timeouts deletes it, which runs at
  the start of a valet_park at least TOKEN_FREQ (5) seconds after the previous check. Until then a
  valet_park on that slot would find the token and bridge the new caller to the old one, who is
  back in the IVR. Any valet_park 6 s or more after the timeout has cleaned it first (whole epoch
  seconds, ``now - last_timeout_check < TOKEN_FREQ``), so the slot rests that long.

Another server or a phone parking on the same lot at the same moment is not seen here; valet_info
right before parking narrows that to the time it takes to say the number.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

#: TOKEN_FREQ + 1: see the module docstring.
COOLDOWN = 6.0

_EXTENSION = re.compile(r'<extension uuid="[^"]*">([^<]*)</extension>')


def occupied(valet_info: str) -> set[str]:
    """The slots ``api valet_info LOT`` lists (valet_info_function: one ``<extension uuid=..>EXT``
    line per token that has not timed out)."""
    return set(_EXTENSION.findall(valet_info))


class ParkingSlots:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        #: (lot, slot) → call uuid, from choice until its valet_park ends.
        self._taken: dict[tuple[str, str], str] = {}
        #: (lot, slot) → monotonic time before which the slot rests (a timed-out token).
        self._resting: dict[tuple[str, str], float] = {}

    def take(self, lot: str, slots: list[str], busy: set[str], uuid: str) -> str | None:
        """The lowest slot neither FreeSWITCH (``busy``) nor this server uses; None if the lot is full.
        Runs without yielding to another greenlet, so two calls cannot take the same slot."""
        now = self._clock()
        for slot in slots:
            key = (lot, slot)
            if slot in busy or key in self._taken or self._resting.get(key, 0.0) > now:
                continue
            self._resting.pop(key, None)
            self._taken[key] = uuid
            return slot
        return None

    def release(self, lot: str, slot: str, *, timed_out: bool) -> None:
        self._taken.pop((lot, slot), None)
        if timed_out:
            self._resting[(lot, slot)] = self._clock() + COOLDOWN
