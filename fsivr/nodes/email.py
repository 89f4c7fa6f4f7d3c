"""email: queue an e-mail (templates), optionally with a file this call left attached."""

from __future__ import annotations

from pathlib import Path

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.nodes._notify import ONLY_IF, refused, render_all, template, templates_list, wanted

#: Files a call can leave (the nodes that make them name them so in ``call.files``).
ATTACHABLE = ("voicemail", "recording", "fax")
CONTENT_TYPES = {".wav": "audio/wav", ".pdf": "application/pdf", ".tif": "image/tiff"}


@register
class Email(Node):
    type = "email"
    summary = "queue an e-mail (templates), optionally with the call's voicemail, recording or fax attached"
    params = {
        "to": Param((str, list), required=True, check=templates_list, doc="address(es), templates"),
        "subject": Param(str, required=True, check=template, doc="one line, a template"),
        "body": Param(str, default="", check=template, doc="the text, a template over the call's variables"),
        "attach": Param(list, default=[], doc=f"files of this call to attach: {', '.join(ATTACHABLE)} (a "
                                              "recording is whole only after the call: attach it in after_call)"),
        "only_if": ONLY_IF,
    }
    outcomes = ("next",)
    runs_after_call = True

    def compile(self) -> None:
        for kind in self.p["attach"]:
            if kind not in ATTACHABLE:
                raise self.error(f"cannot attach {kind!r}; one of {', '.join(ATTACHABLE)}", "attach")

    def run(self, call: Call) -> str:
        if not wanted(self, call):
            return "next"
        to = render_all(self.p["to"], call)
        subject = " ".join(" ".join(render_all([self.p["subject"]], call)).split())
        body = "\n".join(render_all([self.p["body"]], call))
        attachments = [{"path": call.files[k], "content_type": CONTENT_TYPES.get(Path(call.files[k]).suffix,
                                                                              "application/octet-stream")}
                       for k in self.p["attach"] if k in call.files]
        missing = [k for k in self.p["attach"] if k not in call.files]
        if missing:
            call.step_detail["not_attached"] = missing  # nothing of that kind was left on this call
        notify = call.services.notify
        try:
            if notify is None:
                raise ValueError("no notifier is configured")
            if not to:
                raise ValueError("nothing to send: the recipients rendered empty")
            queued = notify.email(call.send_key(self.id), to, subject, body, attachments=attachments,
                                  call_uuid=call.uuid)
        except ValueError as exc:
            return refused(self, call, exc)
        call.step_detail["outbox"] = queued.id
        return "next"
