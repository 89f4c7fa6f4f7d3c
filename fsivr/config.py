"""Configuration: one YAML file plus environment variables (environment wins).

Every setting has a safe default: listen on loopback, SQLite under ./var. Secrets (database
password, ESL password, SMTP credentials) are never logged: ``Config.redacted()`` is what gets
printed.
"""

from __future__ import annotations

import difflib
import logging
import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from fsivr.parking import Lot, parse_lots
from fsivr.store.names import EXIT_DESTINATION, EXIT_DESTINATION_RULE
from fsivr.store.secrets import REALM, REALM_RULE, SecretPolicy

ENV_PREFIX = "FSIVR_"
#: ``FSIVR_`` variables that are not settings; any other unknown one is an error, as an unknown
#: setting in the file is (a typo such as FSIVR_LISTEN_PRT would otherwise be silently ignored).
OTHER_ENV = {
    "CONFIG": "the configuration file",
    "SQL_LOG": "file the SQL statements are logged to (fsivr.store.db)",
    # The test suite's and bench's own switches; the servers they start inherit them.
    "REQUIRE_POSTGRES": "tests", "TEST_PG_URL": "tests", "TRACES": "tests", "UPDATE_GOLDEN": "tests",
    "FREESWITCH_SRC": "tests (a FreeSWITCH source tree whose conf/vanilla the render tests read)",
}
#: Port of the metrics/health endpoint when ``metrics_listen`` names only a host or only "on".
METRICS_PORT = 9184


