"""fax_send and fax_receive through the real server and the simulator's mod_spandsp (traces 08, 08b,
08c): a PDF becomes a fax TIFF with the real Ghostscript (cached), a received TIFF a PDF with the
real tiff2pdf; the outcomes come from mod_spandsp's result variables, success and failure."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from fsivr.config import Config
from fsivr.store.models import CallFileRow, OutboxRow
from fsivr.testing import FaxPeer
from fsivr.testing.harness import Harness, Placed, running

pytestmark = pytest.mark.skipif(not (shutil.which("gs") and shutil.which("tiff2pdf") and shutil.which("tiffinfo")),
                                reason="needs ghostscript and libtiff-tools (make install installs them)")

BUNDLE = """
scenarios:
  - scenario: send
    numbers: ["4001"]
    start: f
    nodes:
      f: {type: fax_send, document: price-list.pdf, sent: bye, failed: bye}
      bye: {type: hangup}
  - scenario: send-missing
    numbers: ["4002"]
    start: f
    nodes:
      f: {type: fax_send, document: nothing-here.pdf, sent: bye, failed: bye}
      bye: {type: hangup}
  - scenario: receive
    numbers: ["4010"]
    start: f
    nodes:
      f: {type: fax_receive, email: "faxes@example.com", received: bye, failed: bye}
      bye: {type: hangup}
"""

#: A one-page PDF with a line of text (hand-written: the test needs no PDF library).
PDF = b"""%PDF-1.4
1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj
2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj
3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R
  /Resources << /Font << /F1 5 0 R >> >> >> endobj
