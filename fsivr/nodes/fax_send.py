"""fax_send: send a stored document to the caller as a fax (mod_spandsp ``txfax``).

A PDF is converted to a fax TIFF first (Ghostscript, cached: fsivr/nodes/_faxfiles.py). The outcome
is read from mod_spandsp's result variables on txfax's completion (mod_spandsp_fax.c,
phase_e_handler: fax_success, fax_result_code, fax_result_text; traces 08, 08c), which arrives after
the CHANNEL_HANGUP when the far end hangs up right after the last page (trace 08).
"""

from __future__ import annotations

import logging
from pathlib import Path

from fsivr.engine.call import Call, Faxed
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.nodes._faxfiles import FaxFileError, fax_tiff

log = logging.getLogger("fsivr.call")

DOCUMENT_TYPES = (".pdf", ".tif", ".tiff")


def fax_result(call: Call, faxed: Faxed) -> bool:
    """mod_spandsp's verdict, put where templates and the call record see it; True on success."""
    call.vars.update(fax_result_code=faxed.code, fax_result_text=faxed.text, fax_pages=faxed.pages)
    call.step_detail.update(fax_result_code=faxed.code, fax_result_text=faxed.text, fax_pages=str(faxed.pages))
    return faxed.success


@register
class FaxSend(Node):
    type = "fax_send"
    summary = "send a stored document (PDF or fax TIFF) to the caller as a fax"
    params = {
        "document": Param(str, required=True, doc=f"file under documents_dir ({', '.join(DOCUMENT_TYPES)})"),
        "max_seconds": Param(float, default=600.0, between=(30, 7200), unit="seconds",
                             doc="longest the transmission may take"),
    }
    outcomes = ("sent", "failed")
    waits = True

    def compile(self) -> None:
        name = self.p["document"]
        if Path(name).suffix.lower() not in DOCUMENT_TYPES:
            raise self.error(f"must be a {', '.join(DOCUMENT_TYPES)} file", "document")
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise self.error("must be a name under documents_dir", "document")

    def run(self, call: Call) -> str:
        services = call.services
        try:
            document = services.media.document(self.p["document"])
            if not document.is_file():
                raise FaxFileError(f"document {self.p['document']} is not in {services.media.documents}")
            tiff = fax_tiff(document, services.media.folder("fax-cache"), services.config.gs_command)
        except (FaxFileError, ValueError) as exc:
            call.step_detail["error"] = str(exc)
            log.warning("call %s: fax_send %s: %s", call.uuid, self.id, exc)
            return "error"
        call.answer()
        return "sent" if fax_result(call, call.fax("txfax", str(tiff), self.p["max_seconds"])) else "failed"
