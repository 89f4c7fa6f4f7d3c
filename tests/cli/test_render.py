"""``fsivr render-conf`` as an operator runs it: a real process, against the inbound-ESL simulator."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from gevent import subprocess  # the inbound switch runs in this process: wait cooperatively

from fsivr.scenario import repository
from fsivr.store.db import Store
from fsivr.testing.inbound import InboundSwitch

BUNDLE = """
accounts:
  - {user: "101", password: "secret-101", name: "Anna Nowak", extension: "101"}
gateways:
  - {name: trunk, proxy: sip.operator.example, username: "48221234567", password: "trunk-pw", register: true}
scenarios:
  - scenario: office
    numbers: ["+48221234567"]
    start: bye
    nodes:
      bye: {type: hangup}
"""


def make_store(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    store = Store(url)
    store.upgrade()
    path = tmp_path / "bundle.yaml"
    path.write_text(BUNDLE)
    repository.import_file(store, path)
    store.close()
    return url


def test_cli_render_conf(tmp_path: Path) -> None:
    url = make_store(tmp_path)
    with InboundSwitch() as sw:
        env = {**os.environ, "FSIVR_ESL_HOST": sw.address[0], "FSIVR_ESL_PORT": str(sw.address[1])}
        cmd = [sys.executable, "-m", "fsivr", "--database", url, "render-conf", "--out-dir", str(tmp_path / "conf")]
        first = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert first.returncode == 0, first.stderr
    assert "wrote" in first.stdout and "reloaded its XML" in first.stdout
    assert second.returncode == 0 and "configuration unchanged" in second.stdout
    assert sw.calls("api reloadxml") == 1
