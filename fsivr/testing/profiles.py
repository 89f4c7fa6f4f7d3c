"""Header templates taken from the traces: switch identity, event sources, channel profiles.

A *profile* is what kind of leg the socket app runs on. ``sofia`` (default) is a SIP call coming
in from a trunk or phone, shaped after esl-traces/01b-connect-sofia; ``loopback`` is the
mod_loopback B-leg used by all other traces (replays use it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from fsivr.testing import _sofia_data

# The recorded switch (every trace): the engine must not depend on these values.
HOSTNAME = "vm"
IPV4 = "192.0.2.2"
IPV6 = "fd00::2"

# (Event-Calling-File, -Function, -Line-Number) per event as recorded in FreeSWITCH 1.11.1.
EVENT_SOURCES: dict[str, tuple[str, str, str]] = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2018"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2949"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2972"),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3848"),
    "CHANNEL_PROGRESS": ("switch_channel.c", "switch_channel_perform_mark_ring_ready_value", "3409"),
    "CHANNEL_PROGRESS_MEDIA": ("switch_channel.c", "switch_channel_perform_mark_pre_answered", "3562"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3447"),
    "CHANNEL_HANGUP_COMPLETE": ("switch_core_state_machine.c", "switch_core_session_reporting_state", "943"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2409"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "678"),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1689"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "switch_ivr_multi_threaded_bridge", "1879"),
    "CHANNEL_HOLD": ("switch_ivr.c", "switch_ivr_hold", "1558"),
    "CHANNEL_UNHOLD": ("switch_ivr.c", "switch_ivr_unhold", "1638"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1569"),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", "1649"),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", "2023"),
    # Not in the traces: the lines of their switch_event_create in the v1.11.1 source
    # (switch_core_state_machine.c switch_core_session_run CS_INIT; switch_core_session.c).
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
    "CHANNEL_ORIGINATE": ("switch_core_state_machine.c", "switch_core_session_run", "632"),
    "CHANNEL_DESTROY": ("switch_core_session.c", "switch_core_session_perform_destroy", "1588"),
}

# switch_channel_event_set_extended_data (switch_channel.c): events that carry variable_* headers.
EVENTS_WITH_VARIABLES = frozenset(
    {
        "CHANNEL_DATA", "CHANNEL_EXECUTE", "CHANNEL_EXECUTE_COMPLETE", "CHANNEL_ANSWER", "CHANNEL_PARK",
        "CHANNEL_UNPARK", "CHANNEL_BRIDGE", "CHANNEL_UNBRIDGE", "CHANNEL_PROGRESS", "CHANNEL_HOLD", "CHANNEL_UNHOLD",
        "CHANNEL_PROGRESS_MEDIA", "CHANNEL_HANGUP", "CHANNEL_HANGUP_COMPLETE", "PLAYBACK_START",
        "PLAYBACK_STOP", "CUSTOM", "RECORD_START", "RECORD_STOP", "CHANNEL_CREATE", "CHANNEL_ORIGINATE",
        "CHANNEL_DESTROY",
    }
)

# switch_types.h, switch_call_cause_t.
Q850: dict[str, int] = {
    "NONE": 0, "UNALLOCATED_NUMBER": 1, "NO_ROUTE_TRANSIT_NET": 2, "NO_ROUTE_DESTINATION": 3,
    "CHANNEL_UNACCEPTABLE": 6, "CALL_AWARDED_DELIVERED": 7, "NORMAL_CLEARING": 16, "USER_BUSY": 17,
    "NO_USER_RESPONSE": 18, "NO_ANSWER": 19, "SUBSCRIBER_ABSENT": 20, "CALL_REJECTED": 21,
    "NUMBER_CHANGED": 22, "REDIRECTION_TO_NEW_DESTINATION": 23, "EXCHANGE_ROUTING_ERROR": 25,
    "DESTINATION_OUT_OF_ORDER": 27, "INVALID_NUMBER_FORMAT": 28, "FACILITY_REJECTED": 29,
    "RESPONSE_TO_STATUS_ENQUIRY": 30, "NORMAL_UNSPECIFIED": 31, "NORMAL_CIRCUIT_CONGESTION": 34,
    "NETWORK_OUT_OF_ORDER": 38, "NORMAL_TEMPORARY_FAILURE": 41, "SWITCH_CONGESTION": 42,
    "ACCESS_INFO_DISCARDED": 43, "REQUESTED_CHAN_UNAVAIL": 44, "PRE_EMPTED": 45,
    "FACILITY_NOT_SUBSCRIBED": 50, "OUTGOING_CALL_BARRED": 52, "INCOMING_CALL_BARRED": 54,
    "BEARERCAPABILITY_NOTAUTH": 57, "BEARERCAPABILITY_NOTAVAIL": 58, "SERVICE_UNAVAILABLE": 63,
    "BEARERCAPABILITY_NOTIMPL": 65, "CHAN_NOT_IMPLEMENTED": 66, "FACILITY_NOT_IMPLEMENTED": 69,
    "SERVICE_NOT_IMPLEMENTED": 79, "INVALID_CALL_REFERENCE": 81, "INCOMPATIBLE_DESTINATION": 88,
    "INVALID_MSG_UNSPECIFIED": 95, "MANDATORY_IE_MISSING": 96, "MESSAGE_TYPE_NONEXIST": 97,
    "WRONG_MESSAGE": 98, "IE_NONEXIST": 99, "INVALID_IE_CONTENTS": 100, "WRONG_CALL_STATE": 101,
    "RECOVERY_ON_TIMER_EXPIRE": 102, "MANDATORY_IE_LENGTH_ERROR": 103, "PROTOCOL_ERROR": 111,
    "INTERWORKING": 127, "SUCCESS": 142, "ORIGINATOR_CANCEL": 487, "CRASH": 700, "SYSTEM_SHUTDOWN": 701,
    "LOSE_RACE": 702, "MANAGER_REQUEST": 703, "BLIND_TRANSFER": 800, "ATTENDED_TRANSFER": 801,
    "ALLOTTED_TIMEOUT": 802, "USER_CHALLENGE": 803, "MEDIA_TIMEOUT": 804, "PICKED_OFF": 805,
    "USER_NOT_REGISTERED": 806, "PROGRESS_TIMEOUT": 807, "INVALID_GATEWAY": 808, "GATEWAY_DOWN": 809,
    "INVALID_URL": 810, "INVALID_PROFILE": 811, "NO_PICKUP": 812, "SRTP_READ_ERROR": 813, "BOWOUT": 814,
    "BUSY_EVERYWHERE": 815, "DECLINE": 816, "DOES_NOT_EXIST_ANYWHERE": 817, "NOT_ACCEPTABLE": 818,
    "UNWANTED": 819, "NO_IDENTITY": 820, "BAD_IDENTITY_INFO": 821, "UNSUPPORTED_CERTIFICATE": 822,
    "INVALID_IDENTITY": 823, "STALE_DATE": 824,
}


def cause_from_str(name: str | None, default: str = "NORMAL_CLEARING") -> str:
    """switch_channel_str2cause: a name (any case) or a Q.850 number; unknown → the default."""
    if not name:
        return default
    text = name.strip().upper()
    if text in Q850:
        return text
    if text.isdigit():
        num = int(text)
        for key, val in Q850.items():
            if val == num:
                return key
    return default


# Caller-profile fields in switch_caller_profile_event_set_data order (switch_caller.c).
_PROFILE_TAIL = [
    "Profile-Created-Time", "Channel-Created-Time", "Channel-Answered-Time", "Channel-Progress-Time",
    "Channel-Progress-Media-Time", "Channel-Hangup-Time", "Channel-Transfer-Time",
    "Channel-Resurrect-Time", "Channel-Bridged-Time", "Channel-Last-Hold", "Channel-Hold-Accum",
    "Screen-Bit", "Privacy-Hide-Name", "Privacy-Hide-Number",
]
LOOPBACK_PROFILE_FIELDS = [
    "Direction", "Logical-Direction", "Dialplan", "Caller-ID-Name", "Caller-ID-Number",
    "Orig-Caller-ID-Name", "Orig-Caller-ID-Number", "Callee-ID-Name", "Callee-ID-Number", "ANI",
    "Destination-Number", "Unique-ID", "Source", "Context", "Channel-Name", "Profile-Index",
    *_PROFILE_TAIL,
]
SOFIA_PROFILE_FIELDS = list(_sofia_data.CALLER_PROFILE_FIELDS)


@dataclass
class ChannelSpec:
    """Per-call inputs to a profile."""

    uuid: str
    other_uuid: str
    number: str
    caller: str
    caller_name: str
    created_us: int
    session_id: int
    socket_arg: str
    extra_vars: dict[str, str]
    call_id: str
    from_tag: str
    rfc2822: str


@dataclass
class Profile:
    name: str
    fields: list[str]
    source: str
    context: str
    dialplan: str
    media_before_answer: bool  # loopback has L16 codecs from the start, sofia only after media
    channel_name: Callable[[ChannelSpec], str]
    profile_values: Callable[[ChannelSpec, str], dict[str, str]]
    base_vars: Callable[[ChannelSpec, str], list[tuple[str, str]]]
    codec: tuple[str, str, str] = ("L16", "8000", "128000")
    early_media_ops: list[tuple[str, str | None]] = field(default_factory=list)
    answer_ops: list[tuple[str, str | None]] = field(default_factory=list)
    ack_ops: list[tuple[str, str | None]] = field(default_factory=list)
    hangup_ops: list[tuple[str, str | None]] = field(default_factory=list)
    unpark_ops: list[tuple[str, str | None]] = field(default_factory=list)
    # uuid_hold / uuid_hold off: set before the event (our offer) and after it (the far end's answer)
    hold_ops: list[tuple[str, str | None]] = field(default_factory=list)
    hold_answer_ops: list[tuple[str, str | None]] = field(default_factory=list)
    unhold_ops: list[tuple[str, str | None]] = field(default_factory=list)
    unhold_answer_ops: list[tuple[str, str | None]] = field(default_factory=list)
    reporting_vars: list[tuple[str, str]] = field(default_factory=list)
    # loopback legs pre-answer implicitly inside answer (no PROGRESS_MEDIA event), sofia does not.
    early_media_on_answer: bool = False
    is_loopback: bool = False


def _loop_name(spec: ChannelSpec) -> str:
    return f"loopback/{spec.number}-b"


def _loop_values(spec: ChannelSpec, name: str) -> dict[str, str]:
    return {
        "Direction": "inbound", "Logical-Direction": "inbound", "Dialplan": "xml",
        "Caller-ID-Name": spec.caller_name, "Caller-ID-Number": spec.caller,
        "Orig-Caller-ID-Name": spec.caller_name, "Orig-Caller-ID-Number": spec.caller,
        "Callee-ID-Name": "Outbound Call", "Callee-ID-Number": "esltest", "ANI": spec.caller,
        "Destination-Number": spec.number, "Unique-ID": spec.uuid, "Source": "mod_loopback",
        "Context": "esltest", "Channel-Name": name, "Profile-Index": "1",
    }


def _loop_vars(spec: ChannelSpec, name: str) -> list[tuple[str, str]]:
    out = [
        ("direction", "inbound"), ("uuid", spec.uuid), ("session_id", str(spec.session_id)),
        ("channel_name", name), ("read_codec", "L16"), ("read_rate", "8000"), ("write_codec", "L16"),
        ("write_rate", "8000"), ("origination_uuid", spec.other_uuid),
        ("origination_caller_id_number", spec.caller), ("origination_caller_id_name", spec.caller_name),
        ("other_loopback_leg_uuid", spec.other_uuid), ("loopback_leg", "B"), ("call_uuid", spec.uuid),
    ]
    out.extend(spec.extra_vars.items())
    out += [
        ("current_application_data", spec.socket_arg), ("current_application", "socket"),
        ("socket_host", spec.socket_arg.split(":", 1)[0]),
    ]
    return out


def _fill(text: str, spec: ChannelSpec) -> str:
    if "@@" not in text:
        return text
    return (
        text.replace("@@UUID@@", spec.uuid).replace("@@CALLER_NAME@@", spec.caller_name)
        .replace("@@CALLER@@", spec.caller).replace("@@NUMBER@@", spec.number)
        .replace("@@CALL_ID@@", spec.call_id).replace("@@FROM_TAG@@", spec.from_tag)
        .replace("@@CREATED_US@@", str(spec.created_us)).replace("@@RFC2822@@", spec.rfc2822)
        .replace("@@SESSION_ID@@", str(spec.session_id))
    )


def _sofia_name(spec: ChannelSpec) -> str:
    return f"sofia/external/{spec.caller}@127.0.0.1"


def _sofia_values(spec: ChannelSpec, name: str) -> dict[str, str]:
    return {
        "Direction": "inbound", "Logical-Direction": "inbound", "Username": spec.caller, "Dialplan": "XML",
        "Caller-ID-Name": spec.caller_name, "Caller-ID-Number": spec.caller,
        "Orig-Caller-ID-Name": spec.caller_name, "Orig-Caller-ID-Number": spec.caller,
        "Network-Addr": "127.0.0.1", "ANI": spec.caller, "Destination-Number": spec.number,
        "Unique-ID": spec.uuid, "Source": "mod_sofia", "Context": "public", "Channel-Name": name,
        "Profile-Index": "1",
    }


def _sofia_vars(spec: ChannelSpec, name: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for var, value in _sofia_data.BASE_VARS:
        if var == "current_application_data":
            # dialplan-set variables come before the socket app runs (see _loop_vars).
            out.extend(spec.extra_vars.items())
            out.append((var, spec.socket_arg))
        elif var == "socket_host":
            out.append((var, spec.socket_arg.split(":", 1)[0]))
        elif var == "channel_name":
            out.append((var, name))
        else:
            out.append((var, _fill(value, spec)))
    return out


LOOPBACK = Profile(
    name="loopback", fields=LOOPBACK_PROFILE_FIELDS, source="mod_loopback", context="esltest",
    dialplan="xml", media_before_answer=True, channel_name=_loop_name, profile_values=_loop_values,
    base_vars=_loop_vars, is_loopback=True,
)

SOFIA = Profile(
    name="sofia", fields=SOFIA_PROFILE_FIELDS, source="mod_sofia", context="public", dialplan="XML",
    media_before_answer=False, channel_name=_sofia_name, profile_values=_sofia_values,
    base_vars=_sofia_vars, codec=("PCMU", "8000", "64000"),
    early_media_ops=list(_sofia_data.EARLY_MEDIA_OPS), answer_ops=list(_sofia_data.ANSWER_OPS),
    ack_ops=list(_sofia_data.ACK_OPS), hangup_ops=list(_sofia_data.HANGUP_OPS),
    unpark_ops=list(_sofia_data.UNPARK_OPS), reporting_vars=list(_sofia_data.REPORTING_VARS),
    hold_ops=list(_sofia_data.HOLD_OPS), hold_answer_ops=list(_sofia_data.HOLD_ANSWER_OPS),
    unhold_ops=list(_sofia_data.UNHOLD_OPS), unhold_answer_ops=list(_sofia_data.UNHOLD_ANSWER_OPS),
    early_media_on_answer=True,
)

PROFILES: dict[str, Profile] = {"loopback": LOOPBACK, "sofia": SOFIA}


def fill_ops(ops: list[tuple[str, str | None]], spec: ChannelSpec) -> list[tuple[str, str | None]]:
    return [(name, None if value is None else _fill(value, spec)) for name, value in ops]


# Other-Leg-* fields of a bridged leg: the caller profile minus Profile-Index (04-bridge).
OTHER_LEG_FIELDS = [f for f in LOOPBACK_PROFILE_FIELDS if f != "Profile-Index"]