@dataclass
class Config:
    database_url: str = "sqlite:///var/fsivr.sqlite3"
    #: Where ``fsivr serve`` listens for FreeSWITCH's outbound-socket connections.
    listen_host: str = "127.0.0.1"
    listen_port: int = 8084
    #: Addresses or networks FreeSWITCH may connect from.
    esl_allow: list[str] = field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])
    #: Inbound ESL (reloadxml, originate, callcenter_config) — also the address of the live event
    #: link that ``fsivr serve`` keeps open (fsivr.esl.link).
    esl_host: str = "127.0.0.1"
    esl_port: int = 8021
    esl_password: str = "ClueCon"
    #: ``fsivr serve`` keeps one inbound connection open (mod_callcenter's agent events, api/bgapi
    #: for queues) and keeps mod_callcenter in step with the database through it. Off: a server
    #: that must not touch FreeSWITCH's queue state.
    live_link: bool = True
    #: Seconds between two reconnect attempts of the live link grow from 0.5 up to this.
    live_link_max_backoff: float = 30.0
    #: How often ``fsivr serve`` checks the database for changed queues, agents and tiers.
    callcenter_interval: float = 2.0
    #: FreeSWITCH's configuration directory as this host sees it (e.g. /etc/freeswitch). When set,
    #: ``fsivr serve`` rewrites autoload_configs/callcenter.conf.xml there (and reloadxml) before it
    #: loads a new or changed queue; empty: ``fsivr render-conf`` must have written it.
    freeswitch_conf_dir: str = ""
    #: Seconds FreeSWITCH may take to answer a socket command.
    command_timeout: float = 10.0
    #: Upper bound for one application (a prompt, a menu, a bridge) to complete; a safety net, as
    #: FreeSWITCH normally ends each one by itself.
    app_timeout: float = 4 * 3600.0
    #: ``linger N`` after hangup: time for post-call work before FreeSWITCH closes the socket.
    linger_seconds: int = 30
    #: Scenario for numbers that have none; empty = hang up politely.
    default_scenario: str = ""
    #: Where calls go when their number has no ``exit_destination`` of its own: rendered after
    #: ``socket`` in the dialplan (fsivr down) and used by ``exit`` nodes. ``EXTENSION`` or
    #: ``EXTENSION XML CONTEXT``; empty = such calls are hung up.
    default_exit_destination: str = ""
    #: How often the server checks the store for changed scenarios.
    reload_interval: float = 2.0
    #: SIGTERM: how long calls in progress may go on before they are ended.
    shutdown_grace: float = 60.0
    #: Where prompt files live (relative names in the store resolve here).
    prompts_dir: str = "prompts"
    #: The same directory as FreeSWITCH sees it, when it runs on another host or in a container
    #: (empty: the path above, resolved).
    freeswitch_prompts_dir: str = ""
    #: Where calls leave files: voicemail/, recordings/, fax/ (received faxes; fax-cache/ the TIFFs
    #: made from documents to send). FreeSWITCH writes there, so it must see the same path.
    media_dir: str = "var/media"
    #: Documents fax_send may send (names in scenarios resolve here, never outside).
    documents_dir: str = "documents"
    #: Ghostscript and libtiff's tiff2pdf (Debian: ghostscript, libtiff-tools) for faxes.
    gs_command: str = "gs"
    tiff2pdf_command: str = "tiff2pdf"
    #: SIP domain used in dial strings (``user/101@domain``).
    sip_domain: str = "$${domain}"
    #: The realm phones answer SIP digest challenges in (the sofia profile's ``challenge-realm``,
    #: or the host phones register to): SIP passwords are stored and rendered only as
    #: MD5(user:realm:password), FreeSWITCH's ``a1-hash``. Empty: sip_domain when that is a plain
    #: name (not ``$${domain}``, which only FreeSWITCH knows). See README "SIP passwords and PINs".
    sip_realm: str = ""
    #: Keep SIP passwords as given in the database and render them as ``password`` (e.g. phones
    #: that use different realms, or SHA-256 digests); default: only the a1-hash is kept.
    sip_plain_passwords: bool = False
    #: Keep mailbox PINs as given and render them as mod_voicemail's ``vm-password``; default:
    #: only an scrypt hash is kept (fsivr never checks one; mod_voicemail cannot check it).
    mailbox_plain_pins: bool = False
    #: Language and voice for text prompts (mod_flite by default).
    tts_engine: str = "flite"
    tts_voice: str = "slt"
    #: Voice per language for text prompts with a ``language``: "pl=jola,de=kal" (env) or a list.
    #: A voice "espeak-ng:NAME" is rendered by fsivr to a WAV file (fsivr/speech/tts.py) — flite,
    #: FreeSWITCH's engine, has English voices only; any other voice is FreeSWITCH's tts_engine's.
    tts_voices: list[str] = field(default_factory=lambda: ["pl=espeak-ng:pl", "ru=espeak-ng:ru"])
    #: Sample rate of rendered and uploaded prompts: what FreeSWITCH plays without resampling
    #: (8000 for G.711 calls, 16000 for G.722).
    prompt_rate: int = 8000
    #: Speech speed (words per minute) and volume (0-200, 100 = as the engine speaks) of rendered text.
    tts_speed: int = 160
    tts_volume: int = 100
    #: Language of say nodes that name none.
    language: str = "en"
    #: Languages the say node speaks through FreeSWITCH's say application (mod_say_<lang> and that
    #: language's sound files are installed): "ru" or "ru,en". Others — and what a module cannot say
    #: right, e.g. Polish amounts (mod_say_pl says "dollars") — are rendered to words and spoken by TTS.
    say_modules: list[str] = field(default_factory=list)
    log_level: str = "INFO"
    #: "text" (one human line per record) or "json" (one JSON object per line, with the call's
    #: uuid, number, scenario and node where they apply).
    log_format: str = "text"
    #: HOST:PORT (or PORT: loopback) of the Prometheus metrics and /health endpoint; empty = off.
    metrics_listen: str = ""
    #: /health reports ready only if the database answered within this many seconds.
    health_db_max_age: float = 30.0
    #: What a caller hears while people are rung (a FreeSWITCH tone: 425 Hz, 1 s on / 4 s off,
    #: the European ringback of ITU-T E.180; e.g. "%(2000,4000,440,480)" for the US one).
    ringback: str = "%(1000,4000,425)"
    #: How often the server re-reads accounts, groups, contacts and gateways.
    directory_interval: float = 10.0
    #: Address FreeSWITCH's dialplan sends calls to (``socket HOST:PORT async full``); empty =
    #: listen_host:listen_port.
    serve_address: str = ""
    #: A second ``fsivr serve`` tried when the first does not accept the call; empty = none.
    serve_failover: str = ""
    #: Dialplan context the rendered numbers live in (calls from trunks arrive in ``public``).
    dialplan_context: str = "public"
    #: Gateway for external numbers when a node names none; empty = the gateway named "default",
    #: else the only one, else the first by name.
    default_gateway: str = ""
    #: Sofia profile the rendered gateways belong to (its ``gateways`` section includes them).
    gateway_profile: str = "external"

    # --- fsivr worker: the outbox (fsivr/worker/) ---
    #: Attempts before a notification is given up on (state ``dead``; ``fsivr outbox retry`` revives).
    worker_max_attempts: int = 8
    #: Seconds before the first retry; doubled on each further one, up to worker_backoff_max.
    worker_backoff_base: float = 30.0
    worker_backoff_max: float = 3600.0
    #: Share of each delay that is random, so rows that failed together don't retry together.
    worker_backoff_jitter: float = 0.5
    #: How long a claimed row is the worker's own. A worker that dies mid-send leaves its row to
    #: others once this has passed; must exceed the longest send (the SMTP/HTTP timeouts below).
    worker_lease_seconds: float = 300.0
    #: How often an idle worker looks for due rows (at most; after catching up it looks again
    #: after 0.05 s, the wait doubling up to this: fsivr/worker/loop.py FIRST_IDLE).
    worker_poll_interval: float = 2.0

    # --- outbound calls placed by fsivr worker (callbacks; fsivr/worker/callback.py) ---
    #: Dial string of an outbound call; ``{number}`` is replaced by the number (digits, leading +).
    #: Empty: callback jobs wait in the outbox. E.g. ``sofia/gateway/trunk/{number}``.
    outbound_endpoint: str = ""
    #: Where FreeSWITCH hands the answered leg (``&socket(...)``): ``fsivr serve`` as FreeSWITCH
    #: reaches it. Empty: listen_host:listen_port.
    outbound_socket: str = ""
    #: Seconds an outbound call may ring before originate gives up (NO_ANSWER).
    originate_timeout: int = 30
    #: Seconds ``fsivr serve`` may take to write a call's record after its hangup: an outbound call
    #: whose outcome was lost with the worker (SIGKILL, a dropped link) and that has neither a
    #: channel nor a record this long after it could have rung out was never answered.
    outbound_record_grace: float = 30.0
    #: The queue's place-keeping callback (queue node callback_key; fsivr/worker/queuecallback.py):
    #: the dial string of the placeholder member's loopback, whose other leg must answer and park.
    #: The default's extension and context are what `render-conf` writes (dialplan/fsivr_hold.xml;
    #: docs/freeswitch-notes.md §10). Empty: queue callback jobs wait in the outbox.
    queue_callback_hold: str = "loopback/fsivr_queue_hold/fsivr_hold"

    # --- e-mail (SMTP); empty smtp_host: e-mail rows wait in the outbox ---
    smtp_host: str = ""
    smtp_port: int = 587
    #: ``starttls`` (port 587), ``ssl`` (implicit TLS, port 465) or ``none`` (loopback relays only).
    smtp_security: str = "starttls"
    #: Login (empty: no AUTH).
    smtp_user: str = ""
    smtp_password: str = ""
    #: CA bundle to verify the server with (empty: the system's).
    smtp_cafile: str = ""
    smtp_from: str = "fsivr@localhost"
    smtp_timeout: float = 60.0

    # --- SMS ---
    #: ``http`` (a web gateway), ``chat`` (FreeSWITCH's chat API over inbound ESL: SIP MESSAGE), or
    #: empty: SMS rows wait in the outbox.
    sms_backend: str = ""
    #: Deprecated alias of default_region (which SMS numbers use too); still read, with a warning.
    sms_default_region: str = ""
    #: Sender (number or alphanumeric id) as the gateway takes it.
    sms_from: str = ""
    #: Longer texts are refused when queued (GSM-7: 153 characters per segment, UCS-2: 67).
    sms_max_segments: int = 3
    #: HTTP gateway. URL and body are sandboxed Jinja templates over ``to`` (E.164), ``to_digits``,
    #: ``sender``, ``text``, ``key`` (the idempotency key); ``|tojson``/``|urlencode`` escape.
    sms_http_url: str = ""
    sms_http_method: str = "POST"
    #: ``json`` or ``form``: the content type, and what the rendered body must parse as.
    sms_http_format: str = "json"
    sms_http_body: str = '{"to": {{ to|tojson }}, "from": {{ sender|tojson }}, "text": {{ text|tojson }}}'
    #: ``Header-Name: value`` sent with every request (e.g. ``Authorization: Bearer ...``).
    sms_http_auth_header: str = ""
    #: The header carrying the row's idempotency key, so the gateway can drop a resend.
    sms_http_idempotency_header: str = "Idempotency-Key"
    #: Success: a 2xx status and, when set, the body matching this regular expression.
    sms_http_success_regex: str = ""
    sms_http_timeout: float = 30.0
    #: chat backend: ``api chat PROTO|FROM|TO|TEXT|text/plain``; FROM and TO are templates as above.
    sms_chat_proto: str = "sip"
    sms_chat_from: str = ""
    sms_chat_to: str = ""

    #: ISO 3166 region of phone numbers written without a country code (``221234567`` is
    #: +48221234567 with PL): accounts' mobiles, contacts, caller-ID lists, look-up keys.
    default_region: str = "PL"

    #: Parking lots for the park node: "NAME FIRST-LAST [TIMEOUT]" each, e.g. "main 701-709 90"
    #: (fsivr/parking.py); render-conf gives every slot an extension that picks it up.
    parking_lots: list[str] = field(default_factory=list)

    SECRET_FIELDS = ("esl_password", "smtp_password", "sms_http_auth_header")

    @classmethod
    def load(cls, path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None) -> Config:
        env = dict(os.environ if env is None else env)
        data: dict[str, Any] = {}
        path = path or env.get(ENV_PREFIX + "CONFIG")
        if path:
            import yaml  # only for a file: `fsivr --help` shows this class's defaults without it

            try:
                loaded = yaml.safe_load(Path(path).read_text())
            except OSError as exc:
                raise ValueError(f"config file {path}: {exc.strerror}") from None
            except yaml.YAMLError as exc:
                raise ValueError(f"config file {path}: not valid YAML: {exc}") from None
            if loaded is not None and not isinstance(loaded, dict):
                raise ValueError(f"config file {path}: must be a mapping of setting: value")
            data = loaded or {}
        known = {f.name: f for f in fields(cls)}
        for key in data:
            if key not in known:
                raise ValueError(f"config file {path}: unknown setting {key!r}{did_you_mean(str(key), known)} "
                                 f"(known: {', '.join(sorted(known))})")
        for key in env:
            if key.startswith(ENV_PREFIX):
                name = key[len(ENV_PREFIX):]
                if name.lower() in known:
                    data[name.lower()] = env[key]
                elif name not in OTHER_ENV:
                    hint = did_you_mean(name.lower(), known, ENV_PREFIX, upper=True)
                    raise ValueError(f"environment variable {key}: unknown setting{hint}")
        cfg = cls()
        for name, value in data.items():
            setattr(cfg, name, _coerce(name, known[name].type, value))
        from fsivr.store.phone import check_region

        if data.get("sms_default_region"):
            # One region for every phone number: the SMS setting folded into default_region.
            old = check_region(str(data["sms_default_region"]))
            if "default_region" in data and check_region(str(data["default_region"])) != old:
                raise ValueError(f"settings default_region ({data['default_region']}) and sms_default_region "
                                 f"({data['sms_default_region']}) disagree: sms_default_region is deprecated, "
                                 f"keep default_region only")
            logging.getLogger("fsivr.config").warning(
                "setting sms_default_region is deprecated: SMS numbers use default_region; set that instead")
            cfg.default_region = old
        cfg.default_region = check_region(cfg.default_region)
        if cfg.log_format not in ("text", "json"):
            raise ValueError(f"setting log_format: {cfg.log_format!r} is not one of text, json")
        if cfg.metrics_listen:
            parse_address(cfg.metrics_listen, METRICS_PORT, "metrics_listen")
        if cfg.default_exit_destination and not EXIT_DESTINATION.match(cfg.default_exit_destination):
            # It becomes the argument of `transfer`, which FreeSWITCH variable-expands.
            raise ValueError(f"setting default_exit_destination: {cfg.default_exit_destination!r} is not "
                             f"{EXIT_DESTINATION_RULE}")
        cfg.lots()  # a bad lot stops the start, not the first parked call
        if cfg.sip_realm and not REALM.match(cfg.sip_realm):
            raise ValueError(f"setting sip_realm: {cfg.sip_realm!r} is not {REALM_RULE}")
        return cfg

    def secret_policy(self) -> SecretPolicy:
        """How SIP passwords and mailbox PINs are stored and rendered (fsivr.store.secrets)."""
        realm = self.sip_realm or ("" if "$" in self.sip_domain else self.sip_domain)
        return SecretPolicy(realm=realm if REALM.match(realm) else "", plain_passwords=self.sip_plain_passwords,
                            plain_pins=self.mailbox_plain_pins)

    def lots(self) -> dict[str, Lot]:
        """The configured parking lots by name (ValueError for a bad entry)."""
        return parse_lots(self.parking_lots)

    def voice_for(self, language: str | None) -> str:
        if language:
            for entry in self.tts_voices:
                lang, _, voice = entry.partition("=")
                if lang.strip().lower() == language.lower() and voice.strip():
                    return voice.strip()
        return self.tts_voice

    def redacted(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for name in self.SECRET_FIELDS:
            if name == "sms_http_auth_header" and out[name]:
                out[name] = out[name].partition(":")[0] + ": ***"  # the header's name is no secret
            else:
                out[name] = "***"
        out["database_url"] = redact_url(self.database_url)
        return out


def load_config(path: str | os.PathLike[str] | None, database_url: str | None = None) -> Config:
    """The configuration as a command runs with it: the file (or FSIVR_CONFIG) and the
    environment, and a database URL given on the command line (``--database``) over both."""
    cfg = Config.load(path)
    if database_url:
        cfg.database_url = database_url
    return cfg


def did_you_mean(word: str, choices: Any, prefix: str = "", *, upper: bool = False) -> str:
    """"; did you mean 'x'?" for the closest of ``choices``, or "" when none is close."""
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.7)
    if not close:
        return ""
    best = prefix + (close[0].upper() if upper else close[0])
    return f"; did you mean {best!r}?"


