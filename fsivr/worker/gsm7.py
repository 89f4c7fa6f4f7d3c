"""SMS text: which alphabet a text needs and how many segments it takes (3GPP TS 23.038, TS 23.040).

A text that fits the GSM 7-bit default alphabet (TS 23.038 §6.2.1, with the extension table of
§6.2.1.1, whose characters cost an escape plus the character: two septets) is sent 7-bit: 160
septets in a single message, 153 per part of a concatenated one (the 6-octet user-data header of
TS 23.040 §9.2.3.24.1 takes 7 septets). Anything else is sent UCS-2: 70 UTF-16 units alone, 67 per
part. A part never ends between an escape and its character, nor between the halves of a UTF-16
surrogate pair (handsets would show garbage), so parts are packed character by character.
"""

from __future__ import annotations

from dataclasses import dataclass

#: TS 23.038 §6.2.1, the default alphabet, in code order 0x00-0x7F (0x1B is the escape to the
#: extension table and is not a character of its own; it is left out).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ" "ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
#: TS 23.038 §6.2.1.1, the default extension table: each costs two septets (escape + code).
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")

SINGLE_GSM7 = 160
PART_GSM7 = 153
SINGLE_UCS2 = 70
PART_UCS2 = 67


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    #: Characters as a person counts them.
    characters: int
    #: Septets (GSM-7) or UTF-16 code units (UCS-2) the text takes.
    units: int
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text)


def _cost(ch: str, gsm: bool) -> int:
    if gsm:
        return 2 if ch in GSM7_EXTENSION else 1
    return 2 if ord(ch) > 0xFFFF else 1  # a surrogate pair in UTF-16


def measure(text: str) -> SmsSize:
    """The encoding a text needs, its size in that encoding and its number of segments."""
    gsm = is_gsm7(text)
    single, part = (SINGLE_GSM7, PART_GSM7) if gsm else (SINGLE_UCS2, PART_UCS2)
    costs = [_cost(ch, gsm) for ch in text]
    units = sum(costs)
    if units <= single:
        segments = 1 if text else 0
    else:
        segments, used = 1, 0
        for cost in costs:
            if used + cost > part:  # this character (or its escape pair) starts the next part
                segments, used = segments + 1, 0
            used += cost
    return SmsSize("GSM-7" if gsm else "UCS-2", len(text), units, segments)


class SmsTooLong(ValueError):
    """A text needs more segments than allowed (``sms_max_segments``)."""


def check_size(text: str, max_segments: int) -> SmsSize:
    """``measure`` the text; raise SmsTooLong, saying by how much, when it exceeds the cap."""
    size = measure(text)
    if not text.strip():
        raise SmsTooLong("the SMS text is empty")
    if size.segments > max_segments:
        gsm = size.encoding == "GSM-7"
        single, part = (SINGLE_GSM7, PART_GSM7) if gsm else (SINGLE_UCS2, PART_UCS2)
        room = single if max_segments <= 1 else max_segments * part
        raise SmsTooLong(
            f"the SMS text needs {size.segments} {size.encoding} segments ({size.units} "
            f"{'septets' if gsm else 'UTF-16 units'}), at most {max_segments} allowed "
            f"(about {room} characters)")
    return size
