"""A stock FreeSWITCH reaches fsivr (issue 12 point 3): `fsivr render-conf` into a configuration
tree laid out like the stock one warns about numbers the stock dialplan takes first, and after the
steps README's "Connecting FreeSWITCH" lists, FreeSWITCH's preprocessor (emulated here: includes
expanded relative to the including file, in sorted order, as switch_xml.c preprocess_glob does)
puts fsivr's users, gateways and numbers where FreeSWITCH looks for them.

Two trees: one written here with the few stock lines that matter (always), and the real
conf/vanilla of FreeSWITCH 1.11.1 when its source is on this machine (FSIVR_FREESWITCH_SRC, a git
repository; skipped otherwise). No FreeSWITCH file is kept in this repository.
"""

from __future__ import annotations

import glob
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from fsivr.cli import build_parser
from fsivr.render.stock import VANILLA_SHADOWS

REPO = Path(__file__).resolve().parents[2]
FREESWITCH_SRC = Path(os.environ.get("FSIVR_FREESWITCH_SRC", "/work/.mirror/signalwire+freeswitch/repo"))

#: Numbers the stock public context takes before fsivr's file, beside the demo's.
TAKEN = """
scenarios:
  - scenario: taken
    numbers: ["1000", "3500", "5551212"]
    start: bye
    nodes:
      bye: {type: hangup}
"""

# The stock files as far as the checks need them: file names, contexts, the extensions before the
# include and the include lines (FreeSWITCH 1.11.1 conf/vanilla).
LAID_OUT = {
    "dialplan/public.xml": """<include>
  <context name="public">
    <extension name="unloop">
      <condition field="${unroll_loops}" expression="^true$"/>
      <condition field="${sip_looped_call}" expression="^true$">
        <action application="deflect" data="${destination_number}"/>
      </condition>
    </extension>
    <extension name="outside_call" continue="true">
      <condition><action application="set" data="outside_call=true"/></condition>
    </extension>
    <extension name="public_extensions">
      <condition field="destination_number" expression="^(10[01][0-9])$">
        <action application="transfer" data="$1 XML default"/>
      </condition>
    </extension>
    <extension name="public_conference_extensions">
      <condition field="destination_number" expression="^(3[5-8][01][0-9])$">
        <action application="transfer" data="$1 XML default"/>
      </condition>
    </extension>
    <X-PRE-PROCESS cmd="include" data="public/*.xml"/>
  </context>
</include>
""",
    "dialplan/public/00_inbound_did.xml": """<include>
  <extension name="public_did">
    <condition field="destination_number" expression="^(5551212)$">
      <action application="transfer" data="1000 XML default"/>
    </condition>
  </extension>
</include>
""",
    "dialplan/default.xml": """<?xml version="1.0" encoding="utf-8"?>
<include>
  <context name="default">
    <extension name="Local_Extension">
      <condition field="destination_number" expression="^(10[01][0-9])$">
        <action application="bridge" data="user/${dialed_extension}@${domain_name}"/>
      </condition>
    </extension>
    <X-PRE-PROCESS cmd="include" data="default/*.xml"/>
  </context>
</include>
""",
    "directory/default.xml": """<include>
  <domain name="$${domain}">
    <groups>
      <group name="default">
        <users>
          <X-PRE-PROCESS cmd="include" data="default/*.xml"/>
        </users>
      </group>
    </groups>
  </domain>
</include>
""",
    "sip_profiles/external.xml": """<profile name="external">
  <gateways>
    <X-PRE-PROCESS cmd="include" data="external/*.xml"/>
  </gateways>
</profile>
""",
    "autoload_configs/modules.conf.xml": """<configuration name="modules.conf" description="Modules">
  <modules>
    <load module="mod_event_socket"/>
    <!-- <load module="mod_flite"/> -->
  </modules>
</configuration>
""",
}


def laid_out(tmp_path: Path) -> Path:
    root = tmp_path / "laid-out"
    for rel, text in LAID_OUT.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def vanilla(tmp_path: Path) -> Path:
    if not (FREESWITCH_SRC / "HEAD").exists() and not (FREESWITCH_SRC / ".git").exists():
        pytest.skip(f"FreeSWITCH source not found at {FREESWITCH_SRC} (set FSIVR_FREESWITCH_SRC)")
    archive = subprocess.run(["git", "-C", str(FREESWITCH_SRC), "archive", "v1.11.1", "conf/vanilla"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tmp_path)], input=archive, check=True)
    return tmp_path / "conf" / "vanilla"


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


def render_conf(db: str, out: Path) -> subprocess.CompletedProcess[str]:
    """`fsivr render-conf` as an operator runs it (its own process: it monkey-patches gevent)."""
    return subprocess.run([sys.executable, "-m", "fsivr", "--database", db, "render-conf", "--out-dir", str(out),
                           "--no-reload"], capture_output=True, text=True, timeout=60, check=True)


