"""Phone numbers for SMS: anything a person or a caller ID writes, normalised to E.164."""

from __future__ import annotations

import phonenumbers


class BadNumber(ValueError):
    """Not a phone number an SMS can go to."""


def to_e164(number: str, default_region: str = "") -> str:
    """``"0151 2345 6789"`` with region DE → ``"+4915123456789"``; a number with ``+`` or ``00`` needs no
    region. The check is on length for the region (``is_possible_number``), not on the numbering
    plan (``is_valid_number``): the library's plan lags behind operators opening new ranges, and a
    notification refused for that would be lost for no reason."""
    text = (number or "").strip()
    if not text:
        raise BadNumber("no phone number")
    region = default_region.strip().upper() or None
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        hint = "" if region or text.startswith(("+", "00")) else \
            " (no country code, and no default_region is configured)"
        raise BadNumber(f"{number!r} is not a phone number: {exc._msg}{hint}") from None
    if not phonenumbers.is_possible_number(parsed):
        raise BadNumber(f"{number!r} is not a possible phone number "
                        f"for +{parsed.country_code}")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
