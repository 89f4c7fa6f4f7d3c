"""Phone numbers as one caller: E.164 through ``phonenumbers`` (Google's libphonenumber data).

A caller ID arrives as ``+48221234567``, ``0048221234567`` or national ``221234567`` depending on
the trunk; a contact or an allow list is written by a person, with spaces. Everything that
compares or stores a person's number (accounts' mobiles, contacts, caller-ID allow lists, the
lock-out and lookup keys) goes through :func:`e164`, with the configured default region for
numbers written without a country code. The numbering plans of the world are data we do not
maintain ourselves.

DIDs routed to fsivr (a scenario's ``numbers``) are *not* normalised: the dialplan must match them
as the trunk delivers them (``*98``, ``0221234568``).

It lives in ``store`` because bundle parsing, the directory and the nodes all use it.
"""

from __future__ import annotations

import re

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, ValidationResult

#: What may be dialled (a callback's number, a caller ID it shows): digits, an optional leading +,
#: and the characters of a SIP user part. Nodes check it when a scenario is compiled and a call
#: registers a callback; the worker before it puts a number into an ``originate``.
DIALLABLE = re.compile(r"^\+?[0-9A-Za-z_.*#-]{1,64}$")

#: ISO 3166 region for numbers written without a country code (Config.default_region sets it).
DEFAULT_REGION = "PL"

_region = DEFAULT_REGION

_WHY_NOT_POSSIBLE = {
    ValidationResult.INVALID_COUNTRY_CODE: "no such country code",
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "a local number: give the area code",
    ValidationResult.INVALID_LENGTH: "a length no number of that country has",
}


def configure(region: str | None) -> None:
    """Set the default region for this process (``fsivr`` does it from the configuration)."""
    global _region
    _region = check_region(region or DEFAULT_REGION)


def default_region() -> str:
    return _region


def check_region(region: str) -> str:
    code = str(region).strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"default_region {region!r} is not a region phonenumbers knows (e.g. PL, DE, US)")
    return code


def e164(number: str, region: str | None = None) -> str:
    """The number in E.164 (``+48221234567``); ValueError with the reason when it is not one
    that can be called (not a number, no such country code, too short, outside the plan)."""
    text = str(number).strip()
    try:
        parsed = phonenumbers.parse(text, region or _region)
    except NumberParseException as exc:
        raise ValueError(f"{text!r} is not a phone number ({_parse_reason(exc)})") from None
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason not in (ValidationResult.IS_POSSIBLE,):
        why = _WHY_NOT_POSSIBLE.get(reason, "not a possible number")
        raise ValueError(f"{text!r} cannot be called: {why}")
    if not phonenumbers.is_valid_number(parsed):
        where = phonenumbers.region_code_for_number(parsed) or f"+{parsed.country_code}"
        raise ValueError(f"{text!r} cannot be called: no such number in the numbering plan of {where}")
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def caller_key(caller: str, region: str | None = None) -> str:
    """What identifies a caller for look-ups and the lock-out: the number in E.164 when it parses
    as one (valid or not: a key only has to be the same for every spelling), else the caller ID
    as sent (``anonymous``, an internal extension ``101``) — still one caller, just one that
    cannot be made equal to another spelling."""
    text = str(caller).strip()
    try:
        parsed = phonenumbers.parse(text, region or _region)
    except NumberParseException:
        return text
    if not phonenumbers.is_possible_number(parsed):
        return text  # "101" is an extension, not +48101
    return phonenumbers.format_number(parsed, PhoneNumberFormat.E164)


def caller_spellings(caller: str, region: str | None = None) -> list[str]:
    """The ways a trunk may send the caller ID of the same number, for matching a column that keeps
    caller IDs as sent (call records): E.164 (``+48221234567``), international with ``00`` and
    without a prefix (``0048221234567``, ``48221234567``), national (``221234567``, and with the
    national prefix where the country dials one: ``0221234567``), and the text itself. A caller ID
    that is no phone number (``anonymous``, extension ``101``) is only itself."""
    text = str(caller).strip()
    key = caller_key(text, region)
    if not key.startswith("+"):
        return [text]
    parsed = phonenumbers.parse(key)
    national = phonenumbers.national_significant_number(parsed)
    prefixed = "".join(c for c in phonenumbers.format_number(parsed, PhoneNumberFormat.NATIONAL) if c.isdigit())
    spellings = [text, key, "00" + key[1:], key[1:], national, prefixed]
    return list(dict.fromkeys(spellings))


def _parse_reason(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "no such country code",
        NumberParseException.NOT_A_NUMBER: "no digits a number is made of",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, str(exc))
