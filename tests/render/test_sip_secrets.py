"""SIP passwords and mailbox PINs (issue 11 point 7), through the commands an operator runs, on
SQLite and PostgreSQL: `fsivr import` keeps only the a1-hash and an scrypt PIN hash, `render-conf`
(a real process) writes `a1-hash` and no password, `export` never writes either in the clear and
imports back unchanged, no realm is refused naming the setting, rows from before migration 0017
are converted by `fsivr db hash-secrets`.

What the rendered hash is worth is checked the way sofia checks it: ``sofia_accepts`` below is
sofia_reg.c sofia_reg_parse_auth (v1.11.1) — HA1 is the user's ``a1-hash`` param as it is, or
MD5(username:realm:password) from its ``password`` param; the response MD5(HA1:nonce:nc:cnonce:
qop:MD5(method:uri)) compared case-insensitively (strcasecmp) with the phone's.
"""

from __future__ import annotations

import hashlib
import os
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from gevent import subprocess
from sqlalchemy import text

from fsivr.cli import build_parser
from fsivr.engine.pins import verify_pin
from fsivr.store import migrate
from fsivr.store.db import Store
from fsivr.store.directory import Directory, load_directory

PBX = """\
mailboxes:
  - {box: office, email: office@example.com, pin: "4321"}
accounts:
  - {user: "101", password: "Tr0ub4dor-101", name: Anna, extension: "101", mailbox: office}
  - {user: "reception", password: "correct-horse-r"}
gateways:
  - {name: trunk, proxy: sip.operator.example, username: "48221234567", password: "trunk-pw", register: true}
scenarios:
  - scenario: office
    numbers: ["+48221234567"]
    start: bye
    nodes:
      bye: {type: hangup}
"""
PASSWORDS = {"101": "Tr0ub4dor-101", "reception": "correct-horse-r"}
REALM = "pbx.example.com"
DIRECTORY = "directory/default/fsivr.xml"


def md5(value: str) -> str:
    return hashlib.md5(value.encode()).hexdigest()


