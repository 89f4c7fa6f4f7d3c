"""What a node sees of a call: its identity, its variables, and the media operations it may ask for.

Media operations are FreeSWITCH applications run over the outbound socket; each waits for its own
completion (by Application-UUID) and raises ChannelHangup the moment the caller hangs up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from fsivr.esl.connection import OutboundConnection
from fsivr.esl.frames import Event

if TYPE_CHECKING:
    from fsivr.engine.services import Services


@dataclass
class Collected:
    """Result of collecting keys (play_and_get_digits)."""

    digits: str | None
    #: Keys entered that did not match (FreeSWITCH's ``<var>_invalid``).
    invalid: str | None
    terminator: str | None = None

    @property
    def timed_out(self) -> bool:
        return not self.digits and not self.invalid


@dataclass
class RingResult:
    """Outcome of the last dial/forward/group/... on this call (read by status_condition)."""

    outcome: str  # answered | no_answer | busy | failed
    cause: str = ""
    target: str = ""


@dataclass
class Call:
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
    #: Set by a goto node: the scenario the runner continues in.
    next_scenario: str | None = None
    #: Set when the call left the IVR on purpose (exit node) and must not be hung up by us.
    released: bool = False
    #: After a transfer the connection stays open until the call ends (see nodes/exit.py).
    keep_until_hangup: bool = False
    answered_at: datetime | None = None
    #: The channel's clock minus ours at connect: FreeSWITCH's timestamps are authoritative, and
    #: our own (step times) are shifted onto them so a record reads as one timeline.
    clock_offset: timedelta = timedelta(0)
    _tts_ready: str = ""

    @classmethod
    def from_channel(cls, conn: OutboundConnection, services: Services, number: str) -> Call:
        ch = conn.channel
        assert ch is not None
        created = ch.get("Caller-Channel-Created-Time") or ch.get("Channel-Channel-Created-Time") or "0"
        try:
            arrived = datetime.fromtimestamp(int(created) / 1_000_000, UTC) if int(created) else None
        except ValueError:
            arrived = None
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

    # ---- media --------------------------------------------------------------------------------

    @property
    def app_timeout(self) -> float:
        return self.services.config.app_timeout

    def execute(self, app: str, arg: str | None = None, timeout: float | None = None) -> Event:
        return self.conn.execute(app, arg, timeout=self.app_timeout if timeout is None else timeout)

    def answer(self) -> None:
        if self.conn.answered:
            return
        self.execute("answer", timeout=self.services.config.command_timeout * 3)
        self.conn.answered = True
        self.answered_at = self.now()

    def playable(self, prompt: str | None = None, text: str | None = None, *,
                 language: str | None = None, voice: str | None = None) -> str:
        """What FreeSWITCH's playback takes for a stored prompt name or a text to speak."""
        if prompt:
            resolved = self.services.prompts.resolve(prompt)
            if resolved.text is not None:
                return self._tts(resolved.text, voice or self.services.config.voice_for(
                    language or resolved.language))
            return resolved.path
        if text is not None:
            return self._tts(text, voice or self.services.config.voice_for(language))
        raise ValueError("neither a prompt nor a text to play")

    def _tts(self, text: str, voice: str) -> str:
        # "say:" makes playback speak with the channel's tts_engine/tts_voice
        # (switch_ivr_play_say.c, switch_ivr_play_file), so text prompts work everywhere a file
        # does, including play_and_get_digits. The voice is set only when it changes.
        cfg = self.services.config
        want = f"{cfg.tts_engine}|{voice}"
        if self._tts_ready != want:
            self.execute("multiset", f"tts_engine={cfg.tts_engine} tts_voice={fs_text(voice)}",
                         timeout=cfg.command_timeout * 3)
            self._tts_ready = want
        return "say:" + fs_text(" ".join(text.split()))

    def play(self, playable: str) -> Event:
        return self.execute("playback", playable)

    def collect(self, playable: str, *, min_digits: int = 1, max_digits: int = 1, tries: int = 1,
                timeout: float = 5.0, terminators: str = "#", invalid: str = "silence_stream://250",
                regex: str = "", digit_timeout: float = 3.0) -> Collected:
        """play_and_get_digits; FreeSWITCH replays the prompt and the invalid prompt itself."""
        var = "fsivr_digits"
        args = " ".join([
            str(min_digits), str(max_digits), str(tries), str(int(timeout * 1000)), terminators or "none",
            quote_arg(playable), quote_arg(invalid), var, quote_arg(regex or r"\d+"),
            str(int(digit_timeout * 1000)),
        ])
        per_try = timeout + digit_timeout * max_digits + 600.0  # + prompt length, unknown here
        event = self.execute("play_and_get_digits", args, timeout=min(self.app_timeout, per_try * tries))
        # switch_play_and_get_digits (switch_ivr_play_say.c): bad input sets <var>_invalid while
        # read_result says "success" (trace 03); keys ended by the inter-digit timeout are accepted
        # (and regex-checked) but read_result stays "timeout"; too few keys leave them in <var>
        # with read_result "failure". <var>_invalid is cleared at the start of each call.
        invalid = event.variable(var + "_invalid") or None
        ok = event.variable("read_result") in ("success", "timeout") and not invalid
        return Collected(digits=(event.variable(var) or None) if ok else None, invalid=invalid,
                         terminator=event.variable("read_terminator_used") if ok else None)

    def bridge(self, dial_string: str, timeout: float) -> Event:
        return self.execute("bridge", dial_string, timeout=timeout)

    def set_channel_vars(self, values: dict[str, str]) -> None:
        if not values:
            return
        # multiset splits on spaces; values with spaces are set one by one with `set`.
        values = {k: fs_text(v) for k, v in values.items()}
        simple = {k: v for k, v in values.items() if " " not in v and "\n" not in v}
        for key, value in values.items():
            if key not in simple:
                self.execute("set", f"{key}={value.replace(chr(10), ' ')}",
                             timeout=self.services.config.command_timeout * 3)
        if simple:
            self.execute("multiset", " ".join(f"{k}={v}" for k, v in simple.items()),
                         timeout=self.services.config.command_timeout * 3)

    def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        self.conn.kill(cause)

    def api(self, cmd: str) -> str:
        return self.conn.api(cmd)


def channel_time(micros: str | None) -> datetime | None:
    """A FreeSWITCH timestamp (microseconds since the epoch; "0" = never) as an aware datetime."""
    try:
        value = int(micros or 0)
    except ValueError:
        return None
    return datetime.fromtimestamp(value / 1_000_000, UTC) if value else None


def fs_text(value: str) -> str:
    """User text bound for an application argument: FreeSWITCH expands ``${...}`` there
    (switch_channel_expand_variables in switch_core_session_exec), so a caller-supplied ``$`` is
    escaped rather than allowed to read or inject channel variables."""
    return value.replace("$", "\\$")


def quote_arg(value: str) -> str:
    """Quote one argument of a space-separated application argument string.

    play_and_get_digits splits its argument with switch_separate_string, which keeps text in single
    quotes together and honours backslash escapes (switch_utils.c), so a TTS prompt with spaces stays
    one argument.
    """
    if value and not any(c in value for c in " '\\\t"):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
