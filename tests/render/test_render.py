"""fsivr render-conf: golden directory/dialplan/gateways for a small bundle, hostile names, safe
replacement of the live files, and reloadxml over inbound ESL (against fsivr.testing.inbound)."""

from __future__ import annotations

import os
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from gevent import subprocess  # the inbound switch runs in this process: wait cooperatively

from fsivr.config import Config
from fsivr.render.cli import PENDING, render_conf
from fsivr.render.conf import ConfData, RenderError, load_data, render, write
from fsivr.scenario import repository
from fsivr.store.db import Store
from fsivr.store.directory import Account, Gateway
from fsivr.testing.inbound import InboundSwitch

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[2]

SMALL = """
mailboxes:
  - {box: office, email: office@example.com, pin: "4321"}
accounts:
  - {user: "101", password: "secret-101", name: "Anna Nowak", extension: "101", caller_id: "+48221234567",
     mailbox: office}
  - {user: "reception", password: "secret-r", name: "Reception"}
gateways:
  - {name: trunk, proxy: sip.operator.example, username: "48221234567", password: "trunk-pw", register: true,
     transport: tcp}
  - {name: peer, proxy: 192.0.2.50, params: {ping: "30", caller-id-in-from: "true"}}
scenarios:
  - scenario: office
    numbers: ["+48221234567", {number: "1000", exit_destination: "100 XML default"}]
    start: bye
    nodes:
      bye: {type: hangup}
"""

HOSTILE_NAME = 'A&B "<x>" </variable><X-PRE-PROCESS cmd="set" data="default_password=1"/> $${hostname}\n${x}'


def make_store(tmp_path: Path, bundle: str) -> str:
    url = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    store = Store(url)
    store.upgrade()
    path = tmp_path / "bundle.yaml"
    path.write_text(bundle)
    repository.import_file(store, path)
    store.close()
    return url


def config(url: str) -> Config:
    cfg = Config()
    cfg.database_url = url
    cfg.serve_address = "127.0.0.1:8084"
    cfg.serve_failover = "192.0.2.10:8084"
    return cfg


def rendered(tmp_path: Path, bundle: str) -> dict[str, str]:
    url = make_store(tmp_path, bundle)
    store = Store(url)
    try:
        data = store.run(load_data)
    finally:
        store.close()
    return render(data, config(url))


@pytest.mark.parametrize("name, path", [
    ("directory.xml", "directory/default/fsivr.xml"),
    ("dialplan.xml", "dialplan/public/fsivr.xml"),
    ("gateways.xml", "sip_profiles/external/fsivr.xml"),
])
def test_golden(tmp_path: Path, name: str, path: str) -> None:
    """Set FSIVR_UPDATE_GOLDEN=1 to rewrite the golden files after an intended change (and review
    the diff)."""
    files = rendered(tmp_path, SMALL)
    golden = GOLDEN / name
    if os.environ.get("FSIVR_UPDATE_GOLDEN") == "1":
        golden.write_text(files[path])
    assert files[path] == golden.read_text()


def test_hostile_account_name_renders_valid_xml_without_new_elements(tmp_path: Path) -> None:
    data = ConfData(accounts=[Account("101", password='p"&<$${x}>', name=HOSTILE_NAME, extension="101")],
                    numbers=[("100", "1000 XML default")])
    files = render(data, config("sqlite://"))
    directory = files["directory/default/fsivr.xml"]
    root = ET.fromstring(directory)
    assert [el.tag for el in root.iter()] == ["include", "user", "params", "param", "param", "variables",
                                              "variable", "variable", "variable", "variable"]
    values = {el.get("name"): el.get("value") for el in root.iter("variable")}
    # The text survives as text (control characters become spaces); only its meaning is gone.
    assert values["effective_caller_id_name"] == HOSTILE_NAME.replace("\n", " ")
    assert root.find("user/params/param").get("value") == 'p"&<$${x}>'
    # FreeSWITCH's preprocessor expands $${...} in the raw text before parsing: none may remain.
    assert "$" not in directory
    dialplan = ET.fromstring(files["dialplan/public/fsivr.xml"])
    actions = [a.get("application") for a in dialplan.iter("action")]
    assert actions == ["set", "socket", "transfer"]


