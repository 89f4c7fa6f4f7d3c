"""YAML files as data: a single scenario, or a bundle of scenarios plus directory sections.

Parsing checks the shape of everything (known keys, types) and reports every problem with the
file and line; what the nodes mean is checked by validation (fsivr.scenario.validate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fsivr.callcenter.state import QUEUE_FIELD_PARAMS
from fsivr.engine.limits import MAX_NODES, MAX_TEXT, text_too_long
from fsivr.engine.pins import check_hash
from fsivr.engine.scenario import ScenarioSpec
from fsivr.scenario.yamlio import Lines, YamlError, load_yaml, read_limited
from fsivr.store.directory import (
    AGENT_CONTACTS,
    DEPARTMENT,
    GROUP_STRATEGIES,
    Account,
    Agent,
    Contact,
    Directory,
    Gateway,
    Group,
    GroupMember,
    Mailbox,
    Prompt,
    Queue,
    QueueAgent,
)
from fsivr.store.models import AGENT_STATUSES
from fsivr.store.names import (
    DIALABLE_NAME,
    DIALABLE_NAME_RULE,
    EXIT_DESTINATION,
    EXIT_DESTINATION_RULE,
    QUEUE_NAME,
    QUEUE_NAME_RULE,
    ROUTABLE_NUMBER,
    ROUTABLE_NUMBER_RULE,
)
from fsivr.store.phone import e164
from fsivr.store.secrets import split_a1

DocPath = tuple[str | int, ...]

SECTIONS = ("accounts", "groups", "queues", "agents", "mailboxes", "prompts", "contacts", "gateways")
#: Top-level keys saying who the bundle is: ``bundle: NAME`` (the owner of the directory entries it
#: brings in; default: the file's name) and ``owns_directory: true`` (it may change entries other
#: bundles brought in, as ``fsivr import --force`` may).
BUNDLE_KEYS = ("bundle", "owns_directory")
SCENARIO_KEYS = ("scenario", "description", "numbers", "start", "after_call", "fallback", "nodes")
#: mod_callcenter's strategies in v1.11.1 (mod_callcenter.c agent_dispatch_thread_run / the
#: ORDER BY of each in cc_queue's agent query). ``sequentially-by-next-agent-order`` is not one of
#: them in 1.11.1: an unknown name silently falls back to sequentially-by-agent-order's order, so
#: it is refused rather than accepted as something it is not.
QUEUE_STRATEGIES = ("ring-all", "longest-idle-agent", "round-robin", "top-down", "agent-with-least-talk-time",
                    "agent-with-fewest-calls", "sequentially-by-agent-order", "random", "ring-progressively")
#: Queue parameters of mod_callcenter (mod_callcenter.c queue_set_config, v1.11.1) that a queue's
#: ``params`` may set; the others have fields of their own (QUEUE_FIELD_PARAMS).
QUEUE_PARAMS = ("announce-sound", "announce-frequency", "record-template", "time-base-score",
                "ring-progressively-delay", "skip-agents-with-external-calls", "agent-no-answer-status")


#: Longest text per field, as the columns hold it (fsivr.store.models); other names: _NAME_LIMIT.
_NAME_LIMIT = 200
_LIMITS = {"user": 64, "extension": 64, "number": 64, "numbers": 64, "caller_id": 64, "mobile": 64,
           "members": 64, "agents": 64, "account": 64, "owner": 64, "backup_owner": 64, "pin": 200,
           "email": 320, "file": 500, "music": 500, "proxy": 255, "realm": 255, "a1_hash": 300, "voice": 100,
           "language": 32}
#: Free text (TTS, descriptions): only the general bound on text values.
_FREE_TEXT = {"text", "description"}


@dataclass
class ScenarioDoc:
    """A scenario as read from a file, with what the spec itself does not carry."""

    spec: ScenarioSpec
    #: number -> where the ``exit`` node sends calls to it (only numbers that have one).
    exits: dict[str, str] = field(default_factory=dict)
    #: The file's text when the file held this scenario alone (export then returns it, comments and all).
    source: str | None = None
    #: Where in the file the scenario's mapping is (a prefix of ``Bundle.lines`` paths).
    path: DocPath = ()


@dataclass
class Bundle:
    scenarios: list[ScenarioDoc] = field(default_factory=list)
    directory: Directory = field(default_factory=Directory)
    filename: str | None = None
    lines: Lines = field(default_factory=dict)
    #: id() of a directory entry -> where it was written (``numbers:`` makes several contacts of one).
    origins: dict[int, DocPath] = field(default_factory=dict)
    #: The ``bundle:`` key; None: the file's name stands for it (:attr:`owner`).
    name: str | None = None
    owns_directory: bool = False
    #: SHA-256 (hex) of the file's text as UTF-8, recorded with the import.
    sha256: str | None = None

    @property
    def owner(self) -> str:
        """Who the directory entries this bundle brings in belong to."""
        if self.name:
            return self.name
        return Path(self.filename).name if self.filename else "(unnamed bundle)"

    def origin(self, entry: object, default: DocPath = ()) -> DocPath:
        return self.origins.get(id(entry), default)

    def line(self, path: DocPath) -> int | None:
        """The line of ``path``, or of its nearest ancestor that has one."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if not path:
                return None
            path = path[:-1]

    def where(self, path: DocPath) -> str:
        parts = [p for p in (self.filename, self.line(path)) if p is not None]
        return ":".join(map(str, parts))


