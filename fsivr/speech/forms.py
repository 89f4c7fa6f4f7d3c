"""What every language's number grammar shares: genders, a noun's forms, and the plural rule of the
Slavic languages (one / few / many), which both Polish and Russian pick their noun forms by."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum


class Gender(Enum):
    """The grammatical gender a counted noun has: it decides the form of 1 and 2 (jeden/jedna/jedno,
    dwa/dwie; один/одна/одно, два/две)."""

    MASCULINE = "m"
    FEMININE = "f"
    NEUTER = "n"


@dataclass(frozen=True)
class Noun:
    """A counted noun: its gender and its forms after one, after 2-4 (not 12-14), and after the rest
    (the genitive plural). English uses ``one`` and ``many`` only."""

    gender: Gender
    one: str
    few: str
    many: str


def polish_form(n: int, noun: Noun) -> str:
    """The noun's form after ``n`` in Polish: 1 itself → singular (but 21 złotych, 101 złotych);
    2-4, 22-24, ... but not 12-14 → nominative plural (dwa złote, dwadzieścia dwa złote); the rest →
    genitive plural (pięć złotych, dwanaście złotych, dwadzieścia jeden złotych)."""
    return _form(n, noun, polish_one=True)


def russian_form(n: int, noun: Noun) -> str:
    """The noun's form after ``n`` in Russian: as in Polish, except that every number ending in 1
    but not 11 takes the singular (двадцать один рубль, сто один рубль, одиннадцать рублей)."""
    return _form(n, noun, polish_one=False)


def _form(n: int, noun: Noun, *, polish_one: bool) -> str:
    n = abs(n)
    last, last_two = n % 10, n % 100
    if (n == 1) if polish_one else (last == 1 and last_two != 11):
        return noun.one
    if 2 <= last <= 4 and not 12 <= last_two <= 14:
        return noun.few
    return noun.many


def amount_words(value: Decimal, currency: str, currencies: Mapping[str, tuple[Noun, Noun]],
                 counted: Callable[[int, Noun], str], *, language: str, minus: str, joiner: str = " ") -> str:
    """An amount of money in one language's words, the shape every language shares: the sign, the
    major unit counted, then the minor unit counted (``joiner`` between them: " and " in English);
    a whole amount says no minor unit, an amount under one major unit no major unit."""
    try:
        major_noun, minor_noun = currencies[currency]
    except KeyError:
        raise ValueError(f"no {language} words for the currency {currency}") from None
    sign = f"{minus} " if value < 0 else ""
    major, minor = divmod(int((abs(value) * 100).to_integral_value()), 100)
    if major and minor:
        return f"{sign}{counted(major, major_noun)}{joiner}{counted(minor, minor_noun)}"
    if minor:
        return f"{sign}{counted(minor, minor_noun)}"
    return f"{sign}{counted(major, major_noun)}"
