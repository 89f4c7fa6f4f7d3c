"""Render FreeSWITCH XML from the store, check it, and replace the live files only when it changed.

Output layout (fragments that drop into a vanilla FreeSWITCH configuration, whose main files
include these directories with ``X-PRE-PROCESS include``):

* ``directory/default/fsivr.xml`` — one ``<user>`` per SIP account (vanilla directory/default.xml
  includes ``default/*.xml`` inside the default domain's ``<users>``, whose domain params already
  carry the dial-string that ``user/101`` dials);
* ``dialplan/<context>/fsivr.xml`` — one extension per number (vanilla dialplan/public.xml includes
  ``public/*.xml``);
* ``dialplan/<phone context>/fsivr_parking.xml`` — one extension per parking-lot slot (from the
  configuration's ``parking_lots``), picking up the caller parked there (vanilla default.xml
  includes ``default/*.xml``);
* ``dialplan/fsivr_hold.xml`` — a context of its own (vanilla freeswitch.xml includes
  ``dialplan/*.xml``) where the queue callback's placeholder loopback leg answers and parks;
* ``sip_profiles/<profile>/fsivr.xml`` — one ``<gateway>`` per trunk (vanilla external.xml includes
  ``external/*.xml`` inside ``<gateways>``);
* ``autoload_configs/callcenter.conf.xml`` — mod_callcenter's queues, agents and tiers (replaces the
  vanilla file; fsivr.callcenter.state decides what they are, the same value the live sync
  pushes through callcenter_config).

Safety: every value reaches the XML through one function (``_xml_value``, Jinja's ``finalize``)
that XML-escapes it, turns ``$`` into ``&#36;`` (FreeSWITCH's preprocessor expands ``$${...}``
in the raw text before parsing, switch_xml.c preprocess, so a user named ``$${...}`` could read
global variables into the config) and replaces control characters (the preprocessor works line by
line). Names that end up in dial strings or regular expressions must also match strict patterns,
or nothing is written. Every file is parsed with an XML parser before any file is replaced.
"""

from __future__ import annotations

import os
import re
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape

from fsivr.callcenter.state import CallcenterState, build_state
from fsivr.config import Config
from fsivr.render.stock import PHONE_CONTEXT
from fsivr.store.names import DIALABLE_NAME, EXIT_DESTINATION, QUEUE_NAME, ROUTABLE_NUMBER, exit_extension
from fsivr.store.secrets import a1_digest, is_hashed_pin, realm_missing, split_a1

#: freeswitch_conf/ at the top of the repository.
TEMPLATES_DIR = Path(__file__).resolve().parent.parent.parent / "freeswitch_conf"

