"""English: numbers, amounts, dates and times as words (the cardinals and ordinals from num2words,
whose English is right; the amounts composed here, as its currency mode reads integers as cents)."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from num2words import num2words

from fsivr.speech.forms import Gender, Noun, amount_words

M = Gender.MASCULINE

CURRENCIES = {
    "USD": (Noun(M, "dollar", "dollars", "dollars"), Noun(M, "cent", "cents", "cents")),
    "EUR": (Noun(M, "euro", "euros", "euros"), Noun(M, "cent", "cents", "cents")),
    "PLN": (Noun(M, "zloty", "zlotys", "zlotys"), Noun(M, "grosz", "groszy", "groszy")),
    "RUB": (Noun(M, "ruble", "rubles", "rubles"), Noun(M, "kopeck", "kopecks", "kopecks")),
}


def cardinal(n: int, gender: Gender = M) -> str:
    """English numbers have no gender; the argument keeps one signature for every language."""
    return ("minus " + num2words(-n, lang="en")) if n < 0 else num2words(n, lang="en")


def counted(n: int, noun: Noun) -> str:
    return f"{cardinal(n)} {noun.one if abs(n) == 1 else noun.many}"


def amount(value: Decimal, currency: str) -> str:
    """"two dollars and fifty cents"; whole amounts say no cents."""
    return amount_words(value, currency, CURRENCIES, counted, language="English", minus="minus", joiner=" and ")


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September",
           "October", "November", "December")


def spoken_date(day: date) -> str:
    """"December first, twenty twenty-six" (month names not from the process's locale)."""
    return (f"{_MONTHS[day.month - 1]} {num2words(day.day, lang='en', to='ordinal')}, "
            f"{num2words(day.year, lang='en', to='year')}")


def spoken_time(moment: time) -> str:
    """"ten fifteen", "ten oh five", "ten o'clock" (the 24-hour clock, as an IVR reads it)."""
    hour = cardinal(moment.hour)
    if not moment.minute:
        return f"{hour} o'clock"
    minute = cardinal(moment.minute)
    return f"{hour} {minute}" if moment.minute >= 10 else f"{hour} oh {minute}"


def digit(d: int) -> str:
    return cardinal(d)
