"""The example systemd units (docs/systemd/) are valid units that do what README's "Production"
says: restart on failure, SIGTERM with time for the drain, a dedicated user, hardening."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from fsivr.config import Config

UNITS = Path(__file__).resolve().parent.parent / "docs" / "systemd"
NAMES = ["fsivr-serve.service", "fsivr-worker.service"]
#: CallRecordWriter.close()'s bound after the drain (App.stop).
RECORD_FLUSH_BOUND = 30


def service_section(path: Path) -> dict[str, str]:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return dict(parser["Service"])


def seconds(text: str) -> float:
    return float(text.removesuffix("s"))


@pytest.mark.parametrize("name", NAMES)
def test_unit_settings(name: str) -> None:
    service = service_section(UNITS / name)
    assert service["Restart"] == "on-failure"
    assert service["KillSignal"] == "SIGTERM"
    assert service["User"] == "fsivr" and service["Group"] == "fsivr"
    # systemd must not SIGKILL while calls drain and records are flushed.
    assert seconds(service["TimeoutStopSec"]) > Config().shutdown_grace + RECORD_FLUSH_BOUND
    assert service["ExecStart"].split()[-1] == name.removeprefix("fsivr-").removesuffix(".service")
    for hardening in ("NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "SystemCallFilter",
                      "RestrictAddressFamilies", "CapabilityBoundingSet"):
        assert hardening in service, hardening


@pytest.mark.parametrize("name", NAMES)
def test_systemd_analyze_verify(name: str, tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed: the units' syntax is not checked here")
    # verify checks that ExecStart's program exists: point it at this interpreter's fsivr.
    text = (UNITS / name).read_text()
    command = name.removeprefix("fsivr-").removesuffix(".service")
    text = text.replace(f"/opt/fsivr/.venv/bin/fsivr {command}", f"{sys.executable} -m fsivr {command}")
    unit = tmp_path / name
    unit.write_text(text)
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    # verify exits 0 even for unknown keys ("Unknown key ..., ignoring"): any line about the unit fails.
    about_unit = [line for line in (done.stdout + done.stderr).splitlines() if name in line]
    assert done.returncode == 0 and about_unit == [], done.stdout + done.stderr
