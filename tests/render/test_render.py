"""fsivr render-conf's rendering: golden directory/dialplan/gateways for a small bundle, hostile
names, safe replacement of the live files."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fsivr.render.conf import ConfData, RenderError, load_data, render, write
from fsivr.store.db import Store
from fsivr.store.directory import Account, Gateway
from fsivr.store.secrets import a1_digest

from .conftest import REALM, SMALL, config, make_store

GOLDEN = Path(__file__).parent / "golden"
REPO = Path(__file__).resolve().parents[2]

HOSTILE_NAME = 'A&B "<x>" </variable><X-PRE-PROCESS cmd="set" data="default_password=1"/> $${hostname}\n${x}'


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
    ("parking.xml", "dialplan/default/fsivr_parking.xml"),
    ("queue_hold.xml", "dialplan/fsivr_hold.xml"),
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
    # Only the password's a1-hash is rendered (fsivr.store.secrets).
    assert root.find("user/params/param").attrib == {"name": "a1-hash", "value": a1_digest("101", REALM, 'p"&<$${x}>')}
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
        assert params["allow-empty-password"] == "false" and params["a1-hash"]


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
    for name in ("directory.xml.j2", "gateways.xml.j2", "callcenter.conf.xml.j2", "parking.xml.j2",
                 "queue_hold.xml.j2"):
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


def test_new_files_are_not_world_readable(tmp_path: Path) -> None:
    # They hold SIP account and trunk passwords.
    out = tmp_path / "conf"
    write({"directory/default/fsivr.xml": "<include/>\n"}, out)
    assert (out / "directory/default/fsivr.xml").stat().st_mode & 0o777 == 0o640


def test_parking_slots_render_one_pickup_extension_each_and_clash_with_nothing(tmp_path: Path) -> None:
    cfg = config("sqlite://")
    root = ET.fromstring(render(ConfData(), cfg)["dialplan/default/fsivr_parking.xml"])
    found = {(c.get("expression"), tuple((a.get("application"), a.get("data")) for a in c))
             for c in root.iter("condition")}
    assert found == {
        ("^701$", (("answer", None), ("valet_park", "main 701"))),
        ("^702$", (("answer", None), ("valet_park", "main 702"))),
        ("^703$", (("answer", None), ("valet_park", "main 703"))),
        ("^801$", (("answer", None), ("valet_park", "vip.floor-2 801"))),
    }
    # no lots: the file stays (empty), so removing the last lot removes its extensions
    cfg.parking_lots = []
    assert ET.fromstring(render(ConfData(), cfg)["dialplan/default/fsivr_parking.xml"]).findall("extension") == []
    # a slot a phone could not reach (an account's extension, a routed number) is refused
    cfg.parking_lots = ["main 100-101"]
    data = ConfData(accounts=[Account("101", password="pw", extension="101")], numbers=[("100", None)])
    with pytest.raises(RenderError) as err:
        render(data, cfg)
    assert err.value.problems == ["parking lot 'main': slot 100 is also an account or a number",
                                  "parking lot 'main': slot 101 is also an account or a number"]
    cfg.parking_lots = ["main 9-3"]
    with pytest.raises(RenderError, match="must go upwards"):
        render(ConfData(), cfg)


def test_the_queue_callback_hold_context_is_what_the_default_dial_string_reaches() -> None:
    """config queue_callback_hold = loopback/<extension>/<context> (mod_loopback.c: the B-leg's
    destination number / context): the rendered context has that extension, answering and parking."""
    cfg = config("sqlite://")
    _, extension, context = cfg.queue_callback_hold.split("/")
    root = ET.fromstring(render(ConfData(), cfg)[f"dialplan/{context}.xml"])
    (ctx,) = root.findall("context")
    assert ctx.get("name") == context
    (condition,) = ctx.findall("extension/condition")
    assert re.fullmatch(condition.get("expression") or "", extension)
    assert [(a.get("application"), a.get("data")) for a in condition.findall("action")] == [
        ("answer", None), ("park", None)]
