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

# --- the place-keeping callback (queue node's callback_key) ---
_CALLBACK_OFFER = {"pl": "Aby zamówić oddzwonienie bez utraty miejsca w kolejce, naciśnij {key}.",
                   "ru": "Чтобы мы перезвонили вам без потери места в очереди, нажмите {key}.",
                   "en": "To be called back without losing your place in line, press {key}."}
_CALLBACK_CONFIRM = {"pl": "Oddzwonimy do Ciebie. Zachowujesz swoje miejsce w kolejce. Do usłyszenia.",
                     "ru": "Мы вам перезвоним. Ваше место в очереди сохранено. До свидания.",
                     "en": "We will call you back. You keep your place in line. Goodbye."}
_CALLBACK_AGENT = {"pl": "Łączę z klientem, który prosił o oddzwonienie.",
                   "ru": "Соединяю с клиентом, который просил перезвонить.",  # noqa: RUF001 (Russian)
                   "en": "Connecting you to a customer who asked to be called back."}
_KEY_NAMES = {"pl": {"*": "gwiazdkę", "#": "krzyżyk"}, "ru": {"*": "звёздочку", "#": "решётку"},
              "en": {"*": "star", "#": "hash"}}


def callback_offer_sentence(key: str, language: str) -> str:
    """"press 5 to be called back without losing your place" (said after the place in line)."""
    lang = _lang(language)
    return _CALLBACK_OFFER[lang].format(key=_KEY_NAMES[lang].get(key, key))


def callback_confirm_sentence(language: str) -> str:
    """What the caller hears after pressing the callback key, before the call ends."""
    return _CALLBACK_CONFIRM[_lang(language)]


def callback_agent_sentence(language: str) -> str:
    """What the agent hears on answering the place-keeping entry, before the caller is dialled."""
    return _CALLBACK_AGENT[_lang(language)]
