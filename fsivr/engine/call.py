"""What a node sees of a call: its identity, its variables, and the media operations it may ask for.

``Call`` is a node's only door to the channel (engine/node.py says what else a node may touch).
Media operations are FreeSWITCH applications run over the outbound socket; each waits for its own
completion (by Application-UUID) and raises ChannelHangup the moment the caller hangs up.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event

from fsivr.esl.connection import OutboundConnection, PendingApp
from fsivr.esl.errors import ChannelHangup, ChannelLeft, CommandFailed, EslError
from fsivr.esl.frames import Event
from fsivr.speech.tts import rendered_voice

if TYPE_CHECKING:
    from fsivr.engine.services import Services

#: How long to wait, after our hangup, for FreeSWITCH's CHANNEL_HANGUP to confirm it.
HANGUP_CONFIRM = 5.0


class PlaybackFailed(CommandFailed):
    """FreeSWITCH could not play a prompt: the file is missing or unreadable. The node takes
    ``error`` (the runner logs one line, as for any failed command)."""


#: playback's Application-Response when it could not play (mod_dptools.c playback_function; traces
#: 02/02b show FILE NOT FOUND). PLAYBACK ERROR is also what a hangup or a uuid_transfer during the
#: playback gives (09, 13): those are told apart by the channel's state.
PLAYBACK_FAILURES = ("FILE NOT FOUND", "PLAYBACK ERROR")


@dataclass
class Collected:
    """Result of collecting keys (play_and_get_digits); neither set means no key (timeout)."""

    digits: str | None
    #: Keys entered that did not match (FreeSWITCH's ``<var>_invalid``).
    invalid: str | None


@dataclass
class RingResult:
    """Outcome of the last dial/forward/group/... on this call (read by status_condition)."""

    outcome: str  # answered | no_answer | busy | failed
    cause: str = ""
    target: str = ""


@dataclass
class Recorded:
    """What a ``record`` left (mod_dptools record_function → switch_ivr_record_file)."""

    #: Audio written, from FreeSWITCH's record_ms (None: it never said; see Call.record).
    ms: int | None
    #: The caller hung up during the recording (trace 15: it ends the record with no cause).
    hung_up: bool
    #: record_completion_cause / playback_terminator_used, when FreeSWITCH set them.
    cause: str = ""
    terminator: str = ""


@dataclass
class Faxed:
    """What ``txfax``/``rxfax`` reported: mod_spandsp's result variables, set by phase_e_handler
    (mod_spandsp_fax.c) on the application's completion (traces 08, 08c)."""

    success: bool
    #: fax_result_code ("" when the application never faxed, e.g. trace 08b's missing file).
    code: str
    #: fax_result_text, else the application's response (08b: "Cannot send non-existant fax file").
    text: str
    pages: int
    hung_up: bool


@dataclass(frozen=True)
class Handoff:
    """What a terminal node (goto, exit) tells the runner about where the call goes from here."""

    #: Continue in this scenario, at its start node (goto).
    scenario: str | None = None
    #: The call left the IVR on purpose (exit): it must not be hung up by us.
    released: bool = False
    #: After a transfer the connection stays open until the call ends (see nodes/exit.py).
    keep_until_hangup: bool = False


