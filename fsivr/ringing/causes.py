"""What FreeSWITCH's result of a bridge means: the one table from its causes to our four outcomes.

Read ``originate_disposition`` (the cause name; switch_ivr_originate.c sets it at the end of every
originate) and, as a fallback, ``DIALSTATUS``. Not ``bridge_hangup_cause`` /
``last_bridge_hangup_cause`` / ``originate_failed_cause``: a failed bridge leaves them as the
previous bridge set them (trace 04, README "bridge" table).
"""

from __future__ import annotations

from fsivr.esl.frames import Event

ANSWERED, NO_ANSWER, BUSY, FAILED = "answered", "no_answer", "busy", "failed"
RING_OUTCOMES = (ANSWERED, NO_ANSWER, BUSY, FAILED)

#: ``originate_disposition`` values (hangup cause names, switch_types.h switch_call_cause_t, as
#: switch_channel_cause2str spells them) and the ``DIALSTATUS`` spellings that differ from them
#: (switch_ivr_originate.c: CANCEL, BUSY, NOANSWER, INVALIDARGS, DONTCALL; ANSWER/EARLY in older
#: paths) → the outcome a scenario sees. Anything not listed is ``failed``.
CAUSE_OUTCOMES: dict[str, str] = {
    # Connected. SUCCESS is what 1.11.1 reports for an answered bridge, in both variables (trace 04).
    "SUCCESS": ANSWERED,
    "ANSWER": ANSWERED,  # DIALSTATUS
    "EARLY": ANSWERED,  # DIALSTATUS when the peer answered during early media
    # Someone else's phone took the call (intercept / call pickup): the caller was served.
    "PICKED_OFF": ANSWERED,
    # Rang, nobody picked up in time.
    "NO_ANSWER": NO_ANSWER,  # originate_timeout reached (trace 04: DIALSTATUS NOANSWER)
    "NOANSWER": NO_ANSWER,  # DIALSTATUS
    "NO_USER_RESPONSE": NO_ANSWER,  # far end alerted but no answer (SIP 408 from some trunks, Q.850 18)
    "ALLOTTED_TIMEOUT": NO_ANSWER,  # our per-leg leg_timeout ended the leg (check_per_channel_timeouts)
    "RECOVERY_ON_TIMER_EXPIRE": NO_ANSWER,  # SIP 408 Request Timeout: the phone never answered
    # Cancelled ringing without the caller hanging up (a caller hang-up surfaces as ChannelHangup).
    "ORIGINATOR_CANCEL": NO_ANSWER,
    "CANCEL": NO_ANSWER,  # DIALSTATUS for ORIGINATOR_CANCEL
    "LOSE_RACE": NO_ANSWER,  # another leg/branch won
    # The person is there but will not take the call now.
    "USER_BUSY": BUSY,  # SIP 486/600 (trace 04: DIALSTATUS BUSY)
    "BUSY": BUSY,  # DIALSTATUS
    "CALL_REJECTED": BUSY,  # SIP 603 Decline: the employee pressed "reject" — busy to the caller
    "DONTCALL": BUSY,  # DIALSTATUS for CALL_REJECTED
    # Could not reach anyone: offline phone, wrong number, trunk or network trouble.
    "USER_NOT_REGISTERED": FAILED,  # account exists, no registration (trace 04)
    "SUBSCRIBER_ABSENT": FAILED,  # no such user in the directory (trace 04); SIP 480 on some trunks
    "UNALLOCATED_NUMBER": FAILED,  # SIP 404
    "NO_ROUTE_DESTINATION": FAILED,
    "NO_ROUTE_TRANSIT_NET": FAILED,
    "INVALID_NUMBER_FORMAT": FAILED,  # SIP 484
    "NUMBER_CHANGED": FAILED,  # SIP 410
    "NORMAL_TEMPORARY_FAILURE": FAILED,  # SIP 503 and generic transient failures
    "NORMAL_CIRCUIT_CONGESTION": FAILED,
    "SWITCH_CONGESTION": FAILED,
    "NETWORK_OUT_OF_ORDER": FAILED,
    "DESTINATION_OUT_OF_ORDER": FAILED,  # also: an unknown endpoint/application
    "INVALIDARGS": FAILED,  # DIALSTATUS: bad dial string / profile
    "INVALID_PROFILE": FAILED,
    "INVALID_GATEWAY": FAILED,
    "GATEWAY_DOWN": FAILED,
    "SERVICE_UNAVAILABLE": FAILED,
    "REQUESTED_CHAN_UNAVAIL": FAILED,
    "CHAN_NOT_IMPLEMENTED": FAILED,
    "INCOMPATIBLE_DESTINATION": FAILED,  # SIP 488: no common codec
    "BEARERCAPABILITY_NOTAVAIL": FAILED,
    "FACILITY_REJECTED": FAILED,
    "MANDATORY_IE_MISSING": FAILED,  # user without a dial-string (mod_dptools user endpoint)
    "PROGRESS_TIMEOUT": FAILED,  # the far end never even started ringing
    "MEDIA_TIMEOUT": FAILED,
    "EXCHANGE_ROUTING_ERROR": FAILED,  # SIP 483
    "INTERWORKING": FAILED,
    "SYSTEM_SHUTDOWN": FAILED,
    # A *failed* bridge that reports NORMAL_CLEARING: the SIP far end refused with a code
    # FreeSWITCH has no better cause for (trace 04: SIP 480 → NORMAL_CLEARING). An answered
    # bridge reports SUCCESS, never this.
    "NORMAL_CLEARING": FAILED,
    "NORMAL_UNSPECIFIED": FAILED,
    "NONE": FAILED,
}


def classify(disposition: str | None, dialstatus: str | None = None) -> tuple[str, str]:
    """(outcome, cause) for a bridge's ``originate_disposition`` and ``DIALSTATUS``.

    originate_disposition is the precise cause name; DIALSTATUS only decides when it is missing.
    An unknown or missing result is ``failed`` — a scenario must never treat "we don't know" as
    "someone took the call".
    """
    for value in (disposition, dialstatus):
        if value and value != "_undef_":
            cause = value.strip().upper()
            return CAUSE_OUTCOMES.get(cause, FAILED), cause
    return FAILED, "UNKNOWN"


def classify_event(event: Event) -> tuple[str, str]:
    """Classify the CHANNEL_EXECUTE_COMPLETE of a ``bridge``."""
    return classify(event.variable("originate_disposition"), event.variable("DIALSTATUS"))
