"""Numbers and amounts as words: the equivalence table of issue 10 (1, 2, 5, 11, 12, 21, 22, 25,
101, 1000, 2000, 5000) in Polish and Russian, for PLN and RUB (EUR and USD too), genders, dates,
times and digits. Each expected text is written out by hand from the grammar, not generated."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal

import pytest

from fsivr.speech import words
from fsivr.speech.forms import Gender

PL_PLN = {
    1: "jeden złoty", 2: "dwa złote", 5: "pięć złotych", 11: "jedenaście złotych",
    12: "dwanaście złotych", 21: "dwadzieścia jeden złotych", 22: "dwadzieścia dwa złote",
    25: "dwadzieścia pięć złotych", 101: "sto jeden złotych", 1000: "tysiąc złotych",
    2000: "dwa tysiące złotych", 5000: "pięć tysięcy złotych",
}
RU_RUB = {
    1: "один рубль", 2: "два рубля", 5: "пять рублей", 11: "одиннадцать рублей",
    12: "двенадцать рублей", 21: "двадцать один рубль", 22: "двадцать два рубля",
    25: "двадцать пять рублей", 101: "сто один рубль", 1000: "одна тысяча рублей",
    2000: "две тысячи рублей", 5000: "пять тысяч рублей",
}
PL_EUR = {
    1: "jedno euro", 2: "dwa euro", 5: "pięć euro", 11: "jedenaście euro", 12: "dwanaście euro",
    21: "dwadzieścia jeden euro", 22: "dwadzieścia dwa euro", 25: "dwadzieścia pięć euro",
    101: "sto jeden euro", 1000: "tysiąc euro", 2000: "dwa tysiące euro", 5000: "pięć tysięcy euro",
}
RU_USD = {
    1: "один доллар", 2: "два доллара", 5: "пять долларов", 11: "одиннадцать долларов",
    12: "двенадцать долларов", 21: "двадцать один доллар", 22: "двадцать два доллара",
    25: "двадцать пять долларов", 101: "сто один доллар", 1000: "одна тысяча долларов",
    2000: "две тысячи долларов", 5000: "пять тысяч долларов",
}
PL_USD = {1: "jeden dolar", 2: "dwa dolary", 5: "pięć dolarów", 12: "dwanaście dolarów",
          22: "dwadzieścia dwa dolary", 101: "sto jeden dolarów", 2000: "dwa tysiące dolarów"}
RU_EUR = {1: "один евро", 2: "два евро", 21: "двадцать один евро", 5000: "пять тысяч евро"}
EN_USD = {1: "one dollar", 2: "two dollars", 21: "twenty-one dollars", 1000: "one thousand dollars"}

TABLE = [(lang, cur, n, text) for lang, cur, table in (
    ("pl", "PLN", PL_PLN), ("ru", "RUB", RU_RUB), ("pl", "EUR", PL_EUR), ("ru", "USD", RU_USD),
    ("pl", "USD", PL_USD), ("ru", "EUR", RU_EUR), ("en", "USD", EN_USD),
) for n, text in table.items()]


@pytest.mark.parametrize(("language", "currency", "n", "expected"), TABLE)
def test_amounts_take_the_grammatical_form_of_their_number(language: str, currency: str, n: int,
                                                           expected: str) -> None:
    assert words.amount(Decimal(n), currency, language) == expected


@pytest.mark.parametrize(("language", "currency", "value", "expected"), [
    ("pl", "PLN", "2.50", "dwa złote pięćdziesiąt groszy"),
    ("pl", "PLN", "21.22", "dwadzieścia jeden złotych dwadzieścia dwa grosze"),
    ("pl", "PLN", "0.01", "jeden grosz"),
    ("pl", "PLN", "0", "zero złotych"),
    ("pl", "PLN", "-5", "minus pięć złotych"),
    ("pl", "RUB", "1.02", "jeden rubel dwie kopiejki"),
    ("ru", "RUB", "1.21", "один рубль двадцать одна копейка"),
    ("ru", "RUB", "2.22", "два рубля двадцать две копейки"),
    ("ru", "RUB", "5.05", "пять рублей пять копеек"),
    ("ru", "PLN", "2", "два злотых"),
    ("ru", "RUB", "2021000", "два миллиона двадцать одна тысяча рублей"),
    ("pl", "PLN", "2021000", "dwa miliony dwadzieścia jeden tysięcy złotych"),
    ("en", "EUR", "2.50", "two euros and fifty cents"),
])
def test_amounts_with_minor_units(language: str, currency: str, value: str, expected: str) -> None:
    assert words.amount(words.parse_amount(value), currency, language) == expected


@pytest.mark.parametrize(("language", "n", "gender", "expected"), [
    ("pl", 1, Gender.FEMININE, "jedna"), ("pl", 1, Gender.NEUTER, "jedno"), ("pl", 1, Gender.MASCULINE, "jeden"),
    ("pl", 2, Gender.FEMININE, "dwie"), ("pl", 22, Gender.FEMININE, "dwadzieścia dwie"),
    ("pl", 21, Gender.FEMININE, "dwadzieścia jeden"), ("pl", 1001, Gender.FEMININE, "tysiąc jeden"),
    ("ru", 1, Gender.FEMININE, "одна"), ("ru", 21, Gender.FEMININE, "двадцать одна"),
    ("ru", 2, Gender.FEMININE, "две"), ("ru", 1, Gender.NEUTER, "одно"),
    ("ru", 1000000, Gender.FEMININE, "один миллион"), ("ru", 0, Gender.MASCULINE, "ноль"),
])
def test_numbers_agree_with_the_gender_of_what_they_count(language: str, n: int, gender: Gender,
                                                          expected: str) -> None:
    assert words.number(n, language, gender) == expected


def test_dates_times_and_digits() -> None:
    assert words.spoken_date(date(2026, 12, 1), "pl") == "pierwszego grudnia dwa tysiące dwudziestego szóstego roku"
    assert words.spoken_date(date(2026, 12, 1), "ru") == "первое декабря две тысячи двадцать шестого года"
    assert words.spoken_date(date(1999, 3, 23), "ru") == \
        "двадцать третье марта тысяча девятьсот девяносто девятого года"
    assert words.spoken_date(date(2000, 1, 3), "pl") == "trzeciego stycznia dwutysięcznego roku"
    assert words.spoken_date(date(2026, 5, 31), "en") == "May thirty-first, twenty twenty-six"
    assert words.spoken_time(time(10, 15), "pl") == "godzina dziesiąta piętnaście"
    assert words.spoken_time(time(21, 1), "ru") == "двадцать один час одна минута"
    assert words.spoken_time(time(22, 0), "ru") == "двадцать два часа"
    assert words.digits("+48 4711#", "pl") == "plus cztery osiem cztery siedem jeden jeden krzyżyk"
    assert words.digits("102", "ru") == "один ноль два"
    assert words.number(42, "de") == "zweiundvierzig"  # other languages: num2words


def test_what_cannot_be_said_is_refused() -> None:
    with pytest.raises(ValueError, match="currency"):
        words.amount(Decimal(1), "JPY", "pl")
    with pytest.raises(ValueError, match="not spoken"):
        words.amount(Decimal(1), "EUR", "de")
    with pytest.raises(ValueError, match="not an amount"):
        words.parse_amount("12 zł")
    assert not words.supported("de", "amount") and words.supported("de", "number")