@dataclass
class Call:
    #: The channel's socket session: the engine's own (the runner's and this class's); a node
    #: reaches the channel only through the methods below.
    conn: OutboundConnection
    services: Services
    uuid: str
    caller: str
    caller_name: str
    number: str
    arrived_at: datetime
    vars: dict[str, Any] = field(default_factory=dict)
    scenario: str = ""
    exit_destination: str | None = None
    last_ring: RingResult | None = None
    #: What the running node wants kept in its step of the call record (e.g. a ring's cause);
    #: the runner takes it after each node and starts the next one empty.
    step_detail: dict[str, Any] = field(default_factory=dict)
    #: Employees (account users) rung earlier on this call's path, for any_manager.
    met_employees: list[str] = field(default_factory=list)
    #: Set by a terminal node for the runner (goto: the next scenario; exit: released).
    handoff: Handoff | None = None
    #: The post-call chain (the scenario's after_call) is running: the channel is no longer ours to
    #: act on — hung up, released to the dialplan or transferred — so nodes only compute and record.
    after_call: bool = False
    #: Channel variables this IVR set, so they can be cleared before the call goes back to the
    #: dialplan (exit node): they would change what the number's default destination does.
    channel_vars: set[str] = field(default_factory=set)
    answered_at: datetime | None = None
    #: The scenario's fallback was taken (it is taken once per call, so it cannot loop).
    fell_back: bool = False
    #: The channel's clock minus ours at connect: FreeSWITCH's timestamps are authoritative, and
    #: our own (step times) are shifted onto them so a record reads as one timeline.
    clock_offset: timedelta = timedelta(0)
    #: Files this call left, by kind (voicemail, recording, fax): for e-mail attachments and the
    #: after_call chain. Absolute paths on our side.
    files: dict[str, str] = field(default_factory=dict)
    _tts_ready: str = ""
    _sends: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_channel(cls, conn: OutboundConnection, services: Services, number: str) -> Call:
        ch = conn.channel
        assert ch is not None
        arrived = channel_time(ch.get("Caller-Channel-Created-Time") or ch.get("Channel-Channel-Created-Time"))
        now = datetime.now(UTC)
        call = cls(conn=conn, services=services, uuid=conn.uuid,
                   caller=ch.get("Caller-Caller-ID-Number") or "",
                   caller_name=ch.get("Caller-Caller-ID-Name") or "",
                   number=number, arrived_at=arrived or now)
        channel_now = channel_time(ch.get("Event-Date-Timestamp"))
        if channel_now is not None:
            call.clock_offset = channel_now - now
        call.vars.update(caller=call.caller, caller_name=call.caller_name, number=call.number,
                         uuid=call.uuid, arrived_at=call.arrived_at.isoformat())
        return call

    def now(self) -> datetime:
        """Now, on the channel's clock."""
        return datetime.now(UTC) + self.clock_offset

    def send_key(self, node_id: str, *parts: object) -> str:
        """An idempotency key for one notification a node queues on this call: the same node passed
        again (a loop) gets a new one, a repeated enqueue of the same send does not."""
        n = self._sends[node_id] = self._sends.get(node_id, 0) + 1
        key = ":".join(["call", self.uuid, node_id, str(n), *map(str, parts)])
        return key[:200]

    # ---- state --------------------------------------------------------------------------------

    @property
    def answered(self) -> bool:
        """The channel is answered (by us, or before it reached the IVR)."""
        return self.conn.answered

    @property
    def gone(self) -> bool:
        """There is no channel to act on any more: the caller hung up, or the post-call chain runs."""
        return self.after_call or self.conn.hungup.is_set()

    @property
    def left(self) -> bool:
        """The channel left the socket application (bridged or transferred elsewhere) and lives on."""
        return self.conn.left_socket_app

    def wait_hangup(self, timeout: float = HANGUP_CONFIRM) -> bool:
        """Wait (bounded) for FreeSWITCH to report the hangup; True if it did."""
        return self.conn.hungup.wait(timeout)

    @contextmanager
    def listen(self, listener: Callable[[Event], None]) -> Iterator[None]:
        """Have ``listener`` see this channel's events (myevents) while the block runs."""
        self.conn.add_listener(listener)
        try:
            yield
        finally:
            self.conn.remove_listener(listener)

    # ---- media --------------------------------------------------------------------------------

    @property
    def app_timeout(self) -> float:
        return self.services.config.app_timeout

    @property
    def quick_timeout(self) -> float:
        """For applications that complete at once (answer, set, transfer): FreeSWITCH's command
        time plus room for a busy box."""
        return self.services.config.command_timeout * 3

    def execute(self, app: str, arg: str | None = None, timeout: float | None = None) -> Event:
        return self.conn.execute(app, arg, timeout=self.app_timeout if timeout is None else timeout)

    def answer(self) -> None:
        if self.conn.answered:
            return
        self.execute("answer", timeout=self.quick_timeout)
        self.conn.answered = True
        self.answered_at = self.now()

    def playable(self, prompt: str | None = None, text: str | None = None, *,
                 language: str | None = None, voice: str | None = None) -> str:
        """What FreeSWITCH's playback takes for a stored prompt name or a text to speak."""
        if prompt:
            resolved = self.services.prompts.resolve(prompt)
            if resolved.text is not None:
                # The node's voice, else the prompt's own, else the one for the language.
                return self._tts(resolved.text, voice or resolved.voice or self.services.config.voice_for(
                    language or resolved.language))
            return resolved.path
        if text is not None:
            return self._tts(text, voice or self.services.config.voice_for(language))
        raise ValueError("neither a prompt nor a text to play")

    def _tts(self, text: str, voice: str) -> str:
        rendered = rendered_voice(voice)
        if rendered is not None:
            # A voice fsivr renders (espeak-ng: Polish, Russian...): played as a file.
            return self.services.prompts.spoken(" ".join(text.split()), rendered)
        # "say:" makes playback speak with the channel's tts_engine/tts_voice
        # (switch_ivr_play_say.c, switch_ivr_play_file), so text prompts work everywhere a file
        # does, including play_and_get_digits. The voice is set only when it changes.
        cfg = self.services.config
        want = f"{cfg.tts_engine}|{voice}"
        if self._tts_ready != want:
            self.set_channel_vars({"tts_engine": cfg.tts_engine, "tts_voice": voice})
            self._tts_ready = want
        return "say:" + " ".join(text.split())

    def play(self, playable: str) -> Event:
        return self._played(self.execute("playback", expand_escape(playable)), playable)

    def _played(self, event: Event, playable: str) -> Event:
        """Raise PlaybackFailed when FreeSWITCH could not play ``playable``; else the event."""
        response = event.get("Application-Response") or ""
        if response in PLAYBACK_FAILURES:
            self._raise_if_ended()
            raise PlaybackFailed(f"playback of {playable}: {response}")
        return event

    def _raise_if_ended(self) -> None:
        # A playback cut by the caller's hangup or a transfer also ends in PLAYBACK ERROR (09, 13):
        # that is the call ending or leaving, not a prompt that failed. CHANNEL_HANGUP may follow
        # the completion by a moment, hence the short wait.
        if self.conn.hungup.is_set() or self.conn.hungup.wait(0.2):
            raise ChannelHangup(self.conn.hangup_cause, self.conn.hangup_by)
        if self.conn.left_socket_app:
            raise ChannelLeft("the channel left the socket application during a playback")

    def say(self, module: str, say_type: str, method: str, text: str, gender: str = "") -> Event:
        """FreeSWITCH's say application: ``<module>[:<lang>] <type> <method> [<gender>] <text>``
        (mod_dptools.c say_function; mod_say_<lang> picks the sound files of the number's words)."""
        parts = [module, say_type, method, *([gender] if gender else []), text]
        if any(not p or any(c in p for c in " '\\\t$") for p in parts):
            raise ValueError(f"say: an argument is empty or has blanks, quotes or $: {parts}")
        return self.execute("say", " ".join(parts))

    def play_for(self, playable: str, seconds: float) -> Event:
        """Play, but no longer than ``seconds``: a timer breaks the playback (api uuid_break)."""
        pending = self.conn.execute_async("playback", expand_escape(playable))

        def cut() -> None:
            if not pending.result.ready():
                try:
                    self.conn.api(f"uuid_break {self.uuid}")
                except EslError:
                    pass  # the call ended meanwhile; the wait below says so

        timer = gevent.spawn_later(seconds, cut)
        try:
            return self._played(self.conn.wait_app(pending, self.app_timeout), playable)
        finally:
            timer.kill(block=False)

    def start(self, app: str, arg: str | None = None, *, lock: bool = True) -> PendingApp:
        """Start an application that runs while the node does other things (``running`` polls it).

        ``lock=False`` (no event-lock) lets a ``uuid_broadcast`` play inside the app (mod_callcenter's
        wait, trace 12b; with event-lock it never plays, 12), at the price that a sendmsg sent while
        it runs is run nested in it: send none until it completes."""
        return self.conn.execute_async(app, arg, lock=lock)

    def running(self, pending: PendingApp, within: float) -> Event | None:
        """The started app's completion if it comes within ``within`` seconds, else None (still
        running). Raises ChannelHangup/ChannelLeft as ``execute`` does."""
        return self.conn.poll_app(pending, within)

    def broadcast(self, playable: str) -> None:
        """Play ``playable`` to the caller inside whatever app runs (``uuid_broadcast <uuid> <path>
        aleg``: switch_ivr_broadcast queues a private ``execute playback``, switch_ivr_async.c).
        Its answer is ``+OK Message sent`` whether or not it will ever play (freeswitch-notes §10)."""
        reply = self.api(f"uuid_broadcast {self.uuid} {expand_escape(quote_arg(playable))} aleg")
        if not reply.startswith("+OK"):
            raise CommandFailed(f"uuid_broadcast: {reply.strip()}")

    def collect(self, playable: str, *, min_digits: int = 1, max_digits: int = 1, tries: int = 1,
                timeout: float = 5.0, terminators: str = "#", invalid: str = "silence_stream://250",
                regex: str = "", digit_timeout: float = 3.0, secret: bool = False) -> Collected:
        """play_and_get_digits; FreeSWITCH replays the prompt and the invalid prompt itself.

        ``secret`` (a PIN): the keys are not left in the channel variable afterwards, where
        FreeSWITCH would keep them for the rest of the call (and write them into its CDR).
        """
        var = "fsivr_digits"
        # Expansion runs over the whole argument (switch_core_session_exec) before the splitting,
        # so the escape is applied once to the joined string, after quoting each part.
        args = expand_escape(" ".join([
            str(min_digits), str(max_digits), str(tries), str(int(timeout * 1000)), terminators or "none",
            quote_arg(playable), quote_arg(invalid), var, quote_arg(regex or r"\d+"),
            str(int(digit_timeout * 1000)),
        ]))
        per_try = timeout + digit_timeout * max_digits + 600.0  # + prompt length, unknown here
        event = self.execute("play_and_get_digits", args, timeout=min(self.app_timeout, per_try * tries))
        # switch_play_and_get_digits (switch_ivr_play_say.c): bad input sets <var>_invalid while
        # read_result says "success" (trace 03); keys ended by the inter-digit timeout are accepted
        # (and regex-checked) but read_result stays "timeout"; too few keys leave them in <var>
        # with read_result "failure". <var>_invalid is cleared at the start of each call.
        if not event.variable("read_result"):
            # switch_ivr_read (switch_ivr_play_say.c) clears read_result, and sets it only after
            # the prompt played: a prompt that could not be played (missing file) leaves it unset
            # through every try.
            self._raise_if_ended()
            raise PlaybackFailed(f"play_and_get_digits could not play {playable}")
        invalid = event.variable(var + "_invalid") or None
        ok = event.variable("read_result") in ("success", "timeout") and not invalid
        if secret:
            # uuid_setvar with no value unsets the variable (mod_commands.c uuid_setvar_function:
            # argc 2 → var_value NULL → switch_channel_add_variable_var_check deletes it).
            self.api(f"uuid_setvar {self.uuid} {var}")
            self.api(f"uuid_setvar {self.uuid} {var}_invalid")
        return Collected(digits=(event.variable(var) or None) if ok else None, invalid=invalid)

    def execute_to_the_end(self, app: str, arg: str, timeout: float) -> tuple[Event | None, bool]:
        """Run ``app`` and get its CHANNEL_EXECUTE_COMPLETE even when the caller hangs up meanwhile;
        returns (that event or None, whether the caller hung up).

        For applications whose result matters after a hangup: a ``record`` ended by the caller
        hanging up (trace 15: CHANNEL_HANGUP, then RECORD_STOP and the record's completion with
        ``variable_record_ms``), a fax whose far end hangs up right after the last page (trace 08:
        the ``*faxresult`` and the completion come after CHANNEL_HANGUP). The connection wakes every
        waiter with ChannelHangup at the hangup, so the completion is caught by a listener and
        waited for (bounded) while the socket lingers.
        """
        completions: dict[str, Event] = {}
        started: set[str] = set()
        arrived = gevent.event.Event()

        def on_event(event: Event) -> None:
            name = event.get("Event-Name")
            if name == "CHANNEL_EXECUTE":
                started.add(event.get("Application-UUID") or "")
            elif name == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application") == app:
                completions[event.get("Application-UUID") or ""] = event
                arrived.set()

        with self.listen(on_event):
            pending = self.conn.execute_async(app, expand_escape(arg))
            try:
                return self.conn.wait_app(pending, timeout), False
            except ChannelHangup:
                if pending.uuid not in started and pending.uuid not in completions:
                    # The caller hung up before it started (its CHANNEL_EXECUTE would have come
                    # first: one event queue per listener): FreeSWITCH answers a sendmsg for a
                    # channel that is down +OK and never runs it (freeswitch-notes section 7), so
                    # no completion is coming - do not keep the call waiting for one.
                    return None, True
                deadline = time.monotonic() + HANGUP_CONFIRM
                while pending.uuid not in completions and arrived.wait(max(0.0, deadline - time.monotonic())):
                    arrived.clear()
                return completions.get(pending.uuid), True

    def record(self, path: str, max_seconds: int, silence_threshold: int = 200,
               silence_seconds: int = 0) -> Recorded:
        """``record`` into ``path`` (a path of ours: no caller text) until the time limit, silence,
        a terminator key — or the caller hanging up, which is how most messages end (then what was
        said is kept: see execute_to_the_end)."""
        # switch_ivr_record_file_event: <path> [<limit s>] [<silence threshold>] [<silence hits s>]
        # record_function splits with switch_separate_string (mod_dptools.c), which honours quotes: a
        # media_dir with a blank in it stays one argument.
        arg = f"{quote_arg(path)} {int(max_seconds)} {int(silence_threshold)} {int(silence_seconds)}"
        event, hung_up = self.execute_to_the_end("record", arg, max_seconds + self.quick_timeout + 5)
        if event is None:
            return Recorded(ms=None, hung_up=hung_up)
        ms = event.variable("record_ms")
        return Recorded(ms=int(ms) if ms and ms.isdigit() else None, hung_up=hung_up,
                        cause=event.variable("record_completion_cause") or "",
                        terminator=event.variable("playback_terminator_used") or "")

    def record_session(self, path: str, *, stereo: bool = False) -> None:
        """Record the rest of the call into ``path`` (mod_dptools record_session: a media bug that
        lives until the channel hangs up). ``stereo``: caller left, the other side right
        (RECORD_STEREO, read by switch_ivr_record_session_event in switch_ivr_async.c)."""
        if stereo:
            self.set_channel_vars({"RECORD_STEREO": "true"})
        # record_session_function splits with switch_split = switch_separate_string (quotes kept).
        self.execute("record_session", expand_escape(quote_arg(path)), timeout=self.quick_timeout)

    def fax(self, direction: str, path: str, timeout: float) -> Faxed:
        """mod_spandsp ``txfax``/``rxfax`` of ``path``. The result variables are read off the
        completion, which comes after CHANNEL_HANGUP when the far end hangs up right after the last
        page (trace 08), hence execute_to_the_end."""
        if direction not in ("txfax", "rxfax"):
            raise ValueError(f"no fax application {direction!r}")
        event, hung_up = self.execute_to_the_end(direction, path, timeout)
        if event is None:
            return Faxed(False, "", "no result from FreeSWITCH", 0, hung_up)
        pages = event.variable("fax_document_transferred_pages") or "0"
        return Faxed(success=event.variable("fax_success") == "1", code=event.variable("fax_result_code") or "",
                     text=event.variable("fax_result_text") or event.get("Application-Response") or "",
                     pages=int(pages) if pages.isdigit() else 0, hung_up=hung_up)

    def bridge(self, dial_string: str, timeout: float) -> Event:
        return self.execute("bridge", dial_string, timeout=timeout)

    def set_channel_vars(self, values: dict[str, str], *, trusted: bool = False) -> None:
        """Set channel variables; what FreeSWITCH would expand or split goes through uuid_setvar.

        ``multiset``/``set`` arguments are variable-expanded twice (at exec and again in base_set,
        mod_dptools.c), so a value from a caller (a caller-ID name like ``${system(...)}``) must
        never travel that way. ``api uuid_setvar`` stores the value as given (mod_commands.c,
        var_check off); only values of plain characters use the one-round-trip ``multiset``.

        ``trusted`` is for the operator's configuration (e.g. ``ringback=${us-ring}``, which is
        meant to be expanded by FreeSWITCH): those values go through ``multiset`` as written.
        """
        if not values:
            return
        if trusted:
            for key, value in values.items():
                if not VAR_NAME.match(key) or any(c in value for c in " \n\r"):
                    raise ValueError(f"configured channel variable {key}={value!r} must be one word")
            self.execute("multiset", " ".join(f"{k}={v}" for k, v in values.items()), timeout=self.quick_timeout)
            self.channel_vars.update(values)
            return
        plain = {k: v for k, v in values.items() if PLAIN_VALUE.match(v)}
        for key, value in values.items():
            if not VAR_NAME.match(key):
                raise ValueError(f"bad channel variable name {key!r}")
            if key not in plain:
                # The value is the last of three blank-separated parts: quoted so
                # switch_separate_string keeps spaces and quotes (newlines cannot cross ESL). It is
                # stored escaped: FreeSWITCH expands a variable's value again wherever it is
                # referenced (${fsivr_x} in the dialplan), and that must give the text, not run it.
                stored = expand_escape(" ".join(value.splitlines()))
                reply = self.api(f"uuid_setvar {self.uuid} {key} {quote_arg(stored)}")
                if not reply.startswith("+OK"):
                    raise CommandFailed(f"uuid_setvar {key}: {reply.strip()}")
        if plain:
            self.execute("multiset", " ".join(f"{k}={v}" for k, v in plain.items()), timeout=self.quick_timeout)
        self.channel_vars.update(values)

    def clear_channel_vars(self) -> None:
        """Unset every variable this IVR set (before the dialplan takes the call back)."""
        if self.channel_vars:
            self.execute("multiunset", " ".join(sorted(self.channel_vars)), timeout=self.quick_timeout)
            self.channel_vars.clear()
            self._tts_ready = ""

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        self.conn.kill(cause)

    def api(self, cmd: str) -> str:
        """An API command through the call's socket. One about this channel (``uuid_* <uuid>``) once
        the caller has hung up raises ChannelHangup unsent, as an application would: the channel
        cannot be located any more (mod_commands answers -ERR No such channel!, even while the
        socket lingers: docs/freeswitch-notes.md section 7), so it could only come back refused."""
        conn = self.conn
        if conn.hungup.is_set() and self.uuid and self.uuid in cmd.split(" ", 2)[1:2]:
            raise ChannelHangup(conn.hangup_cause, conn.hangup_by)
        return conn.api(cmd)


