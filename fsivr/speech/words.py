"""Numbers, amounts, digits, dates and times as the words a TTS voice reads, per language.

Polish, Russian and English have their grammar here (fsivr.speech.pl, .ru, .en); other languages
get plain numbers and digits from num2words, and nothing else (their amounts and dates would need
grammar nobody has checked).
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from types import ModuleType

from num2words import CONVERTER_CLASSES, num2words

from fsivr.speech import en, pl, ru
from fsivr.speech.forms import Gender

#: Languages whose amounts, dates and times we can say.
GRAMMARS: dict[str, ModuleType] = {"pl": pl, "ru": ru, "en": en}
#: Kinds of value the say node speaks.
KINDS = ("number", "amount", "digits", "date", "time", "datetime")
#: Digits and what a phone keypad adds, as read out one by one.
_KEYS = {"pl": {"+": "plus", "*": "gwiazdka", "#": "krzyżyk"},
         "ru": {"+": "плюс", "*": "звёздочка", "#": "решётка"},
         "en": {"+": "plus", "*": "star", "#": "pound"}}


def base_language(language: str) -> str:
    """"pl-PL", "pl_PL" → "pl"."""
    return language.replace("_", "-").split("-", 1)[0].lower()


def supported(language: str, kind: str) -> bool:
    """True if ``kind`` can be said in ``language``."""
    lang = base_language(language)
    if lang in GRAMMARS:
        return kind in KINDS
    return kind in ("number", "digits") and lang in CONVERTER_CLASSES


def currencies(language: str) -> tuple[str, ...]:
    grammar = GRAMMARS.get(base_language(language))
    return tuple(grammar.CURRENCIES) if grammar else ()


def number(value: int, language: str, gender: Gender = Gender.MASCULINE) -> str:
    grammar = GRAMMARS.get(base_language(language))
    if grammar is not None:
        return str(grammar.cardinal(value, gender))
    return str(num2words(value, lang=_num2words_lang(language)))


def amount(value: Decimal, currency: str, language: str) -> str:
    return str(_grammar(language).amount(value, currency.upper()))


def digits(text: str, language: str) -> str:
    """Each digit on its own ("4 7 1 1"); +, * and # by name; anything else is skipped."""
    lang = base_language(language)
    grammar = GRAMMARS.get(lang)
    keys = _KEYS.get(lang, {})
    out = []
    for char in text:
        if char.isdigit():
            d = int(char)
            out.append(grammar.digit(d) if grammar else str(num2words(d, lang=_num2words_lang(language))))
        elif char in keys:
            out.append(keys[char])
    return " ".join(out)


def spoken_date(day: date, language: str) -> str:
    return str(_grammar(language).spoken_date(day))


def spoken_time(moment: time, language: str) -> str:
    return str(_grammar(language).spoken_time(moment))


def spoken_datetime(moment: datetime, language: str) -> str:
    return f"{spoken_date(moment.date(), language)}, {spoken_time(moment.time(), language)}"


def parse_amount(text: str) -> Decimal:
    """An amount as a template gives it: "1234.5", "1 234,50", "-3"."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not an amount") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not an amount")
    return value


def _grammar(language: str) -> ModuleType:
    grammar = GRAMMARS.get(base_language(language))
    if grammar is None:
        raise ValueError(f"amounts, dates and times are not spoken in {language!r} "
                         f"(only in {', '.join(sorted(GRAMMARS))})")
    return grammar


def _num2words_lang(language: str) -> str:
    lang = base_language(language)
    if lang not in CONVERTER_CLASSES:
        raise ValueError(f"numbers are not spoken in {language!r}")
    return lang
