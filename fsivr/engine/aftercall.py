"""What a scenario's after_call chain knows of the finished call, besides the call's own variables:
answered or not and by whom, how long, whether this was the caller's first call (spec section 3,
"Post-call"). The runner puts these into ``call.vars`` before it walks the chain."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

from fsivr.engine.call import Call, channel_time

if TYPE_CHECKING:
    from fsivr.engine.services import Archive
    from fsivr.store.callrecords import CallRecord

log = logging.getLogger("fsivr.call")


def finished_call(call: Call, record: CallRecord, ended: datetime, archive: Archive | None) -> dict[str, Any]:
    """``answered``: a person answered (a dial, group, forward... of this call ended answered) — the
    IVR answering the channel itself does not count; ``channel_answered`` says that.
    ``first_call``: no other call from this caller is on record (asked off the hub, Store.run)."""
    last = call.last_ring
    answered_by = last.target if last is not None and last.outcome == "answered" else ""
    answered = bool(answered_by) or any(s.outcome == "answered" for s in record.steps)
    final = call.conn.hangup_complete or call.conn.hangup_event
    channel_answered = ((final is not None and channel_time(final.get("Caller-Channel-Answered-Time")))
                        or call.answered_at)
    first = False
    if archive is not None:
        try:
            first = archive.first_call(call.caller, call.uuid)
        except Exception as exc:  # the chain still runs; it just cannot know (database down)
            log.warning("call %s: could not look up the caller's history: %s", call.uuid, exc)
    return {"answered": answered, "answered_by": answered_by, "channel_answered": bool(channel_answered),
            "duration": max(0, round((ended - record.started_at).total_seconds())),
            "talk_seconds": max(0, round((ended - channel_answered).total_seconds())) if channel_answered else 0,
            "first_call": first, "hangup_cause": call.conn.hangup_cause or "", "ended_at": ended.isoformat()}
