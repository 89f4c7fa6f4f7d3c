"""Checks of the rendered files against the FreeSWITCH configuration they drop into: a number that
an extension before ``<context>/fsivr.xml`` takes first never reaches fsivr; a dialplan that never
includes the file sends nothing to fsivr; phones whose context does not include it cannot dial
fsivr's numbers; text prompts need the TTS module loaded.

FreeSWITCH's dialplan (mod_dialplan_xml) runs the first extension whose conditions match and that
does not ``continue``, in the order the preprocessor assembled the file: an ``X-PRE-PROCESS
include`` is replaced by the files its pattern matches, relative to the including file's directory,
in glob(3)'s sorted order (switch_xml.c preprocess / preprocess_glob). When the output directory
holds the configuration (``dialplan/*.xml``) that order is read from it; otherwise the extensions
of a stock configuration that come first are known here (VANILLA_SHADOWS).
"""

from __future__ import annotations

import glob
import os
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: The stock configuration the constants below describe.
VANILLA = "FreeSWITCH 1.11.1 conf/vanilla"


@dataclass(frozen=True)
class Shadow:
    """An extension that takes calls to the numbers its expression matches."""

    file: str
    extension: str
    expression: str

    def takes(self, number: str) -> bool:
        try:
            return re.search(self.expression, number) is not None
        except re.error:  # PCRE that Python does not read: say nothing rather than guess
            return False


#: Context -> the extensions a stock configuration runs before ``dialplan/<context>/fsivr.xml``
#: (v1.11.1 conf/vanilla/dialplan/public.xml has public_extensions and public_conference_extensions
#: before ``<X-PRE-PROCESS cmd="include" data="public/*.xml"/>``, and public/00_inbound_did.xml
#: sorts before fsivr.xml). Each transfers the call to the ``default`` context.
VANILLA_SHADOWS: dict[str, tuple[Shadow, ...]] = {
    "public": (
        Shadow("dialplan/public.xml", "public_extensions", r"^(10[01][0-9])$"),
        Shadow("dialplan/public.xml", "public_conference_extensions", r"^(3[5-8][01][0-9])$"),
        Shadow("dialplan/public/00_inbound_did.xml", "public_did", r"^(5551212)$"),
    ),
}
#: The context of the phones registered with fsivr's accounts (``user_context`` in
#: freeswitch_conf/directory.xml.j2), as of vanilla directory users.
PHONE_CONTEXT = "default"


#: Top-level dialplan files render-conf itself writes (fsivr/render/conf.py HOLD_CONTEXT).
OUR_MAIN_FILES = frozenset({"fsivr_hold.xml"})

#: The sofia profile phones register to (vanilla sip_profiles/internal.xml, port 5060).
PHONE_PROFILE = "internal"


@dataclass
class ConfCheck:
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class _Walk:
    """What comes before our file in one top-level dialplan file."""

    target: Path
    shadows: list[Shadow] = field(default_factory=list)
    found: bool = False
    problems: list[str] = field(default_factory=list)


def check_conf(conf_dir: str | Path, context: str, numbers: list[str], tts_engine: str = "",
               realm: str = "") -> ConfCheck:
    """``realm``: the SIP realm the rendered a1-hashes are made for ("" when passwords are rendered
    plain): the phones' profile must challenge in it (check_realm)."""
    root = Path(conf_dir)
    ours = root / "dialplan" / context / "fsivr.xml"
    out = ConfCheck()
    if realm:
        check_realm(root / "sip_profiles" / f"{PHONE_PROFILE}.xml", realm, out)
    # dialplan/fsivr_hold.xml is ours (render-conf writes it), not the configuration's own.
    mains = sorted(p for p in (root / "dialplan").glob("*.xml") if p.name not in OUR_MAIN_FILES)
    if not mains:
        shadows = list(VANILLA_SHADOWS.get(context, ()))
        out.warnings += _shadowed(numbers, shadows, f" (as in {VANILLA}; {root}/dialplan has no configuration "
                                                    "to read)")
        return out
    including: dict[str, _Walk] = {}
    for main in mains:
        walk = _Walk(ours.resolve())
        _walk_file(main, root, walk, depth=0)
        out.warnings += walk.problems
        if walk.found:
            including[main.name] = walk
    if not including:
        out.warnings.append(
            f"no file of {root}/dialplan includes {context}/fsivr.xml: FreeSWITCH sends no call to fsivr; add "
            f'<X-PRE-PROCESS cmd="include" data="{context}/*.xml"/> inside <context name="{context}"> '
            f"of dialplan/{context}.xml")
    for name, walk in including.items():
        out.warnings += _shadowed(numbers, walk.shadows, f" (in the order dialplan/{name} includes them)")
    phones = root / "dialplan" / f"{PHONE_CONTEXT}.xml"
    if context != PHONE_CONTEXT and phones.is_file() and phones.name not in including:
        out.notes.append(
            f"phones registered with fsivr's accounts dial in context {PHONE_CONTEXT!r}, which does not include "
            f"{context}/fsivr.xml: to let them call fsivr's numbers add "
            f'<X-PRE-PROCESS cmd="include" data="{context}/fsivr.xml"/> right after <context '
            f'name="{PHONE_CONTEXT}"> in dialplan/{PHONE_CONTEXT}.xml')
    modules = root / "autoload_configs" / "modules.conf.xml"
    if tts_engine and modules.is_file() and f"mod_{tts_engine}" not in _loaded_modules(modules):
        out.warnings.append(
            f"text prompts are spoken by mod_{tts_engine}, which autoload_configs/modules.conf.xml does not load: "
            f'add (or uncomment) <load module="mod_{tts_engine}"/> there')
    return out


