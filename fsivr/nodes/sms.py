"""sms: queue an SMS (template text) through the outbox; ``fsivr worker`` sends it."""

from __future__ import annotations

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.nodes._notify import ONLY_IF, refused, render_all, template, templates_list, wanted


@register
class Sms(Node):
    type = "sms"
    summary = "queue an SMS (template text) to the caller, staff or any number"
    params = {
        "to": Param((str, list), required=True, check=templates_list,
                    doc="number(s), templates: '{{ caller }}', '+48600100101'"),
        "text": Param(str, required=True, check=template, doc="the message, a template over the call's variables"),
        "sender": Param(str, doc="sender id, if the backend lets us choose (default: sms_from)"),
        "only_if": ONLY_IF,
    }
    outcomes = ("next",)
    runs_after_call = True

    def run(self, call: Call) -> str:
        if not wanted(self, call):
            return "next"
        recipients = render_all(self.p["to"], call)
        text = render_all([self.p["text"]], call)
        notify = call.services.notify
        try:
            if notify is None:
                raise ValueError("no notifier is configured")
            if not recipients or not text:
                raise ValueError("nothing to send: the recipient or the text rendered empty")
            queued = [notify.sms(call.send_key(self.id, i), to, text[0], sender=self.p["sender"], call_uuid=call.uuid)
                      for i, to in enumerate(recipients)]
        except ValueError as exc:
            return refused(self, call, exc)
        call.step_detail["outbox"] = [q.id for q in queued]
        return "next"
