"""Phone numbers in E.164 through phonenumbers: one caller however the number is written, and
numbers that cannot be called refused with the reason."""

from __future__ import annotations

import pytest

from fsivr.store import phone
from fsivr.store.phone import caller_key, e164


@pytest.mark.parametrize("written, expected", [
    ("+48 22 123 45 67", "+48221234567"),
    ("0048221234567", "+48221234567"),
    ("221234567", "+48221234567"),
    ("+48221234567", "+48221234567"),
    ("(22) 123-45-67", "+48221234567"),
    ("600 100 101", "+48600100101"),
    ("+48 600-100-101", "+48600100101"),
    ("00 49 30 1234567", "+49301234567"),
    ("+44 20 7123 4567", "+442071234567"),
])
def test_one_caller_whatever_the_spelling(written: str, expected: str) -> None:
    assert e164(written) == expected
    assert caller_key(written) == expected


def test_the_default_region_decides_national_numbers() -> None:
    assert e164("030 1234567", region="DE") == "+49301234567"
    assert e164("221234567", region="PL") == "+48221234567"
    try:
        phone.configure("DE")
        assert e164("030 1234567") == "+49301234567"
    finally:
        phone.configure("PL")
    with pytest.raises(ValueError, match="default_region 'XX'"):
        phone.configure("XX")


@pytest.mark.parametrize("written, reason", [
    ("hello", "'hello' is not a phone number"),
    ("123", "'123' cannot be called: too short"),
    ("+48 22 123 45 67 89 01 23", "too long"),
    ("+999 123456789", "no such country code"),
    ("0600-100", "no such number in the numbering plan of PL"),
])
def test_numbers_that_cannot_be_called_say_why(written: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        e164(written)


def test_caller_keys_of_non_numbers_stay_as_sent() -> None:
    assert caller_key("anonymous") == "anonymous"
    assert caller_key("101") == "101"  # an internal extension, not +48101