def readme_steps() -> tuple[str, str, tuple[str, str]]:
    """The include line and the module line README's "Connecting FreeSWITCH" says to add, and the
    profile param it says to replace (old, new with SIP_REALM for the realm)."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Connecting FreeSWITCH"):]
    section = section[:section.index("\n## ", 5)]
    include = re.search(r'<X-PRE-PROCESS cmd="include" data="public/fsivr\.xml"/>', section)
    module = re.search(r'<load module="mod_flite"/>', section)
    realm = re.search(r'`(<param name="challenge-realm" value="auto_from"/>)`.*?Replace it with\s+'
                      r'`(<param name="challenge-realm" value="SIP_REALM"/>)`', section, re.S)
    assert include and module and realm, "README's Connecting FreeSWITCH must show the three lines"
    assert 'right after `<context name="default">`' in section
    return include.group(0), module.group(0), (realm.group(1), realm.group(2))


def apply_readme(root: Path) -> None:
    include, module, (challenge, ours) = readme_steps()
    profile = root / "sip_profiles" / "internal.xml"
    if profile.exists():
        text = profile.read_text()
        assert challenge in text
        profile.write_text(text.replace(challenge, ours.replace("SIP_REALM", os.environ["FSIVR_SIP_REALM"])))
    default = root / "dialplan" / "default.xml"
    text = default.read_text()
    assert text.count('<context name="default">') == 1
    default.write_text(text.replace('<context name="default">', f'<context name="default">\n    {include}'))
    modules = root / "autoload_configs" / "modules.conf.xml"
    text = modules.read_text()
    assert f"<!-- {module} -->" in text
    modules.write_text(text.replace(f"<!-- {module} -->", module))


def preprocess(path: Path) -> str:
    """The file as FreeSWITCH's preprocessor hands it to the XML parser, for includes: lines with
    <include>, </include> or <? dropped, each include line replaced by the files it matches (XML
    comments pass through to the parser; only `<!--#` ones are the preprocessor's, unused here)."""
    out: list[str] = []
    for line in path.read_text().splitlines():
        if "<include>" in line or "</include>" in line or "<?" in line:
            continue
        m = re.match(r'\s*<X-PRE-PROCESS cmd="include" data="([^"]+)"/>', line)
        if m:
            pattern = m.group(1) if os.path.isabs(m.group(1)) else str(path.parent / m.group(1))
            out += [preprocess(Path(p)) for p in sorted(glob.glob(pattern))]
        elif not re.match(r"\s*<X-(NO-)?PRE-PROCESS", line):
            out.append(line)
    return "\n".join(out)


def first_taker(root: Path, context_file: str, number: str) -> str | None:
    """Name of the first extension whose destination_number conditions alone take ``number``."""
    tree = ET.fromstring("<document>" + preprocess(root / context_file) + "</document>")
    for ext in tree.iter("extension"):
        conditions = ext.findall("condition")
        if ext.get("continue") == "true" or not conditions:
            continue
        if all(c.get("field") == "destination_number" and re.search(c.get("expression", ""), number)
               for c in conditions):
            return ext.get("name")
    return None


@pytest.mark.parametrize("tree", ["laid-out", "vanilla"])
def test_render_into_a_stock_tree_warns_then_the_readme_steps_connect_it(
        tree: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = laid_out(tmp_path) if tree == "laid-out" else vanilla(tmp_path)
    db = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    assert fsivr(db, "db", "upgrade") == 0
    taken = tmp_path / "taken.yaml"
    taken.write_text(TAKEN)
    office = tmp_path / "office.yaml"
    office.write_text((REPO / "examples" / "office.yaml").read_text())
    for path in (REPO / "examples" / "demo.yaml", taken):
        assert fsivr(db, "import", str(path)) == 0
    assert fsivr(db, "import", "--force", str(office)) == 0  # its gateway, and it shares 101/102
    capsys.readouterr()

    first = render_conf(db, root)
    public = "(in the order dialplan/public.xml includes them)"
    assert (f"warning: number 1000 never reaches fsivr: extension 'public_extensions' of dialplan/public.xml "
            f"(^(10[01][0-9])$) takes it first {public}") in first.stderr
    assert "number 3500 never reaches fsivr: extension 'public_conference_extensions'" in first.stderr
    assert ("number 5551212 never reaches fsivr: extension 'public_did' of dialplan/public/00_inbound_did.xml"
            in first.stderr)
    for number in ("7000", "+48221234000", "+48221234567"):
        assert f"number {number} never" not in first.stderr
    assert "note: phones registered with fsivr's accounts dial in context 'default'" in first.stderr
    assert "mod_flite, which autoload_configs/modules.conf.xml does not load" in first.stderr
    if tree == "vanilla":  # its internal profile challenges with auto_from, not the a1-hashes' realm
        assert "note: sip_profiles/internal.xml challenges phones in the realm of their From host" in first.stderr
    assert first_taker(root, "dialplan/public.xml", "1000") == "public_extensions"
    assert first_taker(root, "dialplan/public.xml", "7000") == "fsivr 7000"

    apply_readme(root)
    second = render_conf(db, root)
    assert "note:" not in second.stderr and "mod_flite" not in second.stderr
    assert "number 1000 never reaches fsivr" in second.stderr  # still taken from trunks
    # What FreeSWITCH reads after the README's steps: the demo's numbers from trunks and phones...
    for number in ("7000", "+48221234000"):
        assert first_taker(root, "dialplan/public.xml", number) == f"fsivr {number}"
        assert first_taker(root, "dialplan/default.xml", number) == f"fsivr {number}"
    # ...the accounts among the default domain's users, the gateway among the external profile's.
    directory = ET.fromstring("<document>" + preprocess(root / "directory/default.xml") + "</document>")
    users = {u.get("id") for u in directory.iter("user") if u.get("id") in ("101", "102")}
    assert users == {"101", "102"} and directory.find(".//users/user[@id='101']") is not None
    external = ET.fromstring("<document>" + preprocess(root / "sip_profiles/external.xml") + "</document>")
    assert external.find(".//gateways/gateway[@name='trunk']") is not None


def test_without_a_configuration_to_read_the_stock_patterns_are_used(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    assert fsivr(db, "db", "upgrade") == 0
    taken = tmp_path / "taken.yaml"
    taken.write_text(TAKEN)
    assert fsivr(db, "import", str(taken)) == 0
    out = render_conf(db, tmp_path / "staging")
    assert "number 1000 never reaches fsivr: extension 'public_extensions' of dialplan/public.xml" in out.stderr
    assert "(as in FreeSWITCH 1.11.1 conf/vanilla;" in out.stderr
    assert {s.extension for s in VANILLA_SHADOWS["public"]} == {
        "public_extensions", "public_conference_extensions", "public_did"}


def test_default_exit_destination_is_rendered_and_validate_warns_where_there_is_none(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    db = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    assert fsivr(db, "db", "upgrade") == 0
    bundle = tmp_path / "b.yaml"
    bundle.write_text("""
scenarios:
  - scenario: s
    numbers: ["7001", {number: "7002", exit_destination: "200 XML default"}]
    start: out
    nodes:
      out: {type: exit}
""")
    capsys.readouterr()
    assert fsivr(db, "scenario", "validate", str(bundle)) == 0
    out = capsys.readouterr().out
    assert ("s.numbers: '7001' has no exit_destination and no default_exit_destination is configured: its calls "
            "are dropped when fsivr is down; exit node out hangs them up") in out
    assert "'7002' has no exit_destination" not in out

    monkeypatch.setenv("FSIVR_DEFAULT_EXIT_DESTINATION", "9196 XML default")
    assert fsivr(db, "scenario", "validate", str(bundle)) == 0
    assert "has no exit_destination" not in capsys.readouterr().out
    assert fsivr(db, "import", str(bundle)) == 0
    render_conf(db, tmp_path / "conf")
    dialplan = (tmp_path / "conf" / "dialplan" / "public" / "fsivr.xml").read_text()
    ext = {e.get("name"): [a.get("data") for a in e.iter("action") if a.get("application") == "transfer"]
           for e in ET.fromstring(dialplan).iter("extension")}
    assert ext == {"fsivr 7001": ["9196 XML default"], "fsivr 7002": ["200 XML default"]}

    monkeypatch.setenv("FSIVR_DEFAULT_EXIT_DESTINATION", "${system(reboot)}")
    assert build_parser() and fsivr_main(["--database", db, "scenario", "validate", str(bundle)]) == 2
    assert "default_exit_destination" in capsys.readouterr().err


def fsivr_main(argv: list[str]) -> int:
    from fsivr.cli import main

    return main(argv)


def test_wrong_warnings_are_gone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    # The spec's own example (section 2), as examples/office.yaml carries it: no `answered` edge on
    # the ringing nodes, and that is how it should be.
    assert fsivr(db, "scenario", "validate", str(REPO / "examples" / "office.yaml")) == 0
    out = capsys.readouterr().out
    assert "has no next node" not in out
    menu = tmp_path / "menu.yaml"
    menu.write_text("""
scenario: m
start: menu
nodes:
  menu: {type: menu, text: "Press 1", options: {"1": bye}, timeout: bye, invalid: bye}
  bye: {type: hangup}
""")
    assert fsivr(db, "scenario", "validate", str(menu)) == 0
    assert "has no next node" not in capsys.readouterr().out
    menu.write_text(menu.read_text().replace("invalid: bye}", "invalid: bye, allow_extension: true}"))
    assert fsivr(db, "scenario", "validate", str(menu)) == 0
    assert "outcome 'extension' has no next node" in capsys.readouterr().out
