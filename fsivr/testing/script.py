"""What the simulated caller and the rest of the world do, and what the simulator observed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

TARGET_BEHAVIOURS = ("answered", "no_answer", "busy", "failed", "unregistered", "rejected")


@dataclass
class Hangup:
    """When the caller hangs up.

    ``Hangup(on_app="playback", occurrence=1, offset=0.5)``: during the 1st run of playback,
    0.5 simulated seconds into it (clamped to the app's media time). ``Hangup(after=12.5)``:
    12.5 simulated seconds after the channel was created (checked during media and between
    commands, since the virtual clock only moves with media). ``Hangup(after_apps=3)``: once
    three applications have completed and the channel sits idle.
    """

    on_app: str | None = None
    occurrence: int = 1
    offset: float = 0.0
    after: float | None = None
    cause: str = "NORMAL_CLEARING"
    # the caller hangs up as soon as the channel is idle (parked in the socket app) after this
    # many applications have completed
    after_apps: int | None = None
    # the caller hangs up as the ``occurrence``-th command for ``on_command`` reaches the switch (a
    # sendmsg execute: its application's name; ``api``/``bgapi``: the API command's name):
    # ``before_reply`` - before FreeSWITCH answers it (the listener flushes CHANNEL_HANGUP from its
    # event queue while it still reads the command, mod_event_socket.c read_packet), else right after
    # the reply - before a sendmsg's application starts, or once an api command's output is out.
    on_command: str | None = None
    before_reply: bool = True


@dataclass
class Speech:
    """What the caller does during one ``record`` (mod_dptools record → switch_ivr_record_file).

    Talks ``talk`` seconds, then ``then``: ``"silence"`` (quiet: the silence detection or the time
    limit ends the recording), ``"key"`` (presses ``key``; a playback terminator ends it),
    ``"talk"`` (keeps talking until the time limit), ``"hangup"``.
    """

    talk: float = 3.0
    then: str = "silence"
    key: str = "#"


@dataclass
class Retrieve:
    """A channel outside the simulation takes this call out of its valet lot slot
    (``valet_park <lot> <ext>`` on ``loopback/<number>``, trace 10): ``after`` seconds into
    valet_park; they talk ``talk`` seconds, then the retriever hangs up (None: until this caller does).
    """

    after: float = 2.0
    talk: float | None = 5.0
    number: str = "valet_retrieve"


@dataclass
class FaxPeer:
    """The fax machine at the far end of ``txfax`` / ``rxfax`` (mod_spandsp).

    ``pages``: pages in the TIFF we send (txfax) or that the far end sends (rxfax).
    ``answers``: False = no fax machine (T.30 T0 timeout, fax_result_code 2).
    ``hangup_after``: it hangs up right after the fax, so the ``*faxresult`` event comes after
    CHANNEL_HANGUP (08); otherwise it stays on the line (08c).
    ``drop_at_page``: it hangs up during that page (fax_result_code 49, call dropped).
    """

    pages: int = 1
    answers: bool = True
    hangup_after: bool = False
    drop_at_page: int | None = None
    station_id: str = "SpanDSP Fax Ident"
    rate: int = 14400
    hangup_cause: str = "NORMAL_CLEARING"


@dataclass
class Target:
    """How a ringing bridge target behaves.

    ``answered``: answers after ``answer_after`` s, talks ``talk`` s, then the far end hangs up.
    ``no_answer``: rings until the leg's timeout. ``busy`` / ``failed`` / ``unregistered`` /
    ``rejected`` fail after ``after`` s with USER_BUSY / ``cause`` (default NORMAL_TEMPORARY_FAILURE) /
    USER_NOT_REGISTERED / CALL_REJECTED.
    """

    behaviour: str = "answered"
    answer_after: float = 1.0
    talk: float = 5.0
    after: float = 0.0
    cause: str | None = None
    # keys the far end presses while bridged: (seconds into the talk, keys); they reach our channel
    # as DTMF it *sends* (listen flag ``b`` of bind_meta_app, trace 13)
    dtmf: list[tuple[float, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.behaviour not in TARGET_BEHAVIOURS:
            raise ValueError(f"unknown target behaviour {self.behaviour!r}; one of {TARGET_BEHAVIOURS}")


@dataclass
class Press:
    """The caller presses ``keys`` ``after`` seconds into the talk of the ``bridge``-th bridge
    (1-based); the keys arrive as DTMF the channel receives (trace 13: ``*1`` passes as DTMF events
    unless an ``a`` meta binding takes it)."""

    keys: str
    after: float = 0.0
    # 0: the bridge mod_callcenter makes to an agent (seconds from its start)
    bridge: int = 1
    #: Not before the session has answered this many of the server's commands (a recording's key
    #: that came right after a reply keeps its place however slow the server is: trace 13).
    after_commands: int = 0


@dataclass
class CallScript:
    number: str = "+48221234567"
    caller: str = "+48501000001"
    #: When the channel is created; None: the switch's clock when the call starts (the simulator's
    #: ``epoch`` clock if it has one, else the real clock) — as FreeSWITCH stamps a new channel
    #: with its own time, never one the caller brings.
    at: datetime | None = None
    # keys per key-collecting prompt: one entry per attempt of play_and_get_digits / read
    digits: list[str] = field(default_factory=list)
    hangup: Hangup | None = None
    # a list = one behaviour per time the target is rung on this call (the last one repeats)
    targets: dict[str, Target | list[Target]] = field(default_factory=dict)
    registered: dict[str, bool] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)
    timeout: float = 30.0
    caller_name: str = ""
    # "sofia" (a SIP call, default) or "loopback" (the leg type of most traces)
    profile: str = "sofia"
    # arguments of the dialplan's socket application; "full" without "async" is sync mode
    socket_args: str = "async full"
    # file path → seconds (None = missing) for playback of paths the simulator cannot stat
    files: dict[str, float | None] = field(default_factory=dict)
    record: bool = False
    # DTMF the caller presses while the channel is idle: (after this many completed apps, keys)
    idle_dtmf: list[tuple[int, str]] = field(default_factory=list)
    # one entry per ``record`` run (missing = silence from the start)
    speech: list[Speech] = field(default_factory=list)
    # one entry per ``valet_park`` run that parks this call (missing = nobody comes for it)
    valet_retrieve: list[Retrieve] = field(default_factory=list)
    # the far end of txfax / rxfax
    fax: FaxPeer = field(default_factory=FaxPeer)
    # When the caller hangs up, does the socket listener see the channel down before the running
    # application has unwound? mod_event_socket's read_packet loop (about every millisecond)
    # drains the events queued so far, then sends the linger notice once switch_channel_down():
    # whether that falls right after CHANNEL_HANGUP (14) or after CHANNEL_HANGUP_COMPLETE (07c) is
    # a race between the listener and the session thread. False: the application wins.
    listener_sees_hangup_first: bool = False
    # keys the caller presses while bridged
    presses: list[Press] = field(default_factory=list)
    # the switch's XML dialplan, as far as transfers and execute_extension reach it:
    # "extension@context" -> the applications its matching condition runs, in order
    extensions: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    # the channel's uuid (originate's origination_uuid); empty: a new one
    uuid: str = ""
    # An originate's leg: answered this many seconds after its creation, before the socket
    # application runs (switch_ivr_originate returns once the far end answered); None: a call
    # that arrives unanswered, as an inbound call does.
    answered_after: float | None = None


@dataclass
class AppRun:
    name: str
    arg: str | None
    response: str = "_none_"
    app_uuid: str = ""
    started: float = 0.0  # virtual seconds since channel creation
    duration: float = 0.0
    interrupted: str | None = None  # "break", "hangup"
    digits: str | None = None


@dataclass
class BridgeLeg:
    endpoint: str
    target: str
    outcome: str  # answered, no_answer, busy, failed, unregistered, rejected, cancelled
    cause: str
    order: int  # 0-based position in the order legs were started
    group: int  # sequential group index (legs of one group ring together)
    started: float = 0.0
    ended: float = 0.0
    timeout: float = 0.0


@dataclass
class BridgeRun:
    dial_string: str
    legs: list[BridgeLeg]
    result: str  # SUCCESS or the failure cause
    winner: str | None = None


@dataclass
class CallResult:
    uuid: str = ""
    hangup_cause: str | None = None
    hangup_by: str | None = None  # caller | server | socket | far_end
    apps: list[AppRun] = field(default_factory=list)
    commands: list[bytes] = field(default_factory=list)
    bridges: list[BridgeRun] = field(default_factory=list)
    error: list[str] = field(default_factory=list)
    wire: list[tuple[str, bytes]] = field(default_factory=list)
    #: API commands run through ``${api(args)}`` expansion of an application argument.
    api_expansions: list[str] = field(default_factory=list)
    variables: dict[str, str] = field(default_factory=dict)
    answered: bool = False
    duration: float = 0.0  # virtual seconds from creation to hangup
    transferred_to: str | None = None
    #: How many of ``commands`` had arrived when the channel hung up (None: it did not): what
    #: the server sent after it is ``commands[commands_at_hangup:]``.
    commands_at_hangup: int | None = None
    #: ``CallScript.digits`` entries no key-collecting prompt asked for.
    unused_digits: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error