4 0 obj << /Length 44 >> stream
BT /F1 24 Tf 72 720 Td (Price list) Tj ET
endstream endobj
5 0 obj << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> endobj
trailer << /Root 1 0 R >>
%%EOF
"""


@pytest.fixture(scope="module")
def dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    media, documents = tmp_path_factory.mktemp("media"), tmp_path_factory.mktemp("documents")
    (documents / "price-list.pdf").write_bytes(PDF)
    return media, documents


@pytest.fixture(scope="module")
def faxes(dirs: tuple[Path, Path]) -> Iterator[Harness]:
    cfg = Config()
    cfg.media_dir, cfg.documents_dir = map(str, dirs)
    with running(BUNDLE, config=cfg) as harness:
        yield harness


def detail(placed: Placed, step: int = 0) -> dict:
    assert placed.record is not None
    return placed.record["path"][step]["detail"] or {}


def txfax_file(placed: Placed) -> Path:
    [run] = [a for a in placed.result.apps if a.name == "txfax"]
    return Path(run.arg or "")


def test_a_pdf_is_sent_as_a_fax_tiff_converted_once(faxes: Harness, dirs: tuple[Path, Path]) -> None:
    media, _ = dirs
    placed = faxes.call(number="4001", fax=FaxPeer(pages=2))
    assert placed.path == [("f", "sent"), ("bye", "hangup")]
    assert detail(placed) == {"fax_result_code": "0", "fax_result_text": "OK", "fax_pages": "2"}
    tiff = txfax_file(placed)
    assert tiff.parent == media / "fax-cache"
    info = subprocess.run(["tiffinfo", str(tiff)], capture_output=True, text=True, check=True).stdout
    assert "Resolution: 204, 196 pixels/inch" in info and "CCITT Group 3" in info
    made = tiff.stat().st_mtime_ns
    again = faxes.call(number="4001", fax=FaxPeer(pages=2))
    assert txfax_file(again) == tiff and tiff.stat().st_mtime_ns == made  # the cache, not gs again


def test_the_result_after_the_far_end_hung_up_still_counts(faxes: Harness) -> None:
    # Trace 08: the receiver hangs up right after the last page; txfaxresult comes after CHANNEL_HANGUP.
    placed = faxes.call(number="4001", fax=FaxPeer(pages=1, hangup_after=True))
    assert placed.path == [("f", "sent")]
    assert placed.result.hangup_by == "caller"


@pytest.mark.parametrize(("peer", "code", "text"), [
    (FaxPeer(answers=False), "2", "Timed out waiting for initial communication"),
    (FaxPeer(pages=3, drop_at_page=2), "49", "The call dropped prematurely"),
])
def test_a_failed_fax_is_failed_with_the_result_text(faxes: Harness, peer: FaxPeer, code: str, text: str) -> None:
    placed = faxes.call(number="4001", fax=peer)
    assert placed.path[0] == ("f", "failed")
    assert (detail(placed)["fax_result_code"], detail(placed)["fax_result_text"]) == (code, text)


def test_a_missing_document_or_ghostscript_is_an_error_said_clearly(faxes: Harness) -> None:
    placed = faxes.call(number="4002")
    assert placed.path == [("f", "error")]
    assert "nothing-here.pdf is not in" in detail(placed)["error"]
    assert not [a for a in placed.result.apps if a.name == "txfax"]


def test_without_ghostscript_fax_send_says_what_to_install(dirs: tuple[Path, Path], tmp_path: Path) -> None:
    cfg = Config()
    cfg.media_dir, cfg.documents_dir = str(tmp_path), str(dirs[1])
    cfg.gs_command = "fsivr-no-such-gs"
    with running(BUNDLE, config=cfg) as harness:
        placed = harness.call(number="4001")
    assert placed.path == [("f", "error")]
    assert detail(placed)["error"] == ("fsivr-no-such-gs is not installed (Debian/Ubuntu: apt-get install "
                                       "ghostscript; `make install` installs it)")


def kept(harness: Harness, placed: Placed) -> tuple[list[CallFileRow], list[OutboxRow]]:
    uuid = placed.result.uuid
    return harness.store.run(lambda s: (
        list(s.scalars(select(CallFileRow).where(CallFileRow.call_uuid == uuid))),
        list(s.scalars(select(OutboxRow).where(OutboxRow.call_uuid == uuid)))))


def test_a_received_fax_is_kept_as_pdf_and_mailed(faxes: Harness, dirs: tuple[Path, Path]) -> None:
    media, _ = dirs
    placed = faxes.call(number="4010", caller="+48221112233", fax=FaxPeer(pages=2))
    assert placed.path == [("f", "received"), ("bye", "hangup")]
    [row], [mail] = kept(faxes, placed)
    pdf = media / row.file
    assert row.kind == "fax" and pdf.suffix == ".pdf" and pdf.read_bytes().startswith(b"%PDF")
    assert b"/Count 2" in pdf.read_bytes()  # both pages
    assert not list((media / "fax").glob("*.tif"))  # the TIFF became the PDF
    assert mail.payload["to"] == ["faxes@example.com"] and mail.payload["subject"] == "Fax from +48221112233"
    assert mail.payload["attachments"] == [{"path": str(pdf), "content_type": "application/pdf"}]


@pytest.mark.parametrize(("peer", "text"), [
    (FaxPeer(answers=False), "Timed out waiting for initial communication"),
    (FaxPeer(pages=0), "no pages received"),
])
def test_a_failed_or_empty_fax_is_failed_with_the_result_text(faxes: Harness, peer: FaxPeer, text: str) -> None:
    placed = faxes.call(number="4010", fax=peer)
    assert placed.path[0] == ("f", "failed")
    assert detail(placed)["fax_result_text"] == text
    assert kept(faxes, placed) == ([], [])


def test_a_file_freeswitch_cannot_read_is_failed_with_its_words(faxes: Harness, dirs: tuple[Path, Path]) -> None:
    # Trace 08b: txfax of a file that is not there answers "Cannot send non-existant fax file" and sets
    # no fax_* variable (here: FreeSWITCH does not see media_dir where fsivr does).
    media, _ = dirs
    cached = media / "fax-cache" / f"{hashlib.sha256(PDF).hexdigest()}.tif"
    placed = faxes.call(number="4001", files={str(cached): None})
    assert placed.path == [("f", "failed"), ("bye", "hangup")]
    assert detail(placed) == {"fax_result_code": "", "fax_result_text": "Cannot send non-existant fax file",
                              "fax_pages": "0"}
