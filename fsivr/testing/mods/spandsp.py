"""mod_spandsp fax: ``txfax`` / ``rxfax`` (src/mod/applications/mod_spandsp/mod_spandsp_fax.c,
mod_spandsp_fax_process_fax and the T.30 phase B/D/E handlers). Traces 08, 08b, 08c.

The far end is ``CallScript.fax`` (a FaxPeer). Virtual timing follows trace 08: 250 ms sleep,
phase B (``*negociateresult``) 5.14 s after the start, the first page 10.02 s later, each further
page 3.67 s, phase E (``*result``) 2.19 s after the last page — or, if the far end hangs up right
after the fax (``hangup_after``), CHANNEL_HANGUP 1.2 s after the last page and phase E after it
(spanfax_destroy runs when the loop sees the channel down).
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING

from fsivr.testing import apps
from fsivr.testing.mods.common import fire_ex
from fsivr.testing.mods.record import raw_codec
from fsivr.testing.script import FaxPeer

if TYPE_CHECKING:
    from fsivr.testing.api import ApiFunc
    from fsivr.testing.session import CallSession

_SRC = "mod_spandsp_fax.c"
DEFAULT_IDENT = "SpanDSP Fax Ident"  # spandsp_globals.ident default (mod_spandsp.c)

T_START_SLEEP = 0.25
T_PHASE_B = 5.14 - T_START_SLEEP
T_FIRST_PAGE = 10.02
T_NEXT_PAGE = 3.67
T_PHASE_E = 2.19
T_PEER_HANGUP = 1.2

# spandsp t30.h: T30_ERR_* and t30_completion_code_to_str texts
T30_OK = (0, "OK")
T30_T0_EXPIRED = (2, "Timed out waiting for initial communication")
T30_CALLDROPPED = (49, "The call dropped prematurely")

# Per page (8040x7700 px/m = 204x196 dpi, A4 1728x2200, T.85 as negotiated in 08).
_PAGE = {
    "resolution": "8040x7700", "file_resolution": "8031x7716", "pixel_size": "1728x2200",
    "file_pixel_size": "1728x2200", "encoding": "32", "encoding_name": "T.85(L0)",
}


def _exists(s: CallSession, path: str) -> bool:
    if path in s.script.files:
        return s.script.files[path] is not None
    return os.path.exists(path)


def txfax(s: CallSession, arg: str) -> None:
    _process_fax(s, arg.strip(), tx=True)


def rxfax(s: CallSession, arg: str) -> None:
    _process_fax(s, arg.strip(), tx=False)


def _process_fax(s: CallSession, filename: str, tx: bool) -> None:
    ch = s.channel
    peer: FaxPeer = s.script.fax
    if tx and not filename:
        ch.set_var("current_application_response", "Fax TX filename not set")
        return
    if tx and not _exists(s, filename):
        ch.set_var("current_application_response", "Cannot send non-existant fax file")
        return
    if not filename:
        spool = ch.get_var("fax_spool") or "/tmp"
        prefix = ch.get_var("fax_prefix") or "weird"
        filename = f"{spool}/{prefix}-1-{s.clock.now_us}.tif"
    # spanfax_init
    ch.set_var("fax_v17_disabled", "1" if apps.is_true(ch.get_var("fax_disable_v17")) else "0")
    ch.set_var("fax_ecm_requested", "0" if ch.get_var("fax_use_ecm") and not apps.is_true(ch.get_var("fax_use_ecm"))
               else "1")
    ch.set_var("fax_filename", filename)
    orig_codec = (ch.get_var("read_codec"), ch.get_var("read_rate"))
    raw_codec(s)
    mode = "tx" if tx else "rx"
    local_ident = ch.get_var("fax_ident") or DEFAULT_IDENT
    ecm = "on" if ch.get_var("fax_ecm_requested") == "1" else "off"
    pages = max(0, peer.pages)
    sent = 0
    size = 0
    result = T30_OK
    outcome = s.media(T_START_SLEEP + T_PHASE_B)
    if outcome == "done" and not peer.answers:
        outcome = s.media(30.0)  # T0: nobody answers with fax tones
        result = T30_T0_EXPIRED
        if outcome == "done":
            outcome = "failed"
    if outcome == "done":
        _phase_b(s, mode, tx, local_ident, peer, ecm)
        for page in range(1, pages + 1):
            if peer.drop_at_page == page:
                outcome = s.media(T_FIRST_PAGE / 2 if page == 1 else T_NEXT_PAGE / 2)
                if outcome == "done":
                    s.hangup(peer.hangup_cause, "caller")
                    outcome = "hangup"
                break
            outcome = s.media(T_FIRST_PAGE if page == 1 else T_NEXT_PAGE)
            if outcome != "done":
                break
            sent = page
            size = 1097 + 21 * (page - 1)
            _phase_d(s, mode, tx, sent, pages, size)
        if outcome == "done":
            if peer.hangup_after:
                outcome = s.media(T_PEER_HANGUP)
                if outcome == "done":
                    s.hangup(peer.hangup_cause, "caller")
            else:
                outcome = s.media(T_PHASE_E)
        if sent < pages or outcome == "break":
            result = T30_CALLDROPPED
    if not tx and sent:
        write_fax_tiff(filename, sent)
    if outcome in ("done", "hangup", "failed") or ch.hangup_cause is not None:
        _phase_e(s, mode, result, local_ident, peer, ecm, sent, pages, size)
    # done: switch_core_session_set_read_codec(session, NULL) restores the channel's codec
    ch.set_var("read_codec", orig_codec[0])
    ch.set_var("read_rate", orig_codec[1])


def _phase_b(s: CallSession, mode: str, tx: bool, local_ident: str, peer: FaxPeer, ecm: str) -> None:
    ch = s.channel
    ch.set_var("fax_transfer_rate", str(peer.rate))
    if tx:
        ch.set_var("fax_document_total_pages", "0")  # t30_stats.pages_in_file is 0 before phase C (08)
    ch.set_var("fax_ecm_used", ecm)
    ch.set_var("fax_t38_status", "off")
    ch.set_var("fax_local_station_id", local_ident)
    ch.set_var("fax_remote_station_id", peer.station_id)
    post = [("uuid", ch.uuid), ("fax-transfer-rate", str(peer.rate)), ("fax-ecm-used", ecm),
            ("fax-t38-status", "off"), ("fax-local-station-id", local_ident),
            ("fax-remote-station-id", peer.station_id)]
    if tx:
        post.append(("fax-document-total-pages", "0"))
    fire_ex(s, "CUSTOM", post=post, subclass=f"spandsp::{mode}faxnegociateresult",
            source=(_SRC, "phase_b_handler", "386"))


def _phase_d(s: CallSession, mode: str, tx: bool, sent: int, total: int, size: int) -> None:
    ch = s.channel
    for name, value in (
        ("fax_image_resolution", _PAGE["resolution"]), ("fax_file_image_resolution", _PAGE["file_resolution"]),
        ("fax_image_pixel_size", _PAGE["pixel_size"]), ("fax_file_image_pixel_size", _PAGE["file_pixel_size"]),
        ("fax_image_size", str(size)), ("fax_bad_rows", "0"), ("fax_longest_bad_row_run", "0"),
        ("fax_encoding", _PAGE["encoding"]), ("fax_encoding_name", _PAGE["encoding_name"]),
        ("fax_document_transferred_pages", str(sent)),
    ):
        ch.set_var(name, value)
    if tx:
        ch.set_var("fax_document_total_pages", str(total))
    post = [("uuid", ch.uuid), ("fax-document-transferred-pages", str(sent))]
    if tx:
        post.append(("fax-document-total-pages", str(total)))
    post += [
        ("fax-image-resolution", _PAGE["resolution"]), ("fax-file-image-resolution", _PAGE["file_resolution"]),
        ("fax-image-size", str(size)), ("fax-image-pixel-size", _PAGE["pixel_size"]),
        ("fax-file-image-pixel-size", _PAGE["file_pixel_size"]), ("fax-bad-rows", "0"),
        ("fax-longest-bad-row-run", "0"), ("fax-encoding", _PAGE["encoding"]),
        ("fax-encoding-name", _PAGE["encoding_name"]),
    ]
    fire_ex(s, "CUSTOM", post=post, subclass=f"spandsp::{mode}faxpageresult", source=(_SRC, "phase_d_handler", "521"))


def _phase_e(s: CallSession, mode: str, result: tuple[int, str], local_ident: str, peer: FaxPeer, ecm: str,
             sent: int, total: int, size: int) -> None:
    ch = s.channel
    code, text = result
    ch.set_var("fax_success", "1" if code == 0 else "0")
    ch.set_var("fax_result_code", str(code))
    ch.set_var("fax_result_text", text)
    ch.set_var("fax_ecm_used", ecm)
    ch.set_var("fax_t38_status", "off")
    ch.set_var("fax_local_station_id", local_ident)
    ch.set_var("fax_remote_station_id", peer.station_id if peer.answers else None)
    ch.set_var("fax_document_transferred_pages", str(sent))
    ch.set_var("fax_document_total_pages", str(total if mode == "tx" else sent))
    resolution = _PAGE["resolution"] if sent else "0x0"
    ch.set_var("fax_image_resolution", resolution)
    ch.set_var("fax_image_size", str(size))
    ch.set_var("fax_bad_rows", "0")
    rate = str(peer.rate) if peer.answers else "0"
    ch.set_var("fax_transfer_rate", rate)
    post = [
        ("fax-success", "1" if code == 0 else "0"), ("fax-result-code", str(code)), ("fax-result-text", text),
        ("fax-document-transferred-pages", str(sent)),
        ("fax-document-total-pages", str(total if mode == "tx" else sent)), ("fax-image-resolution", resolution),
        ("fax-image-size", ch.get_var("fax_image_size") or "0"), ("fax-bad-rows", "0"),
        ("fax-transfer-rate", rate), ("fax-ecm-used", ecm), ("fax-t38-status", "off"),
        ("fax-local-station-id", local_ident),
    ]
    if peer.answers:
        post.append(("fax-remote-station-id", peer.station_id))
    fire_ex(s, "CUSTOM", post=post, subclass=f"spandsp::{mode}faxresult", source=(_SRC, "phase_e_handler", "676"))


#: A received page as spandsp stores it: 1728 pixels wide (A4 at 204 dpi), 2200 rows at 196 dpi.
PAGE_WIDTH, PAGE_ROWS = 1728, 2200


def write_fax_tiff(path: str, pages: int) -> bool:
    """The received pages as a multi-page bilevel TIFF, where the path's directory exists and is
    writable (a test's temporary directory; elsewhere, e.g. the traces' paths, nothing is written).
    Uncompressed (spandsp writes T.4/T.6; any reader takes both), each page a black bar on white."""
    folder = os.path.dirname(path)
    if not folder or not os.path.isdir(folder) or not os.access(folder, os.W_OK):
        return False
    row_bytes = PAGE_WIDTH // 8
    image = bytes(row_bytes * 100) + b"\xff" * (row_bytes * 20) + bytes(row_bytes * (PAGE_ROWS - 120))
    out = bytearray(b"II*\x00\x00\x00\x00\x00")  # little-endian TIFF; first IFD offset patched below
    link = 4  # where the offset of the next IFD goes
    for page in range(pages):
        data_at = len(out)
        out += image
        rational_at = len(out)
        out += struct.pack("<IIII", 204, 1, 196, 1)
        entries = [  # (tag, type, count, value): SHORT=3, LONG=4, RATIONAL=5 (offset)
            (256, 4, 1, PAGE_WIDTH), (257, 4, 1, PAGE_ROWS), (258, 3, 1, 1), (259, 3, 1, 1),
            (262, 3, 1, 0), (273, 4, 1, data_at), (277, 3, 1, 1), (278, 4, 1, PAGE_ROWS),
            (279, 4, 1, len(image)), (282, 5, 1, rational_at), (283, 5, 1, rational_at + 8), (296, 3, 1, 2),
            (297, 3, 2, page | (pages << 16)),
        ]
        ifd_at = len(out)
        struct.pack_into("<I", out, link, ifd_at)
        out += struct.pack("<H", len(entries))
        for tag, kind, count, value in entries:
            out += struct.pack("<HHII", tag, kind, count, value)
        link = len(out)
        out += b"\x00\x00\x00\x00"
    with open(path, "wb") as fh:
        fh.write(out)
    return True


APPLICATIONS = {"txfax": txfax, "rxfax": rxfax}
API_COMMANDS: dict[str, ApiFunc] = {}
