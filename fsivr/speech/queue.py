"""What a caller waiting in a queue hears: the place in line and the estimated wait, per language.

Polish, Russian and English sentences, with the numbers in words from each language's grammar
(fsivr.speech.pl/.ru/.en: "dwie minuty", "пять минут"); other languages get the English sentences
(there is nobody to check a translation).
"""

from __future__ import annotations

from fsivr.speech import en, pl, ru
from fsivr.speech.forms import Gender, Noun
from fsivr.speech.words import base_language

_MINUTE = {"pl": Noun(Gender.FEMININE, "minuta", "minuty", "minut"),
           "ru": Noun(Gender.FEMININE, "минута", "минуты", "минут"),
           "en": Noun(Gender.MASCULINE, "minute", "minutes", "minutes")}
_GRAMMAR = {"pl": pl, "ru": ru, "en": en}
_POSITION = {"pl": "Twoje miejsce w kolejce: {n}.",
             "ru": "Ваш номер в очереди: {n}.",
             "en": "You are number {n} in line."}
_NEXT = {"pl": "Jesteś następny w kolejce.", "ru": "Вы следующий в очереди.", "en": "You are next in line."}
_WAIT = {"pl": "Szacowany czas oczekiwania to mniej więcej {m}.",
         "ru": "Примерное время ожидания — {m}.",
         "en": "The estimated waiting time is about {m}."}
_SHORT = {"pl": "Szacowany czas oczekiwania to mniej niż minutę.",
          "ru": "Примерное время ожидания — меньше минуты.",
          "en": "The estimated waiting time is less than a minute."}
#: Thin history: no number we could stand behind.
_UNKNOWN = {"pl": "Prosimy o cierpliwość, konsultant odbierze tak szybko, jak to możliwe.",
            "ru": "Пожалуйста, оставайтесь на линии, оператор ответит как можно скорее.",
            "en": "Please stay on the line, an agent will answer as soon as possible."}


def _lang(language: str) -> str:
    lang = base_language(language)
    return lang if lang in _GRAMMAR else "en"


def position_sentence(position: int, language: str) -> str:
    lang = _lang(language)
    if position == 1:
        return _NEXT[lang]
    return _POSITION[lang].format(n=_GRAMMAR[lang].cardinal(position, Gender.MASCULINE))


def wait_sentence(seconds: int | None, language: str) -> str:
    """"about N minutes" (rounded up to whole minutes); None → the thin-history wording."""
    lang = _lang(language)
    if seconds is None:
        return _UNKNOWN[lang]
    if seconds < 60:
        return _SHORT[lang]
    minutes = -(-seconds // 60)
    return _WAIT[lang].format(m=_GRAMMAR[lang].counted(minutes, _MINUTE[lang]))
