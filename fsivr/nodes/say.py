"""say: speak a number, an amount of money, digits, a date or a time from a template, in a language.

Two ways, chosen per language by the configuration (``say_modules``):
- FreeSWITCH's ``say`` application, where mod_say_<lang> and the language's sound files are
  installed: the number is assembled from recorded words on the switch;
- otherwise the value is turned into words here (fsivr.speech.words, with each language's grammar:
  "dwa złote / pięć złotych", "две тысячи рублей") and spoken by the language's TTS voice.
What a say module cannot say right goes the second way too (``FS_SAY`` says what each can).
"""

from __future__ import annotations

import logging
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fsivr.engine import templates
from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.speech import words
from fsivr.speech.forms import Gender

log = logging.getLogger(__name__)

#: What the say modules of FreeSWITCH v1.11.1 (src/mod/say/mod_say_<lang>/) say correctly:
#: kind, or kind:CURRENCY for amounts. mod_say_pl's pl_say_money says "dollar"/"dollars" after
#: any amount (1 vs. the rest), so Polish amounts are never its job; mod_say_ru's ru_say_money
#: knows rubles and dollars (its channel variable ``currency``); mod_say_en's money is dollars.
FS_SAY: dict[str, frozenset[str]] = {
    "ru": frozenset({"number", "digits", "amount:RUB", "amount:USD", "date", "time", "datetime"}),
    "pl": frozenset({"number", "digits", "date", "time", "datetime"}),
    "en": frozenset({"number", "digits", "amount:USD", "date", "time", "datetime"}),
}
#: switch_ivr_say's say_type and say_method per kind (switch_types.h SST_* / SSM_* names).
_FS_TYPES = {"number": ("number", "pronounced"), "digits": ("number", "iterated"),
             "amount": ("currency", "pronounced"), "date": ("current_date", "pronounced"),
             "time": ("current_time", "pronounced"), "datetime": ("current_date_time", "pronounced")}
#: mod_say_ru reads gender and currency from channel variables (run_callback in mod_say_ru.c),
#: not from the application's gender argument.
_RU_GENDER = {Gender.MASCULINE: "male", Gender.FEMININE: "female", Gender.NEUTER: "it"}
_RU_CURRENCY = {"RUB": "ruble", "USD": "dollar"}
#: mod_say_pl reads the gender argument (play_group), and has feminine words only ("digits/N_f").
_PL_GENDER = {Gender.MASCULINE: "masculine", Gender.FEMININE: "feminine"}
#: mod_say_pl and mod_say_ru take at most nine digits (pl_say_general_count, ru_say_count).
_FS_MAX_NUMBER = 999_999_999


def _check_template(value: str) -> str:
    try:
        templates.check(value)
    except templates.TemplateProblem as exc:
        raise ValueError(str(exc)) from None
    return value


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


