"""SMS text: GSM-7 / UCS-2 and segments (3GPP TS 23.038 / 23.040), numbers to E.164."""

from __future__ import annotations

import pytest

from fsivr.worker.gsm7 import GSM7_BASIC, GSM7_EXTENSION, SmsTooLong, check_size, is_gsm7, measure
from fsivr.worker.numbers import BadNumber, to_e164


def test_the_alphabet_tables_have_the_sizes_of_ts_23_038() -> None:
    # 128 codes, minus 0x1B (the escape), in the default alphabet; 10 characters in the extension
    # table (form feed ^ { } \ [ ~ ] | €).
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


@pytest.mark.parametrize(("text", "encoding", "units", "segments"), [
    ("", "GSM-7", 0, 0),
    ("a" * 160, "GSM-7", 160, 1),
    ("a" * 161, "GSM-7", 161, 2),
    ("a" * 306, "GSM-7", 306, 2),
    ("a" * 307, "GSM-7", 307, 3),
    ("€" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
    ("€" * 81, "GSM-7", 162, 2),
    # 152 plain + one extension pair does not fit part one's 153 septets: the pair moves whole
    ("a" * 152 + "€" + "a" * 10, "GSM-7", 164, 2),
    ("a" * 152 + "€" * 77, "GSM-7", 306, 3),
    ("Zażółć gęślą jaźń", "UCS-2", 17, 1),  # ż, ł, ę... are not GSM-7
    ("Ä Ö Ü ñ à é ß Ø Å", "GSM-7", 17, 1),  # these are
    ("ł" * 70, "UCS-2", 70, 1),
    ("ł" * 71, "UCS-2", 71, 2),
    ("ł" * 134, "UCS-2", 134, 2),
    ("ł" * 135, "UCS-2", 135, 3),
    ("😀" * 35, "UCS-2", 70, 1),  # outside the BMP: a surrogate pair, two UTF-16 units
    ("ł" + "😀" * 33 + "ł" * 2, "UCS-2", 69, 1),
    ("ł" * 66 + "😀" + "ł", "UCS-2", 69, 1),
    ("ł" * 66 + "😀" + "ł" * 2, "UCS-2", 70, 1),
    ("ł" * 66 + "😀" + "ł" * 3, "UCS-2", 71, 2),  # the pair is not split at 67
])
def test_measure(text: str, encoding: str, units: int, segments: int) -> None:
    size = measure(text)
    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)
    assert size.characters == len(text)


def test_one_character_outside_gsm7_switches_the_whole_text() -> None:
    assert is_gsm7("Call us back on +48 501 000 001 [Mon-Fri]")
    text = "Call us back, Łukasz"
    assert not is_gsm7(text) and measure(text).encoding == "UCS-2"


def test_cap() -> None:
    assert check_size("a" * 459, 3).segments == 3
    with pytest.raises(SmsTooLong, match=r"needs 4 GSM-7 segments .*at most 3 allowed"):
        check_size("a" * 460, 3)
    with pytest.raises(SmsTooLong, match="UCS-2"):
        check_size("ł" * 71, 1)
    with pytest.raises(SmsTooLong, match="empty"):
        check_size("  ", 3)


@pytest.mark.parametrize(("raw", "region", "e164"), [
    ("+48 501 000 001", "", "+48501000001"),
    ("0048501000001", "PL", "+48501000001"),
    ("501-000-001", "PL", "+48501000001"),
    ("0151 2345 6789", "DE", "+4915123456789"),
    ("(202) 555-0143", "US", "+12025550143"),
    ("+1 202 555 0143", "PL", "+12025550143"),  # an explicit country code wins over the region
])
def test_e164(raw: str, region: str, e164: str) -> None:
    assert to_e164(raw, region) == e164


@pytest.mark.parametrize(("raw", "region", "message"), [
    ("501000001", "", "no default_region"),
    ("12", "PL", "not a possible phone number"),
    ("hello", "PL", "not a phone number"),
    ("", "PL", "no phone number"),
])
def test_e164_refuses(raw: str, region: str, message: str) -> None:
    with pytest.raises(BadNumber, match=message):
        to_e164(raw, region)