def test_every_user_refuses_an_empty_password(tmp_path: Path) -> None:
    # sofia_reg.c sofia_reg_parse_auth: allow_empty_password is true unless a user param says no.
    root = ET.fromstring(rendered(tmp_path, SMALL)["directory/default/fsivr.xml"])
    users = root.findall("user")
    assert len(users) == 2
    for user in users:
        params = {p.get("name"): p.get("value") for p in user.iter("param")}
        assert params["allow-empty-password"] == "false" and params["password"]


@pytest.mark.parametrize("data, problem", [
    (ConfData(accounts=[Account("10 1")]), "account user '10 1'"),
    (ConfData(accounts=[Account("a,b")]), "account user 'a,b'"),
    (ConfData(accounts=[Account("101")]), "account user '101': has no password"),
    (ConfData(accounts=[Account("101", password="")]), "account user '101': has no password"),
    (ConfData(numbers=[("1000$", None)]), "number '1000$'"),
    (ConfData(numbers=[("100", '1000 XML default"/><action application="hangup')]),
     "number '100': exit destination '1000 XML default\"/><action"),
    (ConfData(numbers=[("100", "${system(touch /tmp/x)}")]), "number '100': exit destination '${system"),
    (ConfData(numbers=[("100", "1000 XML $${domain}")]), "must be EXTENSION or EXTENSION XML CONTEXT"),
    (ConfData(numbers=[("100", "200 XML public"), ("200", None)]), "is a number routed to fsivr"),
    (ConfData(gateways=[Gateway("trunk/x")]), "gateway 'trunk/x'"),
    (ConfData(gateways=[Gateway("t", register=True)]), "register needs a username and a password"),
    (ConfData(gateways=[Gateway("t", params={"bad name": "1"})]), "parameter name 'bad name'"),
])
def test_unsafe_data_is_refused_and_nothing_is_written(tmp_path: Path, data: ConfData, problem: str) -> None:
    with pytest.raises(RenderError) as exc:
        render(data, config("sqlite://"))
    assert problem in str(exc.value)


def test_output_that_does_not_parse_replaces_nothing(tmp_path: Path) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    for name in ("directory.xml.j2", "gateways.xml.j2"):
        (templates / name).write_text((REPO / "freeswitch_conf" / name).read_text())
    (templates / "dialplan.xml.j2").write_text("<include><extension></include>\n")
    with pytest.raises(RenderError, match=r"dialplan/public/fsivr\.xml: not well-formed"):
        render(ConfData(), config("sqlite://"), templates)


def test_write_replaces_only_changed_files_atomically(tmp_path: Path) -> None:
    out = tmp_path / "conf"
    files = {"directory/default/fsivr.xml": "<include/>\n", "dialplan/public/fsivr.xml": "<include/>\n"}
    assert write(files, out) == sorted(files)
    live = out / "dialplan/public/fsivr.xml"
    live.chmod(0o640)
    before = live.stat().st_mtime_ns, live.stat().st_ino
    os.utime(live, ns=(1, 1))
    assert write(files, out) == []  # unchanged: not even touched
    assert live.stat().st_mtime_ns == 1
    files["dialplan/public/fsivr.xml"] = "<include><extension name='x'/></include>\n"
    assert write(files, out) == ["dialplan/public/fsivr.xml"]
    assert live.read_text() == files["dialplan/public/fsivr.xml"]
    assert live.stat().st_ino != before[1]  # a new file renamed over the old one
    assert live.stat().st_mode & 0o777 == 0o640  # keeps the live file's permissions
    assert sorted(p.name for p in live.parent.iterdir()) == ["fsivr.xml"]  # no temp files left


# ---- reloadxml over inbound ESL -----------------------------------------------------------------


@pytest.fixture
def switch() -> Iterator[InboundSwitch]:
    with InboundSwitch(password="s3cret") as sw:
        yield sw


def esl_config(url: str, sw: InboundSwitch, password: str = "s3cret") -> Config:
    cfg = config(url)
    cfg.esl_host, cfg.esl_port = sw.address
    cfg.esl_password = password
    cfg.command_timeout = 3.0
    return cfg


def test_render_conf_reloads_once_and_not_when_unchanged(tmp_path: Path, switch: InboundSwitch) -> None:
    cfg = esl_config(make_store(tmp_path, SMALL), switch)
    out = render_conf(cfg, tmp_path / "conf")
    assert out.ok and out.reloaded and not out.warning
    assert sorted(out.changed) == ["dialplan/public/fsivr.xml", "directory/default/fsivr.xml",
                                   "sip_profiles/external/fsivr.xml"]
    assert switch.calls("auth s3cret") >= 1 and switch.calls("api reloadxml") == 1
    assert switch.calls("api sofia profile external rescan") == 1  # gateways changed too
    again = render_conf(cfg, tmp_path / "conf")
    assert again.changed == [] and not again.reloaded
    assert "unchanged" in again.message
    assert switch.calls("api reloadxml") == 1