@register
class Say(Node):
    type = "say"
    summary = "speak a number, amount, digits, date or time from a variable, in the call's language"
    params = {
        "kind": Param(str, required=True, choices=words.KINDS,
                      doc="what the value is: number, amount (of money), digits (one by one), date, time, datetime"),
        "value": Param(str, required=True, check=_check_template,
                       doc="template giving the value, e.g. '{{ debt }}'; dates and times ISO 8601 "
                           "(empty: now)"),
        "language": Param(str, doc="language to speak (pl, ru, en...); default: the configured language"),
        "currency": Param(str, doc="ISO code of an amount's currency: PLN, RUB, EUR, USD"),
        "gender": Param(str, default="m", choices=("m", "f", "n"),
                        doc="grammatical gender of what a number counts (jedna osoba: f)"),
        "timezone": Param(str, default="UTC", check=_check_timezone,
                          doc="time zone dates and times are spoken in"),
        "voice": Param(str, doc="TTS voice (overrides the language's voice)"),
    }
    outcomes = ("next",)
    waits = True

    def compile(self) -> None:
        kind, language, currency = self.p["kind"], self.p["language"], self.p["currency"]
        if currency:
            self.p["currency"] = currency = currency.upper()
        if kind == "amount" and not currency:
            raise self.error("an amount needs its currency", "currency")
        if kind != "amount" and currency:
            raise self.error("only an amount has a currency", "currency")
        if language:
            if not words.supported(language, kind):
                raise self.error(f"cannot say a {kind} in {language!r}", "language")
            if currency and currency not in words.currencies(language):
                raise self.error(f"no words for {currency} in {language!r} (known: "
                                 f"{', '.join(words.currencies(language))})", "currency")
        self.gender = Gender(self.p["gender"])
        self.zone = ZoneInfo(self.p["timezone"])

    def run(self, call: Call) -> str:
        language = self.p["language"] or call.services.config.language
        lang = words.base_language(language)
        on_switch = lang in {words.base_language(m) for m in call.services.config.say_modules}
        try:
            value = self._value(templates.render(self.p["value"], call.vars).strip(), call)
            on_switch = on_switch and self._fs_can(lang, value)
            spoken = "" if on_switch else self._words(value, language)
        except ValueError as exc:
            # A value that is not what the kind says (a lookup gave "n/a" for an amount) is the
            # scenario's data, not a fault of ours: one line, and the node's error outcome.
            log.warning("call %s: say %s: %s", call.uuid, self.id, exc)
            call.step_detail["error"] = str(exc)
            return "error"
        call.answer()
        if on_switch:
            self._say_on_switch(call, lang, value)
        else:
            call.step_detail["said"] = spoken
            call.play(call.playable(text=spoken, language=language, voice=self.p["voice"]))
        return "next"

    # ---- the value ----------------------------------------------------------------------------

    def _value(self, text: str, call: Call) -> Any:
        kind = self.p["kind"]
        if kind == "digits":
            return text
        if kind == "number":
            try:
                amount = words.parse_amount(text)
            except ValueError:
                raise ValueError(f"{text!r} is not a number") from None
            if amount != amount.to_integral_value():
                raise ValueError(f"{text!r} is not a whole number")
            return int(amount)
        if kind == "amount":
            return words.parse_amount(text)
        try:
            if kind == "time" and text and ":" in text[:3]:
                # A bare time of day ("10:15") is today's, in the node's time zone.
                today = call.now().astimezone(self.zone).date()
                moment = datetime.combine(today, time.fromisoformat(text))
            else:
                moment = datetime.fromisoformat(text) if text else call.now()
        except ValueError:
            raise ValueError(f"{text!r} is not an ISO 8601 {kind}") from None
        # A time without an offset is the node's time zone's; one with an offset is spoken there.
        return moment.replace(tzinfo=self.zone) if moment.tzinfo is None else moment.astimezone(self.zone)

    def _words(self, value: Any, language: str) -> str:
        kind = self.p["kind"]
        if kind == "number":
            return words.number(value, language, self.gender)
        if kind == "amount":
            return words.amount(value, self.p["currency"], language)
        if kind == "digits":
            spoken = words.digits(value, language)
            if not spoken:
                raise ValueError(f"{value!r} has no digits to say")
            return spoken
        if kind == "date":
            return words.spoken_date(_date(value), language)
        if kind == "time":
            return words.spoken_time(_time(value), language)
        return words.spoken_datetime(value, language)

    # ---- FreeSWITCH's say ---------------------------------------------------------------------

    def _fs_can(self, lang: str, value: Any) -> bool:
        kind = self.p["kind"]
        able = FS_SAY.get(lang, frozenset())
        if (f"amount:{self.p['currency']}" if kind == "amount" else kind) not in able:
            return False
        if kind == "number":
            if not 0 <= value <= _FS_MAX_NUMBER:
                return False
            if lang == "pl" and self.gender not in _PL_GENDER:
                return False
        if kind == "digits":
            return value.isdigit()
        if kind in ("date", "time", "datetime"):
            # The modules take seconds since 1970; 0 or less means "now" to them (pl_say_time).
            return value.timestamp() > 0
        return True

    def _say_on_switch(self, call: Call, lang: str, value: Any) -> None:
        kind = self.p["kind"]
        say_type, method = _FS_TYPES[kind]
        gender = ""
        channel: dict[str, str] = {}
        if lang == "ru":
            channel["gender"] = _RU_GENDER[self.gender]
            if kind == "amount":
                channel["currency"] = _RU_CURRENCY[self.p["currency"]]
        elif lang == "pl" and kind == "number":
            gender = _PL_GENDER[self.gender]
        if kind in ("date", "time", "datetime"):
            # The modules take seconds since the epoch and speak them in the channel's timezone
            # variable (ru_say_time / pl_say_time: switch_time_exp_tz_name).
            channel["timezone"] = self.p["timezone"]
            text = str(int(value.timestamp()))
        elif kind == "amount":
            text = f"{value:.2f}"
        else:
            text = str(value)
        if channel:
            call.set_channel_vars(channel)
        call.step_detail["said"] = f"say {lang} {say_type} {text}"
        call.say(f"{lang}:{lang}", say_type, method, text, gender)


def _date(value: datetime) -> date:
    return value.date()


def _time(value: datetime) -> time:
    return value.time()

