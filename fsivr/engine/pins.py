"""PINs hashed with scrypt (a slow, memory-hard KDF from the standard library), never kept plain.

A scenario holds only hashes (``fsivr pin hash`` makes one), so neither the database, an export
nor a log line shows a PIN. Checking an entered PIN costs tens of milliseconds of CPU per hash by
design: callers run it off the gevent hub (``CallData.check_pin``).

Format: ``scrypt$N$r$p$SALT$HASH`` (salt and hash in URL-safe base64, no padding).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re

#: scrypt cost: N=2^14, r=8 (16 MiB, ~50 ms here) — OWASP's minimum for scrypt is N=2^17 for
#: passwords; a PIN is guarded mainly by the lock-out, and each attempt may check several hashes.
N, R, P = 2 ** 14, 8, 1
SALT_BYTES, HASH_BYTES = 16, 32
PIN_HASH = re.compile(r"^scrypt\$(\d+)\$(\d+)\$(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$")
#: What a caller can type as a PIN on a phone keypad.
PIN_TEXT = re.compile(r"^[0-9*]{3,16}$")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_pin(pin: str) -> str:
    if not PIN_TEXT.match(pin):
        raise ValueError("a PIN is 3 to 16 keys: digits and *")
    salt = os.urandom(SALT_BYTES)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=N, r=R, p=P, dklen=HASH_BYTES, maxmem=64 * 1024 * 1024)
    return f"scrypt${N}${R}${P}${_b64(salt)}${_b64(digest)}"


def check_hash(text: str) -> str:
    """A stored PIN hash as written, or ValueError (a plain PIN among them is refused)."""
    m = PIN_HASH.match(str(text))
    if m is None:
        raise ValueError("PINs are stored hashed: give the output of `fsivr pin hash` (scrypt$...), "
                         "never the PIN itself")
    n, r, p = (int(x) for x in m.group(1, 2, 3))
    # At most 128 MiB per check (128 * r * N bytes), within the maxmem verify_pin allows.
    if n < 2 ** 10 or n & (n - 1) or not (1 <= r <= 32 and 1 <= p <= 16) or n * r > 2 ** 20:
        raise ValueError("a PIN hash with scrypt parameters this server does not accept")
    return text


def verify_pin(pin: str, stored: str) -> bool:
    """Does ``pin`` match the hash ``stored``? Constant-time comparison of the digests."""
    m = PIN_HASH.match(stored)
    if m is None or not pin:
        return False
    n, r, p = (int(x) for x in m.group(1, 2, 3))
    expected = _unb64(m.group(5))
    digest = hashlib.scrypt(pin.encode(), salt=_unb64(m.group(4)), n=n, r=r, p=p, dklen=len(expected),
                            maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(digest, expected)