class BundleError(ValueError):
    """The file is not a valid scenario or bundle; ``problems`` lists every one (file:line: message)."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


def load_file(path: str | Path) -> Bundle:
    path = Path(path)
    try:
        text = read_limited(path)
    except YamlError as exc:
        raise BundleError([str(exc)]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BundleError([f"{path}: cannot read: {exc}"]) from None
    return parse_text(text, str(path))


def parse_text(text: str, filename: str | None = None) -> Bundle:
    try:
        data, lines = load_yaml(text, filename)
    except YamlError as exc:
        raise BundleError([str(exc)]) from None
    return _Parser(filename, lines).bundle(data, text)


class _Parser:
    def __init__(self, filename: str | None, lines: Lines) -> None:
        self.out = Bundle(filename=filename, lines=lines)
        self.problems: list[str] = []

    def fail(self, path: DocPath, message: str) -> None:
        where = self.out.where(path)
        dotted = ".".join(str(p) if isinstance(p, str) else f"[{p}]" for p in path).replace(".[", "[")
        self.problems.append(f"{where}: {dotted}: {message}" if dotted else f"{where}: {message}")

    def bundle(self, data: Any, text: str) -> Bundle:
        if not isinstance(data, Mapping):
            self.fail((), "expected a mapping with `scenario:` (one scenario) or `scenarios:` (a bundle)")
            raise BundleError(self.problems)
        data = _str_keys(data)
        single = "scenario" in data
        allowed = set(SECTIONS) | set(BUNDLE_KEYS) | (set(SCENARIO_KEYS) if single else {"scenarios"})
        for key in data:
            if key not in allowed:
                hint = " (a file is one scenario, with `scenario:`, or a bundle, with `scenarios:`)" \
                    if key in SCENARIO_KEYS or key == "scenarios" else ""
                self.fail((key,), f"unknown key{hint}; allowed: {', '.join(sorted(allowed))}")
        self.out.sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
        self.out.name = self.text(data, "bundle", ())
        self.out.owns_directory = self.boolean(data, "owns_directory", (), False)
        if single:
            has_directory = any(s in data for s in SECTIONS)
            doc = self.scenario({k: v for k, v in data.items() if k in SCENARIO_KEYS}, ())
            if doc is not None:
                doc.source = None if has_directory else text
                self.out.scenarios.append(doc)
        elif "scenarios" in data:
            items = self.items(data["scenarios"], ("scenarios",))
            for i, raw in items:
                doc = self.scenario(raw, ("scenarios", i))
                if doc is not None:
                    self.out.scenarios.append(doc)
        self.directory(data)
        if self.problems:
            raise BundleError(self.problems)
        return self.out

    # --- scenarios -------------------------------------------------------------------------

    def scenario(self, raw: Any, path: DocPath) -> ScenarioDoc | None:
        if not isinstance(raw, Mapping):
            self.fail(path, "a scenario must be a mapping")
            return None
        raw = _str_keys(raw)
        for key in raw:
            if key not in SCENARIO_KEYS:
                self.fail((*path, key), f"unknown key; allowed: {', '.join(SCENARIO_KEYS)}")
        name = self.text(raw, "scenario", path, required=True)
        start = self.text(raw, "start", path, required=True)
        description = self.text(raw, "description", path) or ""
        after_call = self.text(raw, "after_call", path)
        fallback = self.text(raw, "fallback", path)
        nodes = raw.get("nodes")
        if not isinstance(nodes, Mapping) or not nodes:
            self.fail((*path, "nodes"), "is required: a mapping of node id to node")
            nodes = {}
        if len(nodes) > MAX_NODES:
            # Refused before its nodes are walked: checking them all is what would take the time.
            self.fail((*path, "nodes"), f"has {len(nodes)} nodes; the limit is {MAX_NODES} nodes per scenario "
                                        "(split it into scenarios joined by goto nodes)")
            nodes = {}
        for node_id, node in nodes.items():
            if len(node_id) > _NAME_LIMIT:
                self.fail((*path, "nodes", node_id), f"node id is too long (at most {_NAME_LIMIT} characters)")
            self.json_safe(node, (*path, "nodes", node_id))
        numbers: list[str] = []
        exits: dict[str, str] = {}
        for i, item in self.items(raw.get("numbers", []), (*path, "numbers")):
            where = (*path, "numbers", i)
            if isinstance(item, Mapping):
                item = _str_keys(item)
                extra = set(item) - {"number", "exit_destination"}
                if extra:
                    self.fail(where, f"unknown key(s) {', '.join(sorted(extra))}; allowed: number, exit_destination")
                number = self.text(item, "number", where, required=True)
                exit_to = self.text(item, "exit_destination", where)
                if exit_to is not None and not EXIT_DESTINATION.match(exit_to):
                    self.fail((*where, "exit_destination"), f"{exit_to!r} is not a destination: use "
                                                            f"{EXIT_DESTINATION_RULE}")
                    exit_to = None
                if number and exit_to:
                    exits[number] = exit_to
            else:
                number = self.scalar_text(item, where)
            if number and not ROUTABLE_NUMBER.match(number):
                # The dialplan matches a number as the trunk delivers it; render-conf would refuse
                # this one (and with it every other number), so it is refused here.
                self.fail(where, f"number {number!r} cannot be routed: use {ROUTABLE_NUMBER_RULE}")
                number = None
            if number:
                if number in numbers:
                    self.fail(where, f"number {number!r} is listed twice")
                numbers.append(number)
        if name is None or start is None:
            return None
        spec = ScenarioSpec(name=name, start=start, nodes=dict(nodes), description=description,
                            numbers=numbers, after_call=after_call, fallback=fallback)
        return ScenarioDoc(spec=spec, exits=exits, path=path)

    # --- directory -------------------------------------------------------------------------

    def directory(self, data: Mapping[str, Any]) -> None:
        d = self.out.directory
        parsers: dict[str, tuple[Callable[[dict[str, Any], DocPath], Any], list[Any]]] = {
            "mailboxes": (self.mailbox, d.mailboxes), "accounts": (self.account, d.accounts),
            "groups": (self.group, d.groups), "queues": (self.queue, d.queues), "agents": (self.agent, d.agents),
            "prompts": (self.prompt, d.prompts), "contacts": (self.contact, d.contacts),
            "gateways": (self.gateway, d.gateways),
        }
        for section, (parse, into) in parsers.items():
            for i, raw in self.items(data.get(section, []), (section,)):
                path = (section, i)
                if not isinstance(raw, Mapping):
                    self.fail(path, "must be a mapping")
                    continue
                entry = parse(_str_keys(raw), path)
                if entry is not None:
                    entries = entry if isinstance(entry, list) else [entry]
                    into.extend(entries)
                    self.out.origins.update((id(e), path) for e in entries)

    def mailbox(self, raw: dict[str, Any], path: DocPath) -> Mailbox | None:
        self.keys(raw, path, ("box", "email", "pin"))
        box = self.text(raw, "box", path, required=True)
        return Mailbox(box, self.text(raw, "email", path), self.text(raw, "pin", path)) if box else None

    def account(self, raw: dict[str, Any], path: DocPath) -> Account | None:
        self.keys(raw, path, ("user", "password", "a1_hash", "name", "caller_id", "extension", "mobile", "email",
                              "mailbox"))
        user = self.text(raw, "user", path, required=True)
        mobile = raw.get("mobile", [])
        mobiles = [mobile] if not isinstance(mobile, list) else mobile
        mobile_list = []
        for i, v in enumerate(mobiles):
            where = (*path, "mobile", i) if isinstance(mobile, list) else (*path, "mobile")
            # The ringing nodes dial mobiles through a gateway: what cannot be called is refused
            # here (with the reason) rather than failing a ringing node on a live call; the rest
            # is stored in E.164, whatever way it was written.
            m = self.phone(v, where)
            if m is not None:
                mobile_list.append(m)
        if user is None:
            return None
        if not DIALABLE_NAME.match(user):
            self.fail((*path, "user"), f"{user!r} cannot be dialled: use {DIALABLE_NAME_RULE}")
        password = self.text(raw, "password", path)
        a1_hash = self.text(raw, "a1_hash", path)
        if password is None and a1_hash is None:
            # FreeSWITCH lets anyone register as a directory user without a password
            # (sofia_reg.c sofia_reg_parse_auth, allow_empty_password defaults to true).
            self.fail(path, f"account {user!r}: `password` is required (without one anyone could register as it)")
        elif password is not None and a1_hash is not None:
            self.fail((*path, "a1_hash"), f"account {user!r}: give `password` or `a1_hash` (what `fsivr export` "
                                          "writes in its place), not both")
        elif a1_hash is not None:
            try:
                split_a1(a1_hash)
            except ValueError as exc:
                self.fail((*path, "a1_hash"), f"account {user!r}: {exc}")
        return Account(user=user, password=password, name=self.text(raw, "name", path),
                       caller_id=self.text(raw, "caller_id", path), extension=self.text(raw, "extension", path),
                       mobile=mobile_list, email=self.text(raw, "email", path),
                       mailbox=self.text(raw, "mailbox", path), a1_hash=a1_hash)

    def group(self, raw: dict[str, Any], path: DocPath) -> Group | None:
        self.keys(raw, path, ("name", "strategy", "ring_timeout", "members", "department"))
        name = self.text(raw, "name", path, required=True)
        strategy = self.choice(raw, "strategy", path, GROUP_STRATEGIES, "simultaneous")
        # 0 would be a leg that never rings (and an originate_timeout of 0 means FreeSWITCH's 60 s).
        ring_timeout = self.integer(raw, "ring_timeout", path, 20, minimum=1)
        members: list[GroupMember] = []
        for i, m in self.items(raw.get("members", []), (*path, "members")):
            where = (*path, "members", i)
            if isinstance(m, Mapping):
                m = _str_keys(m)
                self.keys(m, where, ("account", "ring_timeout", "weight"))
                account = self.text(m, "account", where, required=True)
                if account:
                    members.append(GroupMember(account, self.integer(m, "ring_timeout", where, None, minimum=1),
                                               self.integer(m, "weight", where, 1, minimum=0)))
            elif (account := self.scalar_text(m, where)) is not None:
                members.append(GroupMember(account))
        return Group(name, strategy, ring_timeout, members, self.department(raw, path, f"group {name!r}")) \
            if name else None

    def department(self, raw: dict[str, Any], path: DocPath, what: str) -> str | None:
        """Exactly three digits, as text: YAML reads ``department: 007`` as the number 7."""
        value = raw.get("department")
        if value is None:
            return None
        number = isinstance(value, int) and not isinstance(value, bool)
        text = str(value) if number else value
        if not isinstance(text, str) or not DEPARTMENT.fullmatch(text):
            hint = " (quote it: YAML reads a leading 0 away)" if number else ""
            self.fail((*path, "department"), f"{what}: department must be exactly three digits, got {value!r}{hint}")
            return None
        return text

    def queue(self, raw: dict[str, Any], path: DocPath) -> Queue | None:
        self.keys(raw, path, ("name", *QUEUE_FIELD_PARAMS, "params", "agents", "department"))
        name = self.text(raw, "name", path, required=True)
        if name is not None and not QUEUE_NAME.match(name):
            # It is an argument of callcenter_config and of the callcenter application.
            self.fail((*path, "name"), f"queue {name!r}: use {QUEUE_NAME_RULE}")
        agents: list[QueueAgent] = []
        for i, a in self.items(raw.get("agents", []), (*path, "agents")):
            where = (*path, "agents", i)
            if isinstance(a, Mapping):
                a = _str_keys(a)
                self.keys(a, where, ("account", "level", "position"))
                account = self.text(a, "account", where, required=True)
                if account:
                    agents.append(QueueAgent(account, self.integer(a, "level", where, 1, minimum=1),
                                             self.integer(a, "position", where, 1, minimum=1)))
            elif (account := self.scalar_text(a, where)) is not None:
                agents.append(QueueAgent(account))
        params = self.mapping(raw, "params", path)
        for key, value in params.items():
            if key not in QUEUE_PARAMS:
                hint = next((f"; use `{f}`" for f, p in QUEUE_FIELD_PARAMS.items() if p == key), "")
                self.fail((*path, "params", key), f"not a mod_callcenter queue parameter fsivr passes on{hint} "
                                                  f"(allowed: {', '.join(QUEUE_PARAMS)})")
            elif not isinstance(value, (str, int, bool)) or (isinstance(value, str) and "\n" in value):
                self.fail((*path, "params", key), "must be one line of text, a number or true/false")
        if "agent-no-answer-status" in params and params["agent-no-answer-status"] not in AGENT_STATUSES:
            self.fail((*path, "params", "agent-no-answer-status"), f"must be one of {', '.join(AGENT_STATUSES)}")
        q = Queue(name or "", strategy=self.choice(raw, "strategy", path, QUEUE_STRATEGIES, "longest-idle-agent"),
                  music=self.text(raw, "music", path), max_wait=self.integer(raw, "max_wait", path, 0),
                  max_wait_no_agent=self.integer(raw, "max_wait_no_agent", path, 0),
                  max_wait_no_agent_reached=self.integer(raw, "max_wait_no_agent_reached", path, 5),
                  tier_rules_apply=self.boolean(raw, "tier_rules_apply", path, False),
                  tier_rule_wait_second=self.integer(raw, "tier_rule_wait_second", path, 0),
                  tier_rule_wait_multiply_level=self.boolean(raw, "tier_rule_wait_multiply_level", path, False),
                  tier_rule_no_agent_no_wait=self.boolean(raw, "tier_rule_no_agent_no_wait", path, True),
                  discard_abandoned_after=self.integer(raw, "discard_abandoned_after", path, 60),
                  abandoned_resume_allowed=self.boolean(raw, "abandoned_resume_allowed", path, False),
                  params=params, agents=agents, department=self.department(raw, path, f"queue {name!r}"))
        return q if name else None

    def agent(self, raw: dict[str, Any], path: DocPath) -> Agent | None:
        """An employee's agent settings (accounts named only under a queue get the defaults)."""
        delays = ("max_no_answer", "wrap_up_time", "reject_delay_time", "busy_delay_time", "no_answer_delay_time")
        self.keys(raw, path, ("account", "contact", "gateway", "status", "pin_hash", *delays))
        account = self.text(raw, "account", path, required=True)
        pin_hash = self.text(raw, "pin_hash", path)
        if pin_hash is not None:
            try:
                check_hash(pin_hash)
            except ValueError as exc:
                self.fail((*path, "pin_hash"), str(exc))
        gateway = self.text(raw, "gateway", path)
        if gateway is not None and not DIALABLE_NAME.match(gateway):
            self.fail((*path, "gateway"), f"{gateway!r} cannot be dialled through: use {DIALABLE_NAME_RULE}")
        # No status: the stored one stays (Agent.status); a new agent starts Logged Out.
        status = (self.choice(raw, "status", path, AGENT_STATUSES, "Logged Out")
                  if raw.get("status") is not None else None)
        defaults = Agent("")
        agent = Agent(account or "", contact=self.choice(raw, "contact", path, AGENT_CONTACTS, "sip"),
                      gateway=gateway, status=status,
                      pin_hash=pin_hash, **{d: self.integer(raw, d, path, getattr(defaults, d)) for d in delays})
        return agent if account else None

    def prompt(self, raw: dict[str, Any], path: DocPath) -> Prompt | None:
        self.keys(raw, path, ("name", "file", "text", "language", "voice"))
        name = self.text(raw, "name", path, required=True)
        file, text = self.text(raw, "file", path), self.text(raw, "text", path)
        if file is None and text is None:
            self.fail(path, "a prompt needs `file` (audio under prompts/) or `text` (spoken by TTS)")
        if file is not None and (file.startswith("/") or ".." in Path(file).parts):
            self.fail((*path, "file"), "must be a path inside the prompts directory")
        return Prompt(name, file, text, self.text(raw, "language", path), self.text(raw, "voice", path)) \
            if name else None

    def contact(self, raw: dict[str, Any], path: DocPath) -> list[Contact] | None:
        self.keys(raw, path, ("number", "numbers", "name", "owner", "backup_owner"))
        numbers: list[str] = []
        # In E.164, so a caller ID in any of its spellings finds the contact.
        if raw.get("number") is not None:
            n = self.phone(raw["number"], (*path, "number"))
            numbers += [n] if n else []
        for i, v in self.items(raw.get("numbers", []), (*path, "numbers")):
            n = self.phone(v, (*path, "numbers", i))
            numbers += [n] if n else []
        if not numbers:
            self.fail(path, "a contact needs `number` (or `numbers`)")
        name = self.text(raw, "name", path)
        owner, backup = self.text(raw, "owner", path), self.text(raw, "backup_owner", path)
        return [Contact(n, name, owner, backup) for n in numbers]

    def gateway(self, raw: dict[str, Any], path: DocPath) -> Gateway | None:
        self.keys(raw, path, ("name", "proxy", "realm", "username", "password", "register", "transport",
                              "caller_id", "params"))
        name = self.text(raw, "name", path, required=True)
        if name is not None and not DIALABLE_NAME.match(name):
            # It is dialled as sofia/gateway/NAME/NUMBER.
            self.fail((*path, "name"), f"gateway {name!r} cannot be dialled through: use {DIALABLE_NAME_RULE}")
        transport = raw.get("transport")
        if transport is not None and transport not in ("udp", "tcp", "tls"):
            self.fail((*path, "transport"), "must be one of udp, tcp, tls")
        gw = Gateway(name or "", proxy=self.text(raw, "proxy", path), realm=self.text(raw, "realm", path),
                     username=self.text(raw, "username", path), password=self.text(raw, "password", path),
                     register=self.boolean(raw, "register", path, False), transport=transport,
                     caller_id=self.text(raw, "caller_id", path), params=self.mapping(raw, "params", path))
        return gw if name else None

    # --- field helpers ---------------------------------------------------------------------

    def items(self, value: Any, path: DocPath) -> list[tuple[int, Any]]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.fail(path, f"must be a list, got {type(value).__name__}")
            return []
        return list(enumerate(value))

    def keys(self, raw: Mapping[str, Any], path: DocPath, allowed: tuple[str, ...]) -> None:
        for key in raw:
            if key not in allowed:
                self.fail((*path, key), f"unknown key; allowed: {', '.join(allowed)}")

    def scalar_text(self, value: Any, path: DocPath) -> str | None:
        # YAML reads `user: 101` as a number; the user meant the text.
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value.strip():
            self.fail(path, f"must be text, got {value!r}")
            return None
        name = next((p for p in reversed(path) if isinstance(p, str)), "")
        limit = MAX_TEXT if name in _FREE_TEXT else _LIMITS.get(name, _NAME_LIMIT)
        if limit is not None and len(value) > limit:
            # The column would reject it (PostgreSQL) or keep it where nothing else fits (SQLite).
            self.fail(path, f"is too long ({len(value)} characters, at most {limit})")
            return None
        return value

    def phone(self, value: Any, path: DocPath) -> str | None:
        """A person's phone number in E.164 (fsivr.store.phone), or a problem with the reason."""
        text = self.scalar_text(value, path)
        if text is None:
            return None
        try:
            return e164(text)
        except ValueError as exc:
            self.fail(path, str(exc))
            return None

    def text(self, raw: Mapping[str, Any], key: str, path: DocPath, required: bool = False) -> str | None:
        if raw.get(key) is None:
            if required:
                self.fail((*path, key) if key in raw else path, f"`{key}` is required")
            return None
        return self.scalar_text(raw[key], (*path, key))

    def integer(self, raw: Mapping[str, Any], key: str, path: DocPath, default: Any, minimum: int = 0) -> Any:
        value = raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail((*path, key), f"must be a whole number >= {minimum}, got {value!r}")
            return default
        return value

    def boolean(self, raw: Mapping[str, Any], key: str, path: DocPath, default: bool) -> bool:
        value = raw.get(key)
        if value is None:
            return default
        if not isinstance(value, bool):
            self.fail((*path, key), f"must be true or false, got {value!r}")
            return default
        return value

    def choice(self, raw: Mapping[str, Any], key: str, path: DocPath, choices: tuple[str, ...], default: str) -> str:
        value = raw.get(key)
        if value is None:
            return default
        if value not in choices:
            self.fail((*path, key), f"must be one of {', '.join(choices)}, got {value!r}")
            return default
        return str(value)

    def mapping(self, raw: Mapping[str, Any], key: str, path: DocPath) -> dict[str, Any]:
        value = raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail((*path, key), "must be a mapping")
            return {}
        self.json_safe(value, (*path, key))
        return _str_keys(value)

    def json_safe(self, value: Any, path: DocPath) -> None:
        """Node parameters are stored as JSON: reject what JSON cannot hold (explicit YAML tags), and
        text longer than a text value may be (fsivr.engine.limits)."""
        if isinstance(value, Mapping):
            for k, v in value.items():
                if not isinstance(k, (str, int)) or isinstance(k, bool):
                    self.fail(path, f"key {k!r} must be text")
                self.json_safe(v, (*path, str(k)))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                self.json_safe(v, (*path, i))
        elif isinstance(value, str):
            problem = text_too_long(value)
            if problem:
                self.fail(path, problem)
        elif value is not None and not isinstance(value, (int, float, bool)):
            self.fail(path, f"unsupported value {value!r} ({type(value).__name__})")


def _str_keys(value: Mapping[Any, Any]) -> dict[str, Any]:
    """Mapping keys as text, recursively (YAML reads menu key `1:` as a number; JSON keys are text)."""
    return {str(k): (_str_keys(v) if isinstance(v, Mapping) else
                     [_str_keys(x) if isinstance(x, Mapping) else x for x in v] if isinstance(v, list) else v)
            for k, v in value.items()}
