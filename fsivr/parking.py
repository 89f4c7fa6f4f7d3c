"""Parking lots (mod_valet_parking): their names, slot numbers and timeouts, from the configuration.

A lot is written ``NAME FIRST-LAST [TIMEOUT]`` in the ``parking_lots`` setting, e.g.
``main 701-709 90``: slots 701 to 709, a caller not picked up within 90 s goes back to the scenario
(default 60 s, what mod_valet_parking.c itself uses with an orbit extension). The park node parks
callers on one of its slots; ``render-conf`` gives every slot a dialplan extension that picks it up
(``valet_park NAME SLOT`` run by a phone's call). mod_valet_parking creates a lot the first time it is
named (valet_find_lot), so nothing in FreeSWITCH's own configuration lists them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fsivr.store.names import DIALABLE_NAME

#: The default timeout: mod_valet_parking.c valet_parking_function uses 60 s when an orbit
#: extension is set and valet_parking_timeout is not.
DEFAULT_TIMEOUT = 60
#: Slots are plain numbers a phone can dial; a lot of more than this many is a typo.
MAX_SLOTS = 1000
_RANGE = re.compile(r"^([1-9][0-9]{0,8})-([1-9][0-9]{0,8})$")


@dataclass(frozen=True)
class Lot:
    name: str
    first: int
    last: int
    #: Seconds a parked caller waits before going back to the scenario.
    timeout: int = DEFAULT_TIMEOUT

    @property
    def slots(self) -> list[str]:
        return [str(n) for n in range(self.first, self.last + 1)]


def parse_lot(text: str) -> Lot:
    """``NAME FIRST-LAST [TIMEOUT]`` → Lot; ValueError with a message for the user."""
    parts = text.split()
    if len(parts) not in (2, 3):
        raise ValueError(f"parking lot {text!r}: write NAME FIRST-LAST [TIMEOUT], e.g. 'main 701-709 90'")
    name, span = parts[0], parts[1]
    # The name travels in valet_park's argument (split on spaces) and in dialplan XML.
    if not DIALABLE_NAME.match(name):
        raise ValueError(f"parking lot {name!r}: the name must be letters, digits and _ . + -")
    m = _RANGE.match(span)
    if not m:
        raise ValueError(f"parking lot {name!r}: slots {span!r} must be FIRST-LAST, e.g. 701-709")
    first, last = int(m.group(1)), int(m.group(2))
    if last < first or last - first + 1 > MAX_SLOTS:
        raise ValueError(f"parking lot {name!r}: slots {span!r} must go upwards, at most {MAX_SLOTS} of them")
    timeout = DEFAULT_TIMEOUT
    if len(parts) == 3:
        if not parts[2].isdigit() or not 1 <= int(parts[2]) <= 86400:
            raise ValueError(f"parking lot {name!r}: timeout {parts[2]!r} must be whole seconds, 1 to 86400")
        timeout = int(parts[2])
    return Lot(name=name, first=first, last=last, timeout=timeout)


def parse_lots(entries: list[str]) -> dict[str, Lot]:
    """Every configured lot by name; two lots may not share a name or a slot number (a phone
    dialling the slot could only reach one of them)."""
    lots: dict[str, Lot] = {}
    owner: dict[str, str] = {}
    for entry in entries:
        lot = parse_lot(entry)
        if lot.name in lots:
            raise ValueError(f"parking lot {lot.name!r} is configured twice")
        for slot in lot.slots:
            if slot in owner:
                raise ValueError(f"parking lots {owner[slot]!r} and {lot.name!r} both have slot {slot}")
            owner[slot] = lot.name
        lots[lot.name] = lot
    return lots