def sofia_accepts(params: dict[str, str], username: str, realm: str, typed: str) -> bool:
    """Does sofia accept a REGISTER whose digest the phone made from ``typed`` in ``realm``?"""
    nonce, nc, cnonce, qop, method, uri = "4f1a7e", "00000001", "0a4f113b", "auth", "REGISTER", f"sip:{realm}"
    ha2 = md5(f"{method}:{uri}")
    # The phone (RFC 2617, lowercase hex like every client).
    response = md5(f"{md5(f'{username}:{realm}:{typed}')}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    # sofia: `if (!a1_hash) { input = "%s:%s:%s", username, realm, passwd ... }`
    a1 = params.get("a1-hash") or md5(f"{username}:{realm}:{params.get('password', '')}")
    return md5(f"{a1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}").lower() == response.lower()


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The configuration of these tests, for in-process commands and the render-conf process."""
    monkeypatch.setenv("FSIVR_SIP_REALM", REALM)
    return {"FSIVR_SIP_REALM": REALM}


def fsivr(db: str, *argv: str) -> int:
    args = build_parser().parse_args(["--database", db, *argv])
    return int(args.func(args))


def render_conf(db: str, out: Path, **env: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "fsivr", "--database", db, "render-conf", "--out-dir", str(out), "--no-reload"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def users(out: Path) -> dict[str, dict[str, str]]:
    root = ET.fromstring((out / DIRECTORY).read_text())
    return {u.get("id"): {p.get("name"): p.get("value") for p in u.iter("param")} for u in root.iter("user")}


def rows(db: str) -> dict[str, list[dict[str, Any]]]:
    """Every stored column of accounts and mailboxes, as the database holds them."""
    store = Store(db)
    try:
        with store.engine.connect() as conn:
            return {table: [dict(r._mapping) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 2"))]
                    for table in ("accounts", "mailboxes")}
    finally:
        store.close()


def directory(db: str) -> Directory:
    store = Store(db)
    try:
        with store.session() as session:
            return load_directory(session)
    finally:
        store.close()


def test_import_keeps_only_hashes_and_render_writes_the_a1_hash(
        db_url: str, tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    bundle = tmp_path / "pbx.yaml"
    bundle.write_text(PBX)
    assert fsivr(db_url, "db", "upgrade") == 0
    assert fsivr(db_url, "import", str(bundle)) == 0
    stored = rows(db_url)
    for secret in (*PASSWORDS.values(), "4321"):
        assert secret not in repr(stored)
    accounts = {r["sip_user"]: r for r in stored["accounts"]}
    assert accounts["101"]["password"] is None
    assert accounts["101"]["a1_hash"] == f"{REALM}:{md5(f'101:{REALM}:Tr0ub4dor-101')}"
    pin = stored["mailboxes"][0]["pin"]
    assert pin.startswith("scrypt$") and verify_pin("4321", pin) and not verify_pin("1234", pin)

    out = tmp_path / "conf"
    ran = render_conf(db_url, out, **env)
    assert ran.returncode == 0, ran.stderr
    assert "plain" not in ran.stderr  # nothing left to hash
    rendered = users(out)
    for user, password in PASSWORDS.items():
        params = rendered[user]
        assert params["a1-hash"] == md5(f"{user}:{REALM}:{password}")
        assert "password" not in params and "vm-password" not in params
        # sofia lets the phone in with its password, in this realm only.
        assert sofia_accepts(params, user, REALM, password)
        assert not sofia_accepts(params, user, REALM, password + "x")
        assert not sofia_accepts(params, user, "192.0.2.2", password)
    for path in out.rglob("*.xml"):
        content = path.read_text()
        assert not any(secret in content for secret in (*PASSWORDS.values(), "4321")), path
    assert (out / DIRECTORY).stat().st_mode & 0o077 == 0o040  # still not world-readable: HA1 registers


def test_export_writes_hashes_that_import_back_unchanged(
        db_url: str, tmp_path: Path, env: dict[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    source = f"sqlite:///{tmp_path / 'source.sqlite3'}"
    bundle = tmp_path / "pbx.yaml"
    bundle.write_text(PBX)
    assert fsivr(source, "db", "upgrade") == 0
    assert fsivr(source, "import", str(bundle)) == 0
    whole = tmp_path / "whole.yaml"
    assert fsivr(source, "export", "--all", str(whole)) == 0
    written = whole.read_text()
    assert not any(secret in written for secret in (*PASSWORDS.values(), "4321"))
    doc = yaml.safe_load(written)
    accounts = {a["user"]: a for a in doc["accounts"]}
    assert accounts["101"] == {"user": "101", "name": "Anna", "extension": "101", "mailbox": "office",
                               "a1_hash": f"{REALM}:{md5(f'101:{REALM}:Tr0ub4dor-101')}"}
    assert doc["mailboxes"][0]["pin"] == rows(source)["mailboxes"][0]["pin"]

    assert fsivr(db_url, "db", "upgrade") == 0
    capsys.readouterr()
    assert fsivr(db_url, "import", str(whole)) == 0
    assert "account 101: created" in capsys.readouterr().out
    assert directory(db_url) == directory(source)

    # Importing the export again, or the original file with its plain password and PIN, changes
    # nothing: the same a1-hash, and the stored scrypt hash kept for the same PIN.
    for again in (whole, bundle):
        assert fsivr(db_url, "import", str(again)) == 0
        out = capsys.readouterr().out
        assert "unchanged: 2 accounts, 1 mailbox" in out, out
    out_a, out_b = tmp_path / "a", tmp_path / "b"
    assert render_conf(source, out_a, **env).returncode == 0
    assert render_conf(db_url, out_b, **env).returncode == 0
    assert (out_a / DIRECTORY).read_text() == (out_b / DIRECTORY).read_text()

    # A changed PIN is a change, and shown only as one.
    bundle.write_text(PBX.replace('pin: "4321"', 'pin: "9876"'))
    assert fsivr(db_url, "import", "--force", str(bundle)) == 0
    assert "mailbox office: changed (pin changed)" in capsys.readouterr().out
    assert verify_pin("9876", rows(db_url)["mailboxes"][0]["pin"])


def test_passwords_without_a_realm_are_refused_naming_the_setting(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.delenv("FSIVR_SIP_REALM", raising=False)  # and sip_domain is the default $${domain}
    bundle = tmp_path / "pbx.yaml"
    bundle.write_text(PBX)
    assert fsivr(db_url, "db", "upgrade") == 0
    capsys.readouterr()
    assert fsivr(db_url, "import", str(bundle)) == 1
    err = capsys.readouterr().err
    assert ("accounts 101, reception: SIP passwords are stored only as their a1-hash, MD5(user:realm:password), "
            "which needs the realm phones authenticate in: set sip_realm (FSIVR_SIP_REALM) to it, or set "
            "sip_plain_passwords: true (FSIVR_SIP_PLAIN_PASSWORDS)") in err
    assert err.count("sip_realm (FSIVR_SIP_REALM)") == 1  # one error, not one per account
    assert "nothing imported" in err
    assert rows(db_url) == {"accounts": [], "mailboxes": []}
    # `scenario validate` says so before anyone tries.
    assert fsivr(db_url, "scenario", "validate", str(bundle)) == 1
    assert "error: accounts 101, reception: SIP passwords are stored only as their a1-hash" in capsys.readouterr().out

    # A literal sip_domain is the realm when sip_realm is not set.
    monkeypatch.setenv("FSIVR_SIP_DOMAIN", "sip.example.org")
    assert fsivr(db_url, "import", str(bundle)) == 0
    accounts = {r["sip_user"]: r for r in rows(db_url)["accounts"]}
    assert accounts["101"]["a1_hash"] == f"sip.example.org:{md5('101:sip.example.org:Tr0ub4dor-101')}"

    # An a1-hash made for another realm is refused: phones would fail against it.
    monkeypatch.setenv("FSIVR_SIP_REALM", REALM)
    other = tmp_path / "other.yaml"
    other.write_text(f"accounts:\n  - {{user: '102', a1_hash: 'old.example:{md5('x')}'}}\n")
    capsys.readouterr()
    assert fsivr(db_url, "import", str(other)) == 1
    assert ("account 102: a1_hash was made for realm 'old.example', but sip_realm is 'pbx.example.com'"
            in capsys.readouterr().err)
    # And a render with the changed realm refuses the hashes made for the old one, naming them.
    ran = render_conf(db_url, tmp_path / "conf", FSIVR_SIP_REALM=REALM)
    assert ran.returncode != 0
    assert ("account user '101': its SIP password is stored as an a1-hash for realm 'sip.example.org', but "
            "sip_realm is 'pbx.example.com'") in ran.stderr
    assert not (tmp_path / "conf" / DIRECTORY).exists()


def test_plain_passwords_and_pins_only_when_the_operator_opts_in(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FSIVR_SIP_REALM", raising=False)
    opted = {"FSIVR_SIP_PLAIN_PASSWORDS": "true", "FSIVR_MAILBOX_PLAIN_PINS": "true"}
    for key, value in opted.items():
        monkeypatch.setenv(key, value)
    bundle = tmp_path / "pbx.yaml"
    bundle.write_text(PBX)
    assert fsivr(db_url, "db", "upgrade") == 0
    assert fsivr(db_url, "import", str(bundle)) == 0
    stored = rows(db_url)
    assert {r["sip_user"]: r["password"] for r in stored["accounts"]} == PASSWORDS
    assert stored["mailboxes"][0]["pin"] == "4321"
    out = tmp_path / "conf"
    ran = render_conf(db_url, out, **opted)
    assert ran.returncode == 0, ran.stderr
    params = users(out)["101"]
    assert params["password"] == "Tr0ub4dor-101" and params["vm-password"] == "4321" and "a1-hash" not in params
    assert sofia_accepts(params, "101", "192.0.2.2", "Tr0ub4dor-101")  # any realm, as before
    # Even so, an export does not write them in the clear (no realm here: nothing stands for them).
    whole = tmp_path / "whole.yaml"
    assert fsivr(db_url, "export", "--all", str(whole)) == 0
    written = whole.read_text()
    assert "Tr0ub4dor-101" not in written and "4321" not in written
    assert verify_pin("4321", yaml.safe_load(written)["mailboxes"][0]["pin"])


def test_rows_from_before_the_migration_are_converted_by_hash_secrets(
        db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    store = Store(db_url)
    try:
        migrate.upgrade(store.engine, "0012")
        with store.engine.begin() as conn:
            conn.execute(text("INSERT INTO mailboxes (box, pin) VALUES ('office', '4321')"))
            conn.execute(text("INSERT INTO accounts (sip_user, password, mobile, mailbox_id) "
                              "SELECT '101', 'Tr0ub4dor-101', '[]', id FROM mailboxes"))
            conn.execute(text("INSERT INTO accounts (sip_user, password, mobile) "
                              "VALUES ('reception', 'correct-horse-r', '[]')"))
    finally:
        store.close()
    monkeypatch.delenv("FSIVR_SIP_REALM", raising=False)
    capsys.readouterr()
    assert fsivr(db_url, "db", "upgrade") == 0
    assert ("note: 2 SIP password(s) and 1 mailbox PIN(s) are stored plain: run `fsivr db hash-secrets`"
            in capsys.readouterr().err)
    # The migration keeps them as they were: it cannot know the realm.
    assert {r["sip_user"]: (r["password"], r["a1_hash"]) for r in rows(db_url)["accounts"]} == \
        {u: (p, None) for u, p in PASSWORDS.items()}

    # Without a realm: refused, nothing changed.
    before = rows(db_url)
    assert fsivr(db_url, "db", "hash-secrets") == 1
    assert "nothing changed: 2 account(s) (101, reception): SIP passwords are stored only as their a1-hash" in \
        capsys.readouterr().err
    assert rows(db_url) == before

    # Until converted, render-conf already renders the a1-hash, and says what is left to do.
    out = tmp_path / "conf"
    ran = render_conf(db_url, out, FSIVR_SIP_REALM=REALM)
    assert ran.returncode == 0, ran.stderr
    assert "2 account(s) still hold their SIP password plain in the database" in ran.stderr
    assert "1 mailbox PIN(s) are stored plain in the database (and not rendered)" in ran.stderr
    first = (out / DIRECTORY).read_text()
    assert "Tr0ub4dor-101" not in first and "4321" not in first
    assert users(out)["101"]["a1-hash"] == md5(f"101:{REALM}:Tr0ub4dor-101")

    monkeypatch.setenv("FSIVR_SIP_REALM", REALM)
    assert fsivr(db_url, "db", "hash-secrets") == 0
    said = capsys.readouterr().out
    assert f"2 a1-hash(es) made for realm {REALM}; 2 plain password(s) removed" in said
    assert "mailbox PINs: 1 hashed" in said
    after = rows(db_url)
    assert not any(secret in repr(after) for secret in (*PASSWORDS.values(), "4321"))
    assert {r["sip_user"]: r["a1_hash"] for r in after["accounts"]} == \
        {u: f"{REALM}:{md5(f'{u}:{REALM}:{p}')}" for u, p in PASSWORDS.items()}
    assert verify_pin("4321", after["mailboxes"][0]["pin"])
    # The phones notice nothing: the same XML, and nothing left to warn about.
    ran = render_conf(db_url, out, FSIVR_SIP_REALM=REALM)
    assert ran.returncode == 0 and "plain" not in ran.stderr, ran.stderr
    assert f"unchanged {out / DIRECTORY}" in ran.stdout
    assert fsivr(db_url, "db", "hash-secrets") == 0  # and again: nothing to do
    assert "0 a1-hash(es)" in capsys.readouterr().out


def test_render_conf_checks_the_phones_profile_challenges_in_the_realm(
        tmp_path: Path, env: dict[str, str]) -> None:
    db = f"sqlite:///{tmp_path / 'fsivr.sqlite3'}"
    bundle = tmp_path / "pbx.yaml"
    bundle.write_text(PBX)
    assert fsivr(db, "db", "upgrade") == 0
    assert fsivr(db, "import", str(bundle)) == 0
    out = tmp_path / "conf"
    profile = out / "sip_profiles" / "internal.xml"
    profile.parent.mkdir(parents=True)

    def rendered_with(params: str) -> str:
        profile.write_text(f'<profile name="internal"><settings>{params}</settings></profile>\n')
        ran = render_conf(db, out, **env)
        assert ran.returncode == 0, ran.stderr
        return ran.stderr

    # The stock internal profile: auto_from — the realm is whatever host each phone puts in From.
    said = rendered_with('<param name="challenge-realm" value="auto_from"/>')
    assert (f"note: sip_profiles/internal.xml challenges phones in the realm of their From host (challenge-realm "
            f"auto_from): SIP passwords are rendered as a1-hashes for '{REALM}', so phones must use {REALM} as "
            f'their SIP domain, or set <param name="challenge-realm" value="{REALM}"/> there') in said
    said = rendered_with('<param name="challenge-realm" value="other.example"/>'
                         '<param name="rfc8760-auth-algorithms" value="sha-256,md5"/>')
    assert (f"warning: sip_profiles/internal.xml challenges phones in realm 'other.example', but SIP passwords are "
            f"rendered as a1-hashes for '{REALM}': every phone would be refused") in said
    assert "offers rfc8760-auth-algorithms sha-256, md5: a phone answering with SHA-256 fails" in said
    said = rendered_with(f'<param name="challenge-realm" value="{REALM}"/>')
    assert "internal.xml" not in said