def _shadowed(numbers: list[str], shadows: list[Shadow], where: str) -> list[str]:
    out = []
    for number in numbers:
        first = next((s for s in shadows if s.takes(number)), None)
        if first is not None:
            out.append(f"number {number} never reaches fsivr: extension {first.extension!r} of {first.file} "
                       f"({first.expression}) takes it first{where}; use another number or remove that extension")
    return out


def _walk_file(path: Path, root: Path, walk: _Walk, depth: int) -> None:
    if walk.found or depth > 20:
        return
    if path.resolve() == walk.target:
        walk.found = True
        return
    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError) as exc:
        walk.problems.append(f"cannot read {path} to check the dialplan order: {exc}")
        return
    rel = os.path.relpath(path, root)
    for element in _in_order(tree.getroot()):
        if walk.found:
            return
        if element.tag == "extension":
            shadow = _shadow(element, rel)
            if shadow is not None:
                walk.shadows.append(shadow)
        elif element.tag.lower() == "x-pre-process" and element.get("cmd", "").lower() == "include":
            pattern = element.get("data", "")
            if not os.path.isabs(pattern):
                pattern = str(path.parent / pattern)  # relative to the including file (preprocess_glob)
            for included in sorted(glob.glob(pattern)):
                _walk_file(Path(included), root, walk, depth + 1)


def _in_order(element: ET.Element) -> Iterator[ET.Element]:
    """Extensions and includes in document order (an extension's own children are not walked)."""
    for child in element:
        if child.tag == "extension" or child.tag.lower() == "x-pre-process":
            yield child
        else:
            yield from _in_order(child)


def _shadow(extension: ET.Element, file: str) -> Shadow | None:
    """The extension as a Shadow when whether it takes a number depends on the number alone: it does
    not ``continue`` and every condition tests destination_number (or nothing)."""
    if extension.get("continue", "false").lower() == "true":
        return None
    conditions = extension.findall("condition")
    if not conditions:
        return None
    expressions = []
    for condition in conditions:
        tested = condition.get("field")
        if tested is None and condition.get("expression") is None and len(condition.attrib) == 0:
            continue  # <condition> alone is always true
        if tested != "destination_number" or condition.get("expression") is None:
            return None
        expressions.append(condition.get("expression", ""))
    # Several destination_number conditions must all match: one lookahead per expression.
    expression = expressions[0] if len(expressions) == 1 else "".join(f"(?={e})" for e in expressions)
    return Shadow(file, extension.get("name", "?"), expression or ".*")


def _loaded_modules(path: Path) -> set[str]:
    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError):
        return set()
    return {e.get("module", "") for e in tree.iter("load")}


def check_realm(profile: Path, realm: str, out: ConfCheck) -> None:
    """Would the phones' profile challenge in ``realm``? sofia's challenge realm is the profile's
    ``challenge-realm``: empty or ``auto_to`` = the To host, ``auto_from`` = the From host, any other
    value as it is (sofia_reg.c sofia_reg_handle_register_token); the phone's digest is made in it,
    and an a1-hash for another realm never matches (sofia_reg_parse_auth). An
    ``rfc8760-auth-algorithms`` offering anything but MD5 lets phones answer with a digest an MD5
    a1-hash cannot match."""
    try:
        tree = ET.parse(profile)
    except OSError:
        return  # no such profile here: nothing to say
    except ET.ParseError as exc:
        out.warnings.append(f"cannot read {profile} to check its challenge-realm: {exc}")
        return
    params = {p.get("name", "").lower(): p.get("value", "") for p in tree.iter("param")}
    challenge = params.get("challenge-realm", "").strip()
    name = profile.name
    if challenge.lower() in ("", "auto_to", "auto_from"):
        host = "From" if challenge.lower() == "auto_from" else "To"
        out.notes.append(f"sip_profiles/{name} challenges phones in the realm of their {host} host "
                         f"(challenge-realm {challenge or 'unset'}): SIP passwords are rendered as a1-hashes for "
                         f"{realm!r}, so phones must use {realm} as their SIP domain, or set "
                         f'<param name="challenge-realm" value="{realm}"/> there')
    elif "$" not in challenge and challenge != realm:
        out.warnings.append(f"sip_profiles/{name} challenges phones in realm {challenge!r}, but SIP passwords are "
                            f"rendered as a1-hashes for {realm!r}: every phone would be refused; set sip_realm to "
                            f"{challenge!r} (and import the passwords again) or challenge-realm to {realm!r}")
    algorithms = [a.strip().lower() for a in params.get("rfc8760-auth-algorithms", "").split(",") if a.strip()]
    if any(a != "md5" for a in algorithms):
        out.warnings.append(f"sip_profiles/{name} offers rfc8760-auth-algorithms {', '.join(algorithms)}: a phone "
                            "answering with SHA-256 fails against an a1-hash (MD5); offer md5 only, or set "
                            "sip_plain_passwords")