def channel_time(micros: str | None) -> datetime | None:
    """A FreeSWITCH timestamp (microseconds since the epoch; "0" = never) as an aware datetime."""
    try:
        value = int(micros or 0)
    except ValueError:
        return None
    return datetime.fromtimestamp(value / 1_000_000, UTC) if value else None


#: Channel variable names we set (FreeSWITCH accepts more; we never need more).
VAR_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Values multiset can carry as they are: no blank (multiset splits on it), no `$` or backslash
#: (expansion), no quote (separate_string).
PLAIN_VALUE = re.compile(r"^[A-Za-z0-9_.:@/+=,%()#*-]*$")


def expand_escape(arg: str) -> str:
    r"""Protect text inside an application argument from FreeSWITCH's variable expansion.

    switch_core_session_exec expands ``${...}`` in the whole argument before the application sees
    it (switch_channel_expand_variables_check, switch_channel.c): there ``\\`` becomes ``\`` and
    ``\$`` a literal ``$``, and ``$$x`` loses a ``$``. It runs only when the text holds ``${`` or a
    backslash escape, so text with neither is left alone; otherwise every backslash is doubled and
    every ``$`` escaped. Applied last (after ``quote_arg``), this gives the application exactly the
    text we meant, with no variable or API (``${system(...)}``) reachable from user text.
    """
    if "\\" not in arg and "${" not in arg:
        return arg
    return arg.replace("\\", "\\\\").replace("$", "\\$")


def quote_arg(value: str) -> str:
    """Quote one argument of a blank-separated application argument string (then ``expand_escape``).

    play_and_get_digits splits its argument with switch_separate_string, which keeps text in single
    quotes together and honours backslash escapes (switch_utils.c), so a TTS prompt with spaces stays
    one argument.
    """
    if value and not any(c in value for c in " '\\\t"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