#: Where mod_callcenter reads its configuration (vanilla freeswitch.xml includes autoload_configs/*.xml).
CALLCENTER_CONF = "autoload_configs/callcenter.conf.xml"
#: Sofia gateway parameter names (sofia.c parse_gateways compares them literally).
PARAM_NAME = re.compile(r"^[a-z][a-z0-9-]{0,63}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
SERVE_ADDRESS = re.compile(r"^[A-Za-z0-9.:\[\]_-]+:[0-9]{1,5}$")


class RenderError(ValueError):
    """The data cannot be rendered safely; nothing was written. ``problems`` lists each one."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("cannot render the FreeSWITCH configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _xml_value(value: Any) -> Markup:
    if isinstance(value, Markup):
        return value
    if value is None:
        return Markup("")
    if isinstance(value, bool):
        value = "true" if value else "false"
    text = _CONTROL.sub(" ", str(value))
    return Markup(str(escape(text)).replace("$", "&#36;"))


def environment(templates: Path | None = None) -> Environment:
    env = Environment(loader=FileSystemLoader(str(templates or TEMPLATES_DIR)), autoescape=True,
                      finalize=_xml_value, undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      keep_trailing_newline=True)
    env.filters["regex"] = lambda v: re.escape(str(v))
    return env


@dataclass
class ConfData:
    """What the templates need, as plain data."""

    accounts: list[Any] = field(default_factory=list)
    gateways: list[Any] = field(default_factory=list)
    #: (number, exit destination or None), sorted by number.
    numbers: list[tuple[str, str | None]] = field(default_factory=list)
    mailbox_pins: dict[str, str] = field(default_factory=dict)
    queues: list[Any] = field(default_factory=list)
    agents: list[Any] = field(default_factory=list)


def load_data(session: Any) -> ConfData:
    """Read what the templates need (inside ``Store.run`` / a session)."""
    from fsivr.store.directory import load_accounts, load_agents, load_gateways, load_mailboxes, load_queues
    from fsivr.store.routing import number_routes

    routes = number_routes(session)
    return ConfData(accounts=list(load_accounts(session).values()), gateways=list(load_gateways(session).values()),
                    numbers=sorted((n, exit_to) for n, (_, exit_to) in routes.items()),
                    mailbox_pins={b: m.pin for b, m in load_mailboxes(session).items() if m.pin},
                    queues=list(load_queues(session).values()), agents=list(load_agents(session).values()))


def callcenter_state(data: ConfData, cfg: Config) -> CallcenterState:
    return build_state(data.queues, data.agents, {a.user: a for a in data.accounts}, data.gateways,
                       domain=cfg.sip_domain, gateway=cfg.default_gateway)


def check_callcenter(state: CallcenterState) -> list[str]:
    problems = list(state.problems)
    for name in state.queues:
        if not QUEUE_NAME.match(name):
            problems.append(f"queue {name!r}: use letters, digits and _ . + @ - only")
    return problems


def render_callcenter(state: CallcenterState, env: Environment) -> str:
    """callcenter.conf.xml for ``state`` (sorted, so the same state always gives the same text)."""
    return env.get_template("callcenter.conf.xml.j2").render(
        queues=[state.queues[k] for k in sorted(state.queues)],
        agents=[state.agents[k] for k in sorted(state.agents)],
        tiers=[state.tiers[k] for k in sorted(state.tiers)])


def serve_hosts(cfg: Config) -> str:
    """The socket application's host list: ``primary|failover``.

    mod_event_socket's ``socket`` tries each ``|``-separated host in turn until one accepts the
    TCP connection (mod_event_socket.c socket_function, FS-7603, in 1.11.1), so a second
    ``fsivr serve`` takes the calls when the first is down — and only then: a second ``socket``
    action would also run after the first session returned normally (the exit node), handing
    the call to fsivr twice.
    """
    primary = cfg.serve_address or f"{cfg.listen_host}:{cfg.listen_port}"
    hosts = [primary] + ([cfg.serve_failover] if cfg.serve_failover else [])
    for host in hosts:
        if not SERVE_ADDRESS.match(host):
            raise RenderError([f"serve address {host!r} must be HOST:PORT"])
    return "|".join(hosts)


def credentials(data: ConfData, cfg: Config) -> tuple[dict[str, tuple[str, str]], list[str]]:
    """Each account's credential param — ``("a1-hash", HEX)`` or, with sip_plain_passwords,
    ``("password", TEXT)`` — by user, and the accounts that cannot have one.

    A password the row still holds plain (rows from before migration 0017, or sip_plain_passwords
    turned off) is rendered as the a1-hash computed for the configured realm: the XML never shows
    it, and a changed sip_realm takes effect at once. A stored a1-hash is used only for the realm
    it was made for (fsivr.store.secrets: sofia uses it as HA1 as it is).
    """
    policy = cfg.secret_policy()
    out: dict[str, tuple[str, str]] = {}
    problems = []
    unhashable = []
    for a in data.accounts:
        if a.password and policy.plain_passwords:
            out[a.user] = ("password", a.password)
        elif a.password and policy.realm:
            out[a.user] = ("a1-hash", a1_digest(a.user, policy.realm, a.password))
        elif a.a1_hash:
            try:
                realm, digest = split_a1(a.a1_hash)
            except ValueError as exc:
                problems.append(f"account user {a.user!r}: {exc}")
                continue
            if policy.realm and realm != policy.realm:
                problems.append(f"account user {a.user!r}: its SIP password is stored as an a1-hash for realm "
                                f"{realm!r}, but sip_realm is {policy.realm!r} and phones would be refused: import "
                                f"the account with its password again (or set sip_realm back to {realm!r})")
                continue
            out[a.user] = ("a1-hash", digest)
        elif a.password:
            unhashable.append(a.user)
        else:
            # FreeSWITCH accepts any REGISTER for a user without a password (sofia_reg.c
            # sofia_reg_parse_auth: allow_empty_password defaults to true).
            problems.append(f"account user {a.user!r}: has no password; anyone could register as it")
    if unhashable:
        shown = ", ".join(repr(u) for u in unhashable[:5]) + (f" and {len(unhashable) - 5} more"
                                                               if len(unhashable) > 5 else "")
        problems.append(realm_missing(f"account user{'s' if len(unhashable) > 1 else ''} {shown}"))
    return out, problems


def voicemail_pins(data: ConfData, cfg: Config) -> dict[str, str]:
    """mod_voicemail's ``vm-password`` by mailbox: only with mailbox_plain_pins, and only PINs stored
    plain. mod_voicemail compares a PIN plain, or as ``vm-a1-hash`` = MD5(user:domain:PIN)
    (mod_voicemail.c voicemail_check_main), which trying every PIN reverses in a moment: neither
    keeps a PIN secret, so by default none is handed to it (README "SIP passwords and PINs")."""
    if not cfg.mailbox_plain_pins:
        return {}
    return {box: pin for box, pin in data.mailbox_pins.items() if pin and not is_hashed_pin(pin)}


def secret_warnings(data: ConfData, cfg: Config) -> list[str]:
    """What render-conf tells the operator about secrets still kept plain, or kept unusably."""
    policy = cfg.secret_policy()
    out = []
    plain = [a.user for a in data.accounts if a.password]
    if plain and not policy.plain_passwords:
        out.append(f"{len(plain)} account(s) still hold their SIP password plain in the database (rendered as "
                   "its a1-hash): run `fsivr db hash-secrets` to keep only the hash")
    pins = [box for box, pin in data.mailbox_pins.items() if pin and not is_hashed_pin(pin)]
    if pins and not policy.plain_pins:
        out.append(f"{len(pins)} mailbox PIN(s) are stored plain in the database (and not rendered): run "
                   "`fsivr db hash-secrets` to keep only their scrypt hash")
    hashed = [box for box, pin in data.mailbox_pins.items() if is_hashed_pin(pin)]
    if hashed and policy.plain_pins:
        out.append(f"mailbox_plain_pins is on, but {len(hashed)} mailbox PIN(s) are stored hashed and cannot be "
                   f"handed to mod_voicemail ({', '.join(sorted(hashed)[:5])}): import them again with the PIN")
    return out


def check_data(data: ConfData, cfg: Config) -> list[str]:
    problems = []
    for a in data.accounts:
        if not DIALABLE_NAME.match(a.user):
            problems.append(f"account user {a.user!r}: use letters, digits and _ . + - only")
    problems += credentials(data, cfg)[1]
    for gw in data.gateways:
        if not DIALABLE_NAME.match(gw.name):
            problems.append(f"gateway {gw.name!r}: name must be letters, digits and _ . + - only")
        if gw.register and (not gw.username or not gw.password):
            # sofia.c parse_gateways skips a registering gateway without them.
            problems.append(f"gateway {gw.name!r}: register needs a username and a password")
        for key in gw.params or {}:
            if not PARAM_NAME.match(str(key)):
                problems.append(f"gateway {gw.name!r}: parameter name {key!r} is not a sofia gateway parameter")
    ours = {number for number, _ in data.numbers}
    for number, exit_to in data.numbers:
        if not ROUTABLE_NUMBER.match(number):
            problems.append(f"number {number!r}: only letters, digits and + * # _ . - can be routed")
        if exit_to is None:
            continue
        # The transfer action's data is variable-expanded by FreeSWITCH when it runs
        # (switch_core_session_exec): ${system(...)} must never reach it, escaped or not.
        if not EXIT_DESTINATION.match(exit_to):
            problems.append(f"number {number!r}: exit destination {exit_to!r} must be EXTENSION "
                            "or EXTENSION XML CONTEXT")
        elif exit_extension(exit_to) in ours:
            problems.append(f"number {number!r}: exit destination {exit_to!r} is a number routed to fsivr "
                            "(the call would reach the socket again)")
    if not DIALABLE_NAME.match(cfg.dialplan_context) or not DIALABLE_NAME.match(cfg.gateway_profile):
        problems.append("dialplan_context / gateway_profile must be plain names")
    try:
        lots = cfg.lots()
    except ValueError as exc:
        problems.append(str(exc))
    else:
        # A phone dialling a slot must reach the lot, not an account's extension or a number.
        taken = {n for n, _ in data.numbers} | {a.extension or a.user for a in data.accounts}
        for lot in lots.values():
            for slot in lot.slots:
                if slot in taken:
                    problems.append(f"parking lot {lot.name!r}: slot {slot} is also an account or a number")
    return problems


#: The dialplan context and extension the queue callback's placeholder loopback dials
#: (the default of config queue_callback_hold): a context of its own, reached by no SIP profile.
HOLD_CONTEXT, HOLD_EXTENSION = "fsivr_hold", "fsivr_queue_hold"


def render(data: ConfData, cfg: Config, templates: Path | None = None) -> dict[str, str]:
    """Relative path → XML text. Raises RenderError for unsafe data or output that does not parse."""
    # A number without its own exit destination gets the configured default: FreeSWITCH runs it
    # after `socket` when no fsivr accepts the call (and the exit node sends calls there).
    data = replace(data, numbers=[(n, exit_to or cfg.default_exit_destination or None)
                                  for n, exit_to in data.numbers])
    callcenter = callcenter_state(data, cfg)
    problems = check_data(data, cfg) + check_callcenter(callcenter)
    if problems:
        raise RenderError(problems)
    env = environment(templates)
    context = {"accounts": data.accounts, "gateways": data.gateways, "numbers": data.numbers,
               "credentials": credentials(data, cfg)[0], "pins": voicemail_pins(data, cfg),
               "socket_hosts": serve_hosts(cfg), "context": cfg.dialplan_context,
               "phone_context": PHONE_CONTEXT, "lots": list(cfg.lots().values())}
    files = {
        "directory/default/fsivr.xml": env.get_template("directory.xml.j2").render(context),
        f"dialplan/{cfg.dialplan_context}/fsivr.xml": env.get_template("dialplan.xml.j2").render(context),
        f"sip_profiles/{cfg.gateway_profile}/fsivr.xml": env.get_template("gateways.xml.j2").render(context),
        CALLCENTER_CONF: render_callcenter(callcenter, env),
        # Always written, also with no lot: removing the last lot must remove its extensions.
        f"dialplan/{PHONE_CONTEXT}/fsivr_parking.xml": env.get_template("parking.xml.j2").render(context),
        # The queue callback's placeholder leg answers and parks here (config queue_callback_hold).
        f"dialplan/{HOLD_CONTEXT}.xml": env.get_template("queue_hold.xml.j2").render(
            hold_context=HOLD_CONTEXT, hold_extension=HOLD_EXTENSION),
    }
    check_xml(files)
    return files


def check_xml(files: dict[str, str]) -> None:
    """Every file must be well-formed XML with an ``<include>`` root (what FreeSWITCH's
    X-PRE-PROCESS include expects of an included file)."""
    problems = []
    for path, text in files.items():
        try:
            root = ET.fromstring(text)
        except ET.ParseError as exc:
            problems.append(f"{path}: not well-formed XML: {exc}")
            continue
        if root.tag != "include":
            problems.append(f"{path}: root element is <{root.tag}>, not <include>")
    if problems:
        raise RenderError(problems)


#: Mode of a newly created file: they hold SIP a1-hashes (as good as the password for registering in
#: their realm) and trunk passwords, so not world-readable.
#: A rewritten file keeps the live file's mode, owner and group.
NEW_FILE_MODE = 0o640


def write(files: dict[str, str], out_dir: str | os.PathLike[str]) -> list[str]:
    """Replace the files whose content changed; return their relative paths.

    Each file is written to a temporary file in its own directory and renamed over the live one
    (os.replace is atomic on POSIX), so FreeSWITCH never reads half a file. Unchanged files are
    not touched (not even their mtime). A new file is NEW_FILE_MODE with its directory's group
    (so a FreeSWITCH running as that directory's group can read it); a rewritten one keeps the
    live file's mode, owner and group (as far as this process may set them).
    """
    root = Path(out_dir)
    changed = []
    for rel, text in sorted(files.items()):
        target = root / rel
        data = text.encode("utf-8")
        try:
            if target.read_bytes() == data:
                continue
        except FileNotFoundError:
            pass
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            st = target.stat()
            mode, owner = st.st_mode & 0o777, (st.st_uid, st.st_gid)
        except FileNotFoundError:
            mode, owner = NEW_FILE_MODE, (-1, target.parent.stat().st_gid)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            _chown(tmp, *owner)
            os.chmod(tmp, mode)
            os.replace(tmp, target)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        changed.append(rel)
    return changed


def _chown(path: str, uid: int, gid: int) -> None:
    current = os.stat(path)
    if (uid in (-1, current.st_uid)) and gid == current.st_gid:
        return
    try:
        os.chown(path, uid, gid)
    except PermissionError:
        # Not root: the group only if we are in it; otherwise the file stays ours.
        try:
            os.chown(path, -1, gid)
        except PermissionError:
            pass