def test_render_conf_when_freeswitch_is_down(tmp_path: Path) -> None:
    with InboundSwitch() as sw:
        address = sw.address
    cfg = esl_config(make_store(tmp_path, SMALL), sw)
    cfg.esl_host, cfg.esl_port = address  # nobody listens there any more
    out = render_conf(cfg, tmp_path / "conf")
    assert out.changed and out.warning and not out.reloaded
    assert f"FreeSWITCH is not reachable at {address[0]}:{address[1]}" in out.message
    assert (tmp_path / "conf/directory/default/fsivr.xml").exists()
    assert (tmp_path / "conf" / PENDING).exists()
    # Nothing changed since, but FreeSWITCH never loaded those files: the next run reloads them.
    with InboundSwitch(password="s3cret") as sw:
        cfg.esl_host, cfg.esl_port = sw.address
        again = render_conf(cfg, tmp_path / "conf")
        assert again.changed == [] and again.reloaded and again.ok and not again.warning
        assert sorted(again.pending) == sorted(out.changed)
        assert sw.calls("api reloadxml") == 1
        assert sw.calls("api sofia profile external rescan") == 1  # the gateways were among them
        assert not (tmp_path / "conf" / PENDING).exists()
        third = render_conf(cfg, tmp_path / "conf")
        assert not third.reloaded and "unchanged" in third.message
        assert sw.calls("api reloadxml") == 1


def test_a_failed_or_skipped_reload_is_retried_by_the_next_run(tmp_path: Path, switch: InboundSwitch) -> None:
    cfg = esl_config(make_store(tmp_path, SMALL), switch)
    first = render_conf(cfg, tmp_path / "conf", reload=False)
    assert first.changed and not first.reloaded and "next render-conf will reload" in first.message
    switch.api["reloadxml"] = "+OK [Cannot Open log directory or XML Root!]\n"
    failed = render_conf(cfg, tmp_path / "conf")
    assert not failed.ok and failed.changed == [] and (tmp_path / "conf" / PENDING).exists()
    switch.api["reloadxml"] = "+OK [Success]\n"
    fixed = render_conf(cfg, tmp_path / "conf")
    assert fixed.ok and fixed.reloaded and not (tmp_path / "conf" / PENDING).exists()
    assert switch.calls("api reloadxml") == 2


def test_new_files_are_not_world_readable(tmp_path: Path) -> None:
    # They hold SIP account and trunk passwords.
    out = tmp_path / "conf"
    write({"directory/default/fsivr.xml": "<include/>\n"}, out)
    assert (out / "directory/default/fsivr.xml").stat().st_mode & 0o777 == 0o640


def test_render_conf_wrong_password(tmp_path: Path, switch: InboundSwitch) -> None:
    cfg = esl_config(make_store(tmp_path, SMALL), switch, password="wrong")
    out = render_conf(cfg, tmp_path / "conf")
    assert not out.ok and "refused the ESL password" in out.message
    assert switch.calls("api reloadxml") == 0


def test_render_conf_reloadxml_failure_is_reported(tmp_path: Path, switch: InboundSwitch) -> None:
    # reloadxml says +OK even when it fails; only "+OK [Success]" is success.
    switch.api["reloadxml"] = "+OK [Cannot Open log directory or XML Root!]\n"
    out = render_conf(esl_config(make_store(tmp_path, SMALL), switch), tmp_path / "conf")
    assert not out.ok and "could not reload its XML: +OK [Cannot Open log directory or XML Root!]" in out.message


def test_cli_render_conf(tmp_path: Path) -> None:
    url = make_store(tmp_path, SMALL)
    with InboundSwitch() as sw:
        env = {**os.environ, "FSIVR_ESL_HOST": sw.address[0], "FSIVR_ESL_PORT": str(sw.address[1])}
        cmd = [sys.executable, "-m", "fsivr", "--database", url, "render-conf", "--out-dir", str(tmp_path / "conf")]
        first = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
        second = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert first.returncode == 0, first.stderr
    assert "wrote" in first.stdout and "reloaded its XML" in first.stdout
    assert second.returncode == 0 and "configuration unchanged" in second.stdout
    assert sw.calls("api reloadxml") == 1
