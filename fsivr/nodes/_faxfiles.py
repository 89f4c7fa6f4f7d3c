"""Fax documents: a PDF to send becomes a fax TIFF (Ghostscript's tiffg3 at fax resolution, cached by
content), a received TIFF becomes a PDF (libtiff's tiff2pdf). The tools run as child processes
through gevent.subprocess, so a conversion never blocks the hub; arguments are a list (no shell) and
the paths are ours (documents_dir, media_dir), never caller text."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from gevent import subprocess

#: Standard fax resolution, 204x196 dpi ("fine"), the one every T.30 machine takes; A4, fitted.
GS_FAX = ["-q", "-dNOPAUSE", "-dBATCH", "-dSAFER", "-sDEVICE=tiffg3", "-r204x196", "-sPAPERSIZE=a4",
          "-dFIXEDMEDIA", "-dPDFFitPage"]
#: A converter that has not finished by then is stuck (a 100-page PDF takes seconds).
TIMEOUT = 120.0


class FaxFileError(RuntimeError):
    """A conversion failed or its tool is missing; the message says what to do."""


def _tool(command: str, package: str) -> str:
    found = shutil.which(command)
    if found is None:
        raise FaxFileError(f"{command} is not installed (Debian/Ubuntu: apt-get install {package}; "
                           "`make install` installs it)")
    return found


def _run(argv: list[str], what: str) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, timeout=TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise FaxFileError(f"{what} took longer than {TIMEOUT:.0f} s") from None
    if done.returncode != 0:
        said = " ".join((done.stderr or done.stdout or b"").decode("utf-8", "replace").split())[:300]
        raise FaxFileError(f"{what} failed (exit {done.returncode}): {said}")


def fax_tiff(document: Path, cache_dir: Path, gs: str = "gs") -> Path:
    """The fax TIFF to send for ``document``: a .tif/.tiff as it is; a PDF converted once per
    content (the cache file is named by its SHA-256, so an edited document is converted again)."""
    if document.suffix.lower() in (".tif", ".tiff"):
        return document
    try:
        digest = hashlib.sha256(document.read_bytes()).hexdigest()
    except OSError as exc:
        raise FaxFileError(f"document {document.name}: {exc.strerror}") from None
    cached = cache_dir / f"{digest}.tif"
    if cached.is_file():
        return cached
    tmp = cache_dir / f".{digest}.{os.getpid()}.tif"
    try:
        _run([_tool(gs, "ghostscript"), *GS_FAX, f"-sOutputFile={tmp}", str(document)],
             f"converting {document.name} to a fax TIFF")
        tmp.replace(cached)  # atomic: a concurrent call sees the whole file or none
    finally:
        tmp.unlink(missing_ok=True)
    return cached


def tiff_pdf(tiff: Path, pdf: Path, tiff2pdf: str = "tiff2pdf") -> Path:
    """A received fax as PDF next to it."""
    _run([_tool(tiff2pdf, "libtiff-tools"), "-o", str(pdf), str(tiff)], f"converting {tiff.name} to PDF")
    return pdf
