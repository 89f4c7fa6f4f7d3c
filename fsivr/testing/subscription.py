"""What a mod_event_socket listener is subscribed to, and the commands that change it.

Outbound (the socket application's connection) and inbound (port 8021) connections are the same
kind of listener in FreeSWITCH (mod_event_socket.c, listener_t): ``event``, ``nixevent``,
``noevents`` and ``filter`` behave alike on both, and so does the filter test in
``event_handler``. Both simulated listeners take this mixin; each keeps its own reasons to send
(myevents, linger, auth).
"""

from __future__ import annotations

import re
from collections.abc import Callable

EVENT_FORMATS = ("plain", "json", "xml")
#: switch_log_str2level's names and numbers (switch_log.c), as ``log <level>`` takes them.
LOG_LEVELS = {
    "console": 0, "alert": 1, "crit": 2, "err": 3, "error": 3, "warning": 4, "notice": 5, "info": 6,
    "debug": 7, "debug1": 7, "0": 0, "1": 1, "2": 2, "3": 3, "4": 4, "5": 5, "6": 6, "7": 7,
}


class EventSubscriber:
    """Mixin: call ``init_subscription()`` in ``__init__``; needs an ``EVENT_NAMES`` collection."""

    event_names: frozenset[str] | set[str]
    events_on: bool
    event_list: set[str]
    custom: set[str]
    format: str
    filters: list[tuple[str, str]]

    logging: bool

    def init_subscription(self, event_names: frozenset[str] | set[str]) -> None:
        self.event_names = event_names
        self.logging = False
        self.events_on = False
        self.event_list = set()
        self.custom = set()
        self.format = "plain"
        self.filters = []

    def subscribed_to(self, name: str, subclass: str | None) -> bool:
        """The event list part of event_handler (not the filters)."""
        if not self.events_on:
            return False
        if "ALL" in self.event_list:
            return True
        if name not in self.event_list:
            return False
        return name != "CUSTOM" or not subclass or subclass in self.custom

    def passes_filters(self, header: Callable[[str], str | None]) -> bool:
        """event_handler's filter loop: '+'/'-' prefixes; a value starting with '/' is a regex."""
        if not self.filters:
            return True
        send = False
        for name, value in self.filters:
            hval = header(name)
            if hval is None:
                continue
            pos = True
            comp = value
            while comp and comp[0] in "+- ":
                pos = comp[0] != "-" if comp[0] in "+-" else pos
                comp = comp[1:]
            if send and pos:
                continue
            if value.startswith("/"):
                # switch_regex takes the /.../ form; the slashes are not part of the pattern.
                pattern = comp[1:-1] if len(comp) > 1 and comp.endswith("/") else comp[1:]
                match = re.search(pattern, hval) is not None
            else:
                match = hval.lower() == comp.lower()
            if match:
                if not pos:
                    return False
                send = True
        return send

    def listener_command(self, low: str, line: str) -> str | None:
        """The commands both kinds of listener answer alike (parse_command): log, nolog, event,
        nixevent, noevents. None when ``line`` is none of them."""
        if low.startswith("log"):
            level = line[3:].strip().split(" ", 1)[0] if line[3:].strip() else "debug"
            if level.lower() not in LOG_LEVELS:
                return "-ERR invalid log level"
            self.logging = True
            return f"+OK log level {level} [{LOG_LEVELS[level.lower()]}]"
        if low.startswith("nolog"):
            if self.logging:
                self.logging = False
                return "+OK no longer logging"
            return "-ERR not loging"
        if low.startswith("event"):
            return self.event_command(line)
        if low.startswith("nixevent"):
            return self.nixevent_command(line)
        if low.startswith("noevents"):
            return self.noevents_command()
        return None

    def event_command(self, line: str) -> str:
        """``event [plain|json|xml] NAME ... [CUSTOM subclass ...]``."""
        key_count = 0
        custom = False
        for i, word in enumerate(line.split(" ")[1:]):
            if i == 0 and word.lower() in EVENT_FORMATS:
                self.format = word.lower()
                continue
            if custom:
                self.custom.add(word)
                continue
            name = word.upper()
            if name in self.event_names:
                key_count += 1
                self.event_list.add(name)
                if name == "CUSTOM":
                    custom = True
        if not key_count:
            return "-ERR no keywords supplied"
        self.events_on = True
        return f"+OK event listener enabled {self.format}"

    def nixevent_command(self, line: str) -> str:
        key_count = 0
        custom = False
        for word in line.split(" ")[1:]:
            if custom:
                self.custom.discard(word)
                continue
            name = word.upper()
            if name in self.event_names:
                key_count += 1
                if name == "CUSTOM":
                    custom = True
                elif name == "ALL":
                    self.event_list.clear()
                else:
                    if "ALL" in self.event_list:
                        self.event_list = set(self.event_names) - {"ALL"}
                    self.event_list.discard(name)
        if not key_count:
            return "-ERR no keywords supplied"
        self.events_on = True
        return "+OK events nixed"

    def noevents_command(self) -> str:
        if self.events_on:
            self.events_on = False
            self.event_list.clear()
            self.custom.clear()
            return "+OK no longer listening for events"
        return "-ERR not listening for events"

    def filter_command(self, rest: str) -> str:
        rest = rest.lstrip(" ")
        name, _, value = rest.partition(" ")
        has_value = " " in rest
        if name.lower() == "delete" and has_value:
            name, _, val = value.partition(" ")
            val_given = " " in value
            if name.lower() == "all":
                self.filters = []
            else:
                self.filters = [(n, v) for n, v in self.filters
                                if not (n.lower() == name.lower() and (not val or v == val))]
            return f"+OK filter deleted. [{name}][{val if val_given else ''}]"
        if has_value:
            if name.lower() == "add":
                name, _, value = value.partition(" ")
            self.filters.append((name, value))
            return f"+OK filter added. [{name}]=[{value}]"
        return "-ERR invalid syntax"