def parse_address(text: str, default_port: int, what: str = "--listen") -> tuple[str, int]:
    """``HOST:PORT``, ``HOST`` (the default port), ``PORT`` (loopback) or ``[IPv6]:PORT`` ->
    (host, port); ValueError with the accepted forms otherwise."""
    text = text.strip()
    host, port_text = text, ""
    if text.startswith("["):
        inside, _, rest = text[1:].partition("]")
        host, port_text = inside, rest[1:] if rest.startswith(":") else rest
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    elif text.isdigit():
        host, port_text = "", text
    if not port_text:
        port = default_port
    elif port_text.isdigit() and 0 <= int(port_text) <= 65535:
        port = int(port_text)
    else:
        raise ValueError(f"{what} {text!r}: the port must be a number from 0 to 65535 "
                         "(use HOST:PORT, HOST or PORT)")
    return host or "127.0.0.1", port


def redact_url(url: str) -> str:
    """Hide the password in a database URL (``postgresql://u:secret@h/db`` → ``u:***@h``)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else url


def _coerce(name: str, kind: Any, value: Any) -> Any:
    kind_name = kind if isinstance(kind, str) else getattr(kind, "__name__", str(kind))
    try:
        if kind_name == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if kind_name == "int":
            return int(value)
        if kind_name == "float":
            return float(value)
        if kind_name.startswith("list"):
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            return [str(v) for v in value]
        return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"setting {name}: {value!r} is not a valid {kind_name}") from None
