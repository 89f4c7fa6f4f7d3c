"""Polish: numbers, amounts, dates and times as words, with the forms Polish grammar asks for.

Written here rather than taken from num2words, whose Polish currency output (0.5.14) reads an
integer amount as grosze ("1" → "zero złotych, jeden grosz"), says "jeden euro" (euro is neuter:
"jedno euro"), reads out "zero groszy", and has no feminine or neuter numbers ("jedna osoba").
"""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from fsivr.speech.forms import Gender, Noun, amount_words, polish_form

M, F, N = Gender.MASCULINE, Gender.FEMININE, Gender.NEUTER

_UNITS = ("zero", "jeden", "dwa", "trzy", "cztery", "pięć", "sześć", "siedem", "osiem", "dziewięć")
_TEENS = ("dziesięć", "jedenaście", "dwanaście", "trzynaście", "czternaście", "piętnaście",
          "szesnaście", "siedemnaście", "osiemnaście", "dziewiętnaście")
_TENS = ("", "", "dwadzieścia", "trzydzieści", "czterdzieści", "pięćdziesiąt", "sześćdziesiąt",
         "siedemdziesiąt", "osiemdziesiąt", "dziewięćdziesiąt")
_HUNDREDS = ("", "sto", "dwieście", "trzysta", "czterysta", "pięćset", "sześćset", "siedemset",
             "osiemset", "dziewięćset")
#: Thousand, million, billion: masculine nouns counted like any other (dwa tysiące, pięć tysięcy).
_SCALES = (Noun(M, "tysiąc", "tysiące", "tysięcy"), Noun(M, "milion", "miliony", "milionów"),
           Noun(M, "miliard", "miliardy", "miliardów"))

CURRENCIES = {
    "PLN": (Noun(M, "złoty", "złote", "złotych"), Noun(M, "grosz", "grosze", "groszy")),
    "EUR": (Noun(N, "euro", "euro", "euro"), Noun(M, "cent", "centy", "centów")),
    "USD": (Noun(M, "dolar", "dolary", "dolarów"), Noun(M, "cent", "centy", "centów")),
    "RUB": (Noun(M, "rubel", "ruble", "rubli"), Noun(F, "kopiejka", "kopiejki", "kopiejek")),
}


def _under_thousand(n: int, gender: Gender, alone: bool) -> list[str]:
    """1..999. The gender shows in 1 only when the whole number is 1 (jeden/jedna/jedno; compounds
    keep "jeden": dwadzieścia jeden osób) and in a final 2 (dwie osoby, dwadzieścia dwie osoby)."""
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
    if unit == 1 and alone and not words:
        words.append({M: "jeden", F: "jedna", N: "jedno"}[gender])
    elif unit == 2 and gender is F:
        words.append("dwie")
    elif unit:
        words.append(_UNITS[unit])
    return words


def cardinal(n: int, gender: Gender = M) -> str:
    """A whole number as words: ``cardinal(2, F)`` → "dwie", ``cardinal(2000)`` → "dwa tysiące"."""
    if n < 0:
        return "minus " + cardinal(-n, gender)
    if n == 0:
        return "zero"
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
        # "tysiąc", not "jeden tysiąc"; but "dwadzieścia jeden tysięcy".
        if count > 1:
            words += _under_thousand(count, M, alone=False)
        words.append(polish_form(count, scale))
    if groups[0]:
        words += _under_thousand(groups[0], gender, alone=len(groups) == 1)
    return " ".join(words)


def counted(n: int, noun: Noun) -> str:
    """A number with the noun it counts, in the form the number asks for: "dwa złote"."""
    return f"{cardinal(n, noun.gender)} {polish_form(n, noun)}"


def amount(value: Decimal, currency: str) -> str:
    """An amount of money: "dwa złote pięćdziesiąt groszy"; whole amounts say no grosze."""
    return amount_words(value, currency, CURRENCIES, counted, language="Polish", minus="minus")


# ---- ordinals (dates and hours) -------------------------------------------------------------

_ORD_UNITS = ("", "pierwsz", "drug", "trzeci", "czwart", "piąt", "szóst", "siódm", "ósm", "dziewiąt")
_ORD_TEENS = ("dziesiąt", "jedenast", "dwunast", "trzynast", "czternast", "piętnast", "szesnast",
              "siedemnast", "osiemnast", "dziewiętnast")
_ORD_TENS = ("", "", "dwudziest", "trzydziest", "czterdziest", "pięćdziesiąt", "sześćdziesiąt",
             "siedemdziesiąt", "osiemdziesiąt", "dziewięćdziesiąt")
_ORD_HUNDREDS = ("", "setn", "dwusetn", "trzechsetn", "czterechsetn", "pięćsetn", "sześćsetn",
                 "siedemsetn", "osiemsetn", "dziewięćsetn")
_ORD_THOUSANDS = ("", "tysięczn", "dwutysięczn", "trzytysięczn")


def _ending(stem: str, case: str) -> str:
    # Adjective endings: masculine genitive -ego (-iego after g/k: drugiego), feminine nominative -a.
    if case == "gen":
        return stem + ("iego" if stem.endswith(("g", "k")) else "ego")
    return stem + "a"


def ordinal(n: int, case: str) -> str:
    """An ordinal, 1..3999: ``case`` "gen" (masculine genitive: dates, "dwudziestego szóstego") or
    "fem" (feminine nominative: hours, "dwudziesta trzecia"). As spoken, only the tens and units are
    ordinal: "tysiąc dziewięćset dziewięćdziesiątego dziewiątego"."""
    if not 1 <= n <= 3999:
        raise ValueError(f"no Polish ordinal for {n}")
    rest = n % 100
    if rest:
        prefix = cardinal(n - rest) + " " if n > rest else ""
        tens, unit = divmod(rest, 10)
        stems = [_ORD_TEENS[unit]] if tens == 1 else [s for s in (_ORD_TENS[tens], _ORD_UNITS[unit]) if s]
        return prefix + " ".join(_ending(s, case) for s in stems)
    thousands, hundreds = divmod(n, 1000)
    if hundreds:
        prefix = cardinal(thousands * 1000) + " " if thousands else ""
        return prefix + _ending(_ORD_HUNDREDS[hundreds // 100], case)
    return _ending(_ORD_THOUSANDS[thousands], case)


_MONTHS = ("stycznia", "lutego", "marca", "kwietnia", "maja", "czerwca", "lipca", "sierpnia",
           "września", "października", "listopada", "grudnia")


def spoken_date(day: date) -> str:
    """"pierwszego grudnia dwa tysiące dwudziestego szóstego roku"."""
    return f"{ordinal(day.day, 'gen')} {_MONTHS[day.month - 1]} {ordinal(day.year, 'gen')} roku"


def spoken_time(moment: time) -> str:
    """"godzina dziesiąta piętnaście", "godzina dziesiąta zero pięć", "godzina dziesiąta"."""
    hour = "zero" if moment.hour == 0 else ordinal(moment.hour, "fem")
    if not moment.minute:
        return f"godzina {hour}"
    minute = cardinal(moment.minute) if moment.minute >= 10 else f"zero {cardinal(moment.minute)}"
    return f"godzina {hour} {minute}"


def digit(d: int) -> str:
    return _UNITS[d]
