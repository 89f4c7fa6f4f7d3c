"""Keeping callcenter.conf.xml current from ``fsivr serve``: mod_callcenter loads a queue only from
its XML (``queue load``/``reload`` → load_queue → switch_xml_open_cfg, mod_callcenter.c), so a
queue created or changed in the database must be in the file — and FreeSWITCH must have re-read
its XML (``reloadxml``) — before the sync asks for it.

The file is the one ``render-conf`` writes (same template, same state → same text), replaced only
when it changed.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fsivr.callcenter.state import CallcenterState
from fsivr.esl.inbound import RELOADXML_OK
from fsivr.esl.link import EventLink
from fsivr.render.conf import (
    CALLCENTER_CONF,
    RenderError,
    check_callcenter,
    check_xml,
    environment,
    render_callcenter,
    write,
)

log = logging.getLogger("fsivr.render")


class CallcenterConfPublisher:
    """``publish_conf`` for fsivr.callcenter.sync.CallcenterSync."""

    def __init__(self, conf_dir: str | Path, link: EventLink, templates: Path | None = None) -> None:
        self.conf_dir = Path(conf_dir)
        self.link = link
        self.templates = templates

    def __call__(self, state: CallcenterState) -> None:
        problems = check_callcenter(state)
        # Unreachable agents are left out of the state already; only a name problem stops it.
        blocking = [p for p in problems if p not in state.problems]
        if blocking:
            raise RenderError(blocking)
        files = {CALLCENTER_CONF: render_callcenter(state, environment(self.templates))}
        check_xml(files)
        if write(files, self.conf_dir):
            log.info("wrote %s", self.conf_dir / CALLCENTER_CONF)
        # Also when unchanged: render-conf may have written it without FreeSWITCH re-reading it.
        out = self.link.api("reloadxml").strip()
        if out != RELOADXML_OK:
            log.warning("FreeSWITCH could not reload its XML: %s", out or "no reply")
