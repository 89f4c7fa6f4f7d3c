"""record_call: record the rest of the call to a file kept with the call record; the worker deletes
it after ``retention_days`` (a scheduled outbox job, fsivr/worker/retention.py)."""

from __future__ import annotations

import re
from datetime import timedelta

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register

UNSAFE = re.compile(r"[^A-Za-z0-9-]")


@register
class RecordCall(Node):
    type = "record_call"
    summary = "record the rest of the call to a file kept with the call record"
    params = {
        "format": Param(str, default="wav", choices=("wav", "mp3"),
                        doc="mp3 needs FreeSWITCH's mod_shout"),
        "stereo": Param(bool, default=False, doc="caller on the left channel, the other side on the right"),
        "retention_days": Param(int, default=0, between=(0, 3650), unit="days",
                                doc="delete the recording after this many days (0: keep it)"),
    }
    outcomes = ("next",)

    def run(self, call: Call) -> str:
        media = call.services.media
        stamp = call.now().strftime("%Y%m%dT%H%M%S")
        path = media.path("recordings", f"{stamp}-{UNSAFE.sub('', call.uuid)[:64]}.{self.p['format']}")
        call.record_session(str(path), stereo=self.p["stereo"])
        relative = media.relative(path)
        call.files["recording"] = str(path)
        call.vars["recording_file"] = relative
        call.step_detail["file"] = relative
        days = self.p["retention_days"]
        expires = call.now() + timedelta(days=days) if days else None
        if call.services.archive is not None:
            call.services.archive.call_file(call.uuid, "recording", relative, expires)
        if expires is not None and call.services.notify is not None:
            call.services.notify.enqueue("delete_file", lambda: {"file": relative},
                                         call.send_key(self.id, "retention"), call_uuid=call.uuid,
                                         not_before=expires)
        return "next"
