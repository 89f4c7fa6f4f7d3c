"""Russian: numbers, amounts, dates and times as words, with the forms Russian grammar asks for.

Written here rather than taken from num2words, whose Russian currency output (0.5.14) reads an
integer amount as kopecks ("1" → "ноль рублей, одна копейка"), reads out "ноль копеек", and makes
the counted scale agree with the noun instead of with itself ("одна миллион").
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from fsivr.speech.forms import Gender, Noun, amount_words, russian_form

M, F, N = Gender.MASCULINE, Gender.FEMININE, Gender.NEUTER

_UNITS = ("ноль", "один", "два", "три", "четыре", "пять", "шесть", "семь", "восемь", "девять")
_TEENS = ("десять", "одиннадцать", "двенадцать", "тринадцать", "четырнадцать", "пятнадцать",
          "шестнадцать", "семнадцать", "восемнадцать", "девятнадцать")
_TENS = ("", "", "двадцать", "тридцать", "сорок", "пятьдесят", "шестьдесят", "семьдесят",
         "восемьдесят", "девяносто")
_HUNDREDS = ("", "сто", "двести", "триста", "четыреста", "пятьсот", "шестьсот", "семьсот",
             "восемьсот", "девятьсот")
#: тысяча is feminine (одна тысяча, две тысячи), миллион and миллиард masculine.
_SCALES = (Noun(F, "тысяча", "тысячи", "тысяч"), Noun(M, "миллион", "миллиона", "миллионов"),
           Noun(M, "миллиард", "миллиарда", "миллиардов"))

CURRENCIES = {
    "RUB": (Noun(M, "рубль", "рубля", "рублей"), Noun(F, "копейка", "копейки", "копеек")),
    "USD": (Noun(M, "доллар", "доллара", "долларов"), Noun(M, "цент", "цента", "центов")),
    # евро does not decline and takes masculine agreement (один евро).
    "EUR": (Noun(M, "евро", "евро", "евро"), Noun(M, "цент", "цента", "центов")),
    # злотый is an adjective turned noun: один злотый, два злотых, пять злотых.
    "PLN": (Noun(M, "злотый", "злотых", "злотых"), Noun(M, "грош", "гроша", "грошей")),
}


def _under_thousand(n: int, gender: Gender) -> list[str]:
    """1..999; a final 1 or 2 agrees with the noun even in compounds (двадцать одна копейка,
    двадцать две копейки, двадцать одно окно)."""
    words: list[str] = []
    hundreds, rest = divmod(n, 100)
    if hundreds:
        words.append(_HUNDREDS[hundreds])
    tens, unit = divmod(rest, 10)
    if tens == 1:
        words.append(_TEENS[unit])
        return words
    if tens:
        words.append(_TENS[tens])
    if unit == 1:
        words.append({M: "один", F: "одна", N: "одно"}[gender])
    elif unit == 2:
        words.append("две" if gender is F else "два")
    elif unit:
        words.append(_UNITS[unit])
    return words


def cardinal(n: int, gender: Gender = M) -> str:
    """A whole number as words: ``cardinal(2000)`` → "две тысячи", ``cardinal(21, F)`` →
    "двадцать одна"."""
    if n < 0:
        return "минус " + cardinal(-n, gender)
    if n == 0:
        return "ноль"
    groups: list[int] = []
    while n:
        n, group = divmod(n, 1000)
        groups.append(group)
    if len(groups) > len(_SCALES) + 1:
        raise ValueError("numbers of a trillion and more are not spoken")
    words: list[str] = []
    for index in range(len(groups) - 1, 0, -1):
        count = groups[index]
        if not count:
            continue
        scale = _SCALES[index - 1]
        # The count agrees with the scale word itself: одна тысяча, две тысячи, один миллион.
        words += _under_thousand(count, scale.gender)
        words.append(russian_form(count, scale))
    if groups[0]:
        words += _under_thousand(groups[0], gender)
    return " ".join(words)


def counted(n: int, noun: Noun) -> str:
    """A number with the noun it counts: "две тысячи рублей", "двадцать одна копейка"."""
    return f"{cardinal(n, noun.gender)} {russian_form(n, noun)}"


def amount(value: Decimal, currency: str) -> str:
    """An amount of money: "два рубля пятьдесят копеек"; whole amounts say no kopecks."""
    return amount_words(value, currency, CURRENCIES, counted, language="Russian", minus="минус")


# ---- ordinals (dates) -----------------------------------------------------------------------

_ORD_UNITS = ("", "перв", "втор", "трет", "четвёрт", "пят", "шест", "седьм", "восьм", "девят")
_ORD_TEENS = ("десят", "одиннадцат", "двенадцат", "тринадцат", "четырнадцат", "пятнадцат",
              "шестнадцат", "семнадцат", "восемнадцат", "девятнадцат")
_ORD_TENS = ("", "", "двадцат", "тридцат", "сороков", "пятидесят", "шестидесят", "семидесят",
             "восьмидесят", "девяност")
_ORD_HUNDREDS = ("", "сот", "двухсот", "трёхсот", "четырёхсот", "пятисот", "шестисот", "семисот",
                 "восьмисот", "девятисот")
_ORD_THOUSANDS = ("", "тысячн", "двухтысячн", "трёхтысячн")


def _ending(stem: str, case: str) -> str:
    # Neuter nominative (the day: первое) or masculine genitive (the year: двадцать шестого);
    # третий declines on a soft stem: третье, третьего.
    if stem == "трет":
        return "третье" if case == "neut" else "третьего"
    return stem + ("ое" if case == "neut" else "ого")  # noqa: RUF001 (Cyrillic on purpose)


def ordinal(n: int, case: str) -> str:
    """An ordinal, 1..3999, ``case`` "neut" (первое) or "gen" (первого). Only the last word is
    ordinal: "две тысячи двадцать шестого", "тридцать первое"."""
    if not 1 <= n <= 3999:
        raise ValueError(f"no Russian ordinal for {n}")
    rest, unit = n % 100, n % 10
    if unit and rest >= 20:
        return _prefixed(n - unit, _ending(_ORD_UNITS[unit], case))
    if rest:
        stem = _ORD_UNITS[rest] if rest < 10 else _ORD_TEENS[rest - 10] if rest < 20 else _ORD_TENS[rest // 10]
        return _prefixed(n - rest, _ending(stem, case))
    thousands, hundreds = divmod(n, 1000)
    if hundreds:
        return _prefixed(thousands * 1000, _ending(_ORD_HUNDREDS[hundreds // 100], case))
    return _ending(_ORD_THOUSANDS[thousands], case)


def _prefixed(before: int, last: str) -> str:
    # A year is "тысяча девятьсот ...", not "одна тысяча" as an amount is read.
    if not before:
        return last
    prefix = cardinal(before)
    return f"{prefix.removeprefix('одна ')} {last}"


_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа", "сентября",
           "октября", "ноября", "декабря")
_HOUR = Noun(M, "час", "часа", "часов")
_MINUTE = Noun(F, "минута", "минуты", "минут")


def spoken_date(day: date) -> str:
    """"первое декабря две тысячи двадцать шестого года"."""
    return f"{ordinal(day.day, 'neut')} {_MONTHS[day.month - 1]} {ordinal(day.year, 'gen')} года"


def spoken_time(moment: time) -> str:
    """"десять часов пятнадцать минут", "двадцать один час одна минута", "десять часов"."""
    hours = counted(moment.hour, _HOUR)
    return f"{hours} {counted(moment.minute, _MINUTE)}" if moment.minute else hours


def digit(d: int) -> str:
    return _UNITS[d]
