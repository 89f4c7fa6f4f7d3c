"""What an agent hears in the agent IVR (log-in, the status menu, changing the PIN), per language.

Polish, Russian and English sentences; other languages get the English ones (there is nobody to
check a translation), as fsivr.speech.queue does.
"""

from __future__ import annotations

from fsivr.speech.words import base_language

_TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "ask_agent": "Enter your agent number, then press the hash key.",
        "ask_pin": "Enter your PIN, then press the hash key.",
        "wrong": "The agent number or the PIN is wrong.",
        "locked": "Too many wrong attempts. Please try again later.",
        "logged_in": "You are logged in.",
        "menu": "To end this call, press 1. To change your PIN, press 2. To take a break, press 3. "
                "To become not ready, press 4. To log out, press star.",
        "new_pin": "Enter your new PIN, {min} to 16 digits, then press the hash key.",
        "repeat_pin": "Enter the new PIN again, then press the hash key.",
        "pin_changed": "Your PIN has been changed.",
        "pin_mismatch": "The two entries do not match. Your PIN has not been changed.",
        "pin_invalid": "A PIN has {min} to 16 digits. Your PIN has not been changed.",
        "available": "Your status is: available.",
        "break": "Your status is: on a break.",
        "not_ready": "Your status is: not ready.",
        "logged_out": "You are logged out.",
        "goodbye": "Goodbye.",
    },
    "pl": {
        "ask_agent": "Wprowadź swój numer agenta i naciśnij krzyżyk.",
        "ask_pin": "Wprowadź PIN i naciśnij krzyżyk.",
        "wrong": "Numer agenta lub PIN jest nieprawidłowy.",
        "locked": "Zbyt wiele nieudanych prób. Spróbuj ponownie później.",
        "logged_in": "Zalogowano.",
        "menu": "Aby zakończyć połączenie, naciśnij 1. Aby zmienić PIN, naciśnij 2. Aby zrobić przerwę, "
                "naciśnij 3. Aby przejść w stan niegotowości, naciśnij 4. Aby się wylogować, naciśnij gwiazdkę.",
        "new_pin": "Wprowadź nowy PIN, od {min} do 16 cyfr, i naciśnij krzyżyk.",
        "repeat_pin": "Wprowadź nowy PIN jeszcze raz i naciśnij krzyżyk.",
        "pin_changed": "PIN został zmieniony.",
        "pin_mismatch": "Wpisane numery się różnią. PIN nie został zmieniony.",
        "pin_invalid": "PIN ma od {min} do 16 cyfr. PIN nie został zmieniony.",
        "available": "Twój status: dostępny.",
        "break": "Twój status: przerwa.",
        "not_ready": "Twój status: niegotowy.",
        "logged_out": "Wylogowano.",
        "goodbye": "Do widzenia.",
    },
    "ru": {
        "ask_agent": "Введите номер агента и нажмите решётку.",
        "ask_pin": "Введите PIN-код и нажмите решётку.",
        "wrong": "Неверный номер агента или PIN-код.",
        "locked": "Слишком много неудачных попыток. Попробуйте позже.",
        "logged_in": "Вы вошли в систему.",
        "menu": "Чтобы завершить звонок, нажмите 1. Чтобы сменить PIN-код, нажмите 2. Чтобы уйти на перерыв, "
                "нажмите 3. Чтобы перейти в статус «не готов», нажмите 4. Чтобы выйти из системы, нажмите звёздочку.",
        "new_pin": "Введите новый PIN-код, от {min} до 16 цифр, и нажмите решётку.",
        "repeat_pin": "Введите новый PIN-код ещё раз и нажмите решётку.",
        "pin_changed": "PIN-код изменён.",
        "pin_mismatch": "Введённые коды не совпадают. PIN-код не изменён.",
        "pin_invalid": "PIN-код содержит от {min} до 16 цифр. PIN-код не изменён.",
        "available": "Ваш статус: доступен.",
        "break": "Ваш статус: перерыв.",
        "not_ready": "Ваш статус: не готов.",
        "logged_out": "Вы вышли из системы.",
        "goodbye": "До свидания.",
    },
}
#: Every key each language must have (the tests compare the languages against it).
KEYS = frozenset(_TEXTS["en"])


def sentence(key: str, language: str, **values: object) -> str:
    lang = base_language(language)
    texts = _TEXTS.get(lang, _TEXTS["en"])
    return texts[key].format(**values)


def status_key(status: str, reason: str | None) -> str:
    """The sentence that says an agent's status: mod_callcenter's status, with the store's reason
    telling a break (key 3) from not ready (key 4), which are both ``On Break`` there."""
    if status == "Logged Out":
        return "logged_out"
    if status == "On Break":
        return "not_ready" if reason == "not_ready" else "break"
    return "available"
