"""SIP passwords kept as FreeSWITCH's ``a1-hash``, and the policy for what is kept plain.

sofia authenticates a REGISTER or INVITE digest against the directory user's ``a1-hash`` param,
used as the HA1 of RFC 2617 as it is: only a user without one gets HA1 computed from its
``password`` param as MD5(username:realm:password), with the realm from the phone's Authorization
header (sofia_reg.c sofia_reg_parse_auth, v1.11.1: ``if (!a1_hash) { input = "%s:%s:%s", username,
realm, passwd ...}``; the response is then MD5(HA1:nonce[:nc:cnonce:qop]:MD5(method:uri)) and
compared with the phone's). So a stored a1-hash works only for the realm it was made with — the
one the phones answer the challenge in: sofia's challenge uses the profile's ``challenge-realm``
(``auto_to``, the default: the To host; ``auto_from``, the vanilla internal profile's: the From
host; any other value: that value; sofia_reg.c sofia_reg_handle_register_token) — and only for
MD5 digests (a profile with ``rfc8760-auth-algorithms`` offering SHA-256 would feed this MD5 HA1
into a SHA-256 digest, which fails). HA1 is lowercase hex: sofia puts it into the response's input
as a string, so its case matters.

What the hash protects: the password itself (reused elsewhere, typed by people), which neither the
database nor the rendered XML shows. It does not protect the account: HA1 is all a digest client
needs, so whoever reads it can register as the user in that realm — the rendered files stay
unreadable to others and the column is a secret as the password was.

Stored form (``accounts.a1_hash``, a bundle's ``a1_hash``): ``REALM:HEX`` — the realm it was made
for, so a changed realm is noticed instead of locking every phone out, and 32 lowercase hex digits.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

A1_HEX = re.compile(r"^[0-9a-f]{32}$")
#: A SIP realm as a phone sends it back (a host name or address): no quotes, spaces or controls.
REALM = re.compile(r"^[A-Za-z0-9._:\[\]-]{1,255}$")
REALM_RULE = "a host name or address (letters, digits and . _ : [ ] - only)"
A1_RULE = "REALM:HASH, HASH being MD5(user:REALM:password) in 32 lowercase hex digits, as `fsivr export` writes it"
#: The prefix of a PIN hashed by fsivr.engine.pins (``scrypt$N$r$p$SALT$HASH``).
PIN_HASH_PREFIX = "scrypt$"


@dataclass(frozen=True)
class SecretPolicy:
    """How SIP passwords and mailbox PINs are stored (from the configuration: Config.secret_policy)."""

    #: The realm SIP passwords are hashed for; "" = not configured.
    realm: str = ""
    #: sip_plain_passwords: keep the password as given (and render ``password``, not ``a1-hash``).
    plain_passwords: bool = False
    #: mailbox_plain_pins: keep mailbox PINs as given (rendered as mod_voicemail's ``vm-password``).
    plain_pins: bool = False


def a1_digest(user: str, realm: str, password: str) -> str:
    """HA1 as sofia computes it from a ``password`` param: MD5(user:realm:password), lowercase hex."""
    # MD5 is what SIP digest (RFC 2617) prescribes, not a choice made here.
    return hashlib.md5(f"{user}:{realm}:{password}".encode(), usedforsecurity=False).hexdigest()


def make_a1(user: str, realm: str, password: str) -> str:
    """The stored form: ``REALM:HEX``."""
    return f"{realm}:{a1_digest(user, realm, password)}"


def split_a1(text: str) -> tuple[str, str]:
    """(realm, hex) of a stored a1 hash; ValueError naming the form otherwise."""
    realm, _, digest = str(text).rpartition(":")
    if not REALM.match(realm) or not A1_HEX.match(digest):
        raise ValueError(f"a1_hash must be {A1_RULE}")
    return realm, digest


def is_hashed_pin(pin: str | None) -> bool:
    return bool(pin) and str(pin).startswith(PIN_HASH_PREFIX)


def realm_missing(what: str) -> str:
    """The message for a SIP password that would have to be hashed without a realm."""
    return (f"{what}: SIP passwords are stored only as their a1-hash, MD5(user:realm:password), which needs the "
            "realm phones authenticate in: set sip_realm (FSIVR_SIP_REALM) to it, or set sip_plain_passwords: "
            "true (FSIVR_SIP_PLAIN_PASSWORDS) to store and render passwords as given")
