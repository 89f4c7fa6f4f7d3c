"""fax_receive: receive a fax (mod_spandsp ``rxfax``), keep it as PDF with the call record, and
e-mail it when asked. A failed or empty fax takes ``failed`` with mod_spandsp's result text."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.nodes._faxfiles import FaxFileError, tiff_pdf
from fsivr.nodes._notify import refused, render_all, templates_list
from fsivr.nodes.fax_send import fax_result

log = logging.getLogger("fsivr.call")
UNSAFE = re.compile(r"[^A-Za-z0-9-]")


@register
class FaxReceive(Node):
    type = "fax_receive"
    summary = "receive a fax, keep it as PDF with the call record, optionally e-mail it"
    params = {
        "email": Param((str, list), check=templates_list, doc="e-mail the PDF to these addresses (templates)"),
        "max_seconds": Param(float, default=600.0, between=(30, 7200), unit="seconds",
                             doc="longest the transmission may take"),
    }
    outcomes = ("received", "failed")
    waits = True

    def run(self, call: Call) -> str:
        media = call.services.media
        stamp = call.now().strftime("%Y%m%dT%H%M%S")
        tiff = media.path("fax", f"{stamp}-{UNSAFE.sub('', call.uuid)[:64]}-{UNSAFE.sub('', self.id)[:40]}.tif")
        call.answer()
        ok = fax_result(call, call.fax("rxfax", str(tiff), self.p["max_seconds"]))
        if not ok or not call.vars.get("fax_pages") or not tiff.is_file():
            if ok:
                call.step_detail["fax_result_text"] = call.vars["fax_result_text"] = "no pages received"
            tiff.unlink(missing_ok=True)
            return "failed"
        try:
            pdf = tiff_pdf(tiff, tiff.with_suffix(".pdf"), call.services.config.tiff2pdf_command)
        except FaxFileError as exc:
            # The fax came: keep the TIFF rather than lose it, and say why there is no PDF.
            call.step_detail["error"] = str(exc)
            log.warning("call %s: fax_receive %s: %s; keeping the TIFF", call.uuid, self.id, exc)
            pdf = tiff
        else:
            tiff.unlink(missing_ok=True)
        relative = media.relative(pdf)
        call.files["fax"] = str(pdf)
        call.vars["fax_file"] = relative
        call.step_detail["file"] = relative
        if call.services.archive is not None:
            call.services.archive.call_file(call.uuid, "fax", relative)
        return self._mail(call, pdf)

    def _mail(self, call: Call, pdf: Path) -> str:
        if not self.p["email"]:
            return "received"
        notify = call.services.notify
        try:
            to = render_all(self.p["email"], call)
            if notify is None or not to:
                raise ValueError("no notifier is configured" if notify is None else "the addresses rendered empty")
            sender = " ".join(call.caller.split()) or "an unknown sender"
            queued = notify.email(call.send_key(self.id), to, f"Fax from {sender}",
                                  f"A fax of {call.vars.get('fax_pages')} page(s) from {sender} to "
                                  f"{call.number} arrived at {call.arrived_at.isoformat()}.",
                                  attachments=[{"path": str(pdf), "content_type": "application/pdf"
                                                if pdf.suffix == ".pdf" else "image/tiff"}], call_uuid=call.uuid)
        except ValueError as exc:
            refused(self, call, exc)  # the fax is kept all the same; the step says why no mail went
            return "received"
        call.step_detail["outbox"] = queued.id
        return "received"
