"""SIP phones registered with the switch and text messages to them (mod_sofia, mod_dptools ``chat``).

The simulator has no SIP stack: a test says when a phone registers or unregisters
(``Simulator.register_phone``), as the recorder's plain UDP REGISTER did in trace 16. What the switch
then answers is FreeSWITCH's: ``sofia status profile <p> reg [<contact part>]`` as mod_sofia.c
prints it (show_reg_callback), and ``chat <proto>|<from>|<to>|<text>[|<content-type>]``
(mod_dptools.c chat_api_function) answers ``Sent`` only once the phone answered the SIP MESSAGE
with a 2xx, ``Error! Message Not Sent`` for an unknown protocol, an unknown or unregistered user,
``Invalid`` for fewer than four fields. The messages a phone received are kept (``delivered``) so a
test can read what an employee's phone showed.
"""

from __future__ import annotations

import time
import uuid as uuidlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fsivr.testing.expand import separate_char
from fsivr.testing.profiles import HOSTNAME

if TYPE_CHECKING:
    from fsivr.testing.api import ApiContext, ApiFunc

# mod_sofia.c sofia status: the rule around the registration list.
LINE = "=" * 97
# sofia_reg.c sofia_reg_handle_register_token: a registration is stored as expiring at
# reg_time + exptime + sip_expires_late_margin (the profile's default margin is 60 s).
EXPIRES_LATE_MARGIN = 60
#: The SIP profiles of a stock install (conf/vanilla/sip_profiles).
PROFILES = ("internal", "external")


@dataclass
class Registration:
    """One row of mod_sofia's sip_registrations."""

    user: str
    realm: str
    call_id: str
    ip: str
    port: int
    agent: str
    expires: int  # epoch seconds
    transport: str = "UDP"
    profile: str = "internal"
    # what the phone answers a SIP MESSAGE with
    message_status: int = 200

    @property
    def contact(self) -> str:
        return f'"" <sip:{self.user}@{self.ip}:{self.port}>'


@dataclass
class ChatMessage:
    """A SIP MESSAGE a registered phone answered with 2xx (sofia_presence.c sofia_presence_chat_send)."""

    proto: str
    from_addr: str
    to_addr: str
    body: str
    content_type: str  # text/html when the api gave none (trace 16)
    contact: str


@dataclass
class Registrar:
    registrations: dict[tuple[str, str], Registration] = field(default_factory=dict)
    delivered: list[ChatMessage] = field(default_factory=list)

    def register(self, user: str, realm: str = "127.0.0.1", *, port: int = 5062, ip: str = "127.0.0.1",
                 agent: str = "fsivr-sim-phone", expires: int = 3600, call_id: str | None = None,
                 now: int | None = None, message_status: int = 200) -> Registration:
        reg_time = int(time.time()) if now is None else now
        reg = Registration(user=user, realm=realm, call_id=call_id or f"{uuidlib.uuid4()}@{ip}", ip=ip, port=port,
                           agent=agent, expires=reg_time + expires + EXPIRES_LATE_MARGIN,
                           message_status=message_status)
        self.registrations[(user, realm)] = reg
        return reg

    def unregister(self, user: str, realm: str = "127.0.0.1") -> None:
        # a REGISTER with Expires: 0 deletes the row (sofia_reg.c)
        self.registrations.pop((user, realm), None)

    def find(self, user: str, realm: str, now: int) -> Registration | None:
        reg = self.registrations.get((user, realm))
        return reg if reg is not None and reg.expires > now else None

    def status_reg(self, profile: str, match: str | None, now: int) -> str:
        """``sofia status profile <profile> reg [<match>]``: rows whose contact contains ``match``."""
        rows = [r for r in self.registrations.values()
                if r.profile == profile and r.expires > now and (not match or match in r.contact)]
        out = [f"\nRegistrations:\n{LINE}\n"]
        for r in rows:
            # switch_time_exp_lt: the switch's local time; the simulated switch runs on UTC
            exp = datetime.fromtimestamp(r.expires, UTC).strftime("%Y-%m-%d %H:%M:%S")
            out.append(
                f"Call-ID:    \t{r.call_id}\n"
                f"User:       \t{r.user}@{r.realm}\n"
                f"Contact:    \t{r.contact}\n"
                f"Agent:      \t{r.agent}\n"
                f"Status:     \tRegistered({r.transport})(unknown) EXP({exp}) EXPSECS({r.expires - now})\n"
                f"Ping-Status:\tReachable\n"
                f"Ping-Time:\t0.00\n"
                f"Host:       \t{HOSTNAME}\n"
                f"IP:         \t{r.ip}\n"
                f"Port:       \t{r.port}\n"
                f"Auth-User:  \t{r.user}\n"
                f"Auth-Realm: \t{r.realm}\n"
                f"MWI-Account:\t{r.user}@{r.realm}\n\n"
            )
        out.append(f"Total items returned: {len(rows)}\n{LINE}\n")
        return "".join(out)

    def chat(self, args: str, now: int) -> str:
        """``chat <proto>|<from>|<to>|<message>[|<content-type>]`` (mod_dptools.c chat_api_function)."""
        argv = separate_char(args, "|", 5) if args else []
        if len(argv) < 4:
            return "Invalid"
        proto, from_addr, to_addr, body = argv[:4]
        content_type = argv[4] if len(argv) > 4 and argv[4] else "text/html"
        if proto != "sip":
            return "Error! Message Not Sent"  # switch_core_chat_send_args: no such chat interface
        user, _, realm = to_addr.removeprefix("sip:").partition("@")
        reg = self.find(user, realm, now)
        if reg is None or not 200 <= reg.message_status < 300:
            return "Error! Message Not Sent"
        self.delivered.append(ChatMessage(proto, from_addr, to_addr, body, content_type, reg.contact))
        return "Sent"


def _now(ctx: ApiContext) -> int:
    return (ctx.sim.now_us() if ctx.sim is not None else int(time.time() * 1_000_000)) // 1_000_000


def chat(ctx: ApiContext, arg: str) -> str | None:
    if ctx.sim is None:
        return None  # an InboundSwitch on its own has no phones
    return ctx.sim.sofia.chat(arg, _now(ctx))


def sofia(ctx: ApiContext, arg: str) -> str | None:
    """mod_sofia.c sofia_function, the parts the product and the tests use:
    ``profile <name> rescan`` (what render_conf sends after the gateways changed: the XML reload's
    line, then ``+OK scan complete``; ``Invalid Profile [<name>]`` without LF for an unknown one) and
    ``status profile <name> reg [<match>]`` (cmd_status; ``Invalid Profile!``). Other sofia
    commands are not emulated."""
    argv = arg.split()
    if len(argv) >= 3 and argv[0].lower() == "profile" and argv[2].lower() == "rescan":
        if argv[1] not in PROFILES:
            return f"Invalid Profile [{argv[1]}]"
        return "Reload XML [Success]\n+OK scan complete\n"
    if len(argv) >= 4 and argv[0] == "status" and argv[1] == "profile" and argv[3] == "reg":
        if argv[2] not in PROFILES:
            return "Invalid Profile!\n"
        if ctx.sim is None:
            return None
        return ctx.sim.sofia.status_reg(argv[2], argv[4] if len(argv) > 4 else None, _now(ctx))
    return None


APPLICATIONS: dict[str, object] = {}
API_COMMANDS: dict[str, ApiFunc] = {"chat": chat, "sofia": sofia}
