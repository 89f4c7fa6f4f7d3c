"""The say node through the socket: words rendered by espeak-ng and played as a file (Polish and
Russian forms), FreeSWITCH's say application where the configuration says its module is installed
(and words where that module cannot say it right), and a value that is not a number takes error."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from fsivr.config import Config
from fsivr.testing.harness import Placed, running

NOW = datetime(2026, 11, 23, 10, tzinfo=UTC)

BUNDLE = """
scenarios:
  - scenario: debt
    numbers: ["900"]
    start: amount
    nodes:
      amount: {type: set, variables: {debt: "2000", cents: "21.22"}, next: pl}
      pl: {type: say, kind: amount, value: "{{ debt }}", currency: PLN, language: pl, next: ru}
      ru: {type: say, kind: amount, value: "{{ debt }}", currency: RUB, language: ru, next: cents}
      cents: {type: say, kind: amount, value: "{{ cents }}", currency: PLN, language: pl, next: people}
      people: {type: say, kind: number, value: "22", gender: f, language: ru, next: digits}
      digits: {type: say, kind: digits, value: "{{ caller }}", language: pl, next: day}
      day: {type: say, kind: date, value: "2026-12-01", language: ru, timezone: Europe/Moscow, next: bye}
      bye: {type: hangup}
  - scenario: clock
    numbers: ["902"]
    start: now
    nodes:
      now: {type: say, kind: datetime, value: "", language: pl, timezone: Europe/Warsaw, next: at}
      at: {type: say, kind: time, value: "21:01", language: ru, next: when}
      when: {type: say, kind: date, value: "2027-03-29T01:30:00+02:00", language: en,
             timezone: America/New_York, next: bye}
      bye: {type: hangup}
  - scenario: bad
    numbers: ["901"]
    start: s
    nodes:
      s: {type: say, kind: number, value: "{{ caller_name }}", language: pl, next: bye, error: sorry}
      sorry: {type: play, text: "Sorry", next: bye}
      bye: {type: hangup}
"""


def said(placed: Placed) -> dict[str, str]:
    assert placed.record is not None
    return {s["node"]: (s["detail"] or {}).get("said", "") for s in placed.record["path"]}


def soxi(path: str, option: str) -> str:
    return subprocess.run(["soxi", option, path], capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    cfg = Config()
    cfg.prompts_dir = str(tmp_path)
    return cfg


def test_words_are_rendered_by_tts_and_played(config: Config, tmp_path: Path) -> None:
    with running(BUNDLE, config=config) as harness:
        placed = harness.call(number="900", caller="+48501000001", at=NOW)
    assert [o for _, o in placed.path] == ["next"] * 7 + ["hangup"]
    assert said(placed) == {
        "amount": "", "bye": "",
        "pl": "dwa tysiące złotych", "ru": "две тысячи рублей",
        "cents": "dwadzieścia jeden złotych dwadzieścia dwa grosze",
        "people": "двадцать две",
        "digits": "plus cztery osiem pięć zero jeden zero zero zero zero zero jeden",
        "day": "первое декабря две тысячи двадцать шестого года",
    }
    played = [a.arg for a in placed.result.apps if a.name == "playback"]
    assert len(played) == 6 and len(set(played)) == 6
    for path in played:
        # Rendered under prompts/_tts, as FreeSWITCH plays it: 16-bit mono at the configured rate.
        assert path.startswith(str(tmp_path / "_tts")) and Path(path).stat().st_size > 1000
        assert (soxi(path, "-c"), soxi(path, "-r")) == ("1", "8000")
    # Nothing was spoken by FreeSWITCH's own TTS: the voices of pl and ru render here.
    assert not any((a.arg or "").startswith("say:") for a in placed.result.apps if a.name == "playback")


def test_the_same_text_is_rendered_once(config: Config, tmp_path: Path) -> None:
    with running(BUNDLE, config=config) as harness:
        first = harness.call(number="900", at=NOW)
        files = {p: p.stat().st_mtime_ns for p in (tmp_path / "_tts").iterdir()}
        second = harness.call(number="900", at=NOW)
    assert [a.arg for a in first.result.apps if a.name == "playback"] == \
        [a.arg for a in second.result.apps if a.name == "playback"]
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "_tts").iterdir()} == files


def test_freeswitch_say_where_its_module_is_configured(config: Config) -> None:
    config.say_modules = ["ru"]
    with running(BUNDLE, config=config) as harness:
        placed = harness.call(number="900", at=NOW)
    says = [a.arg for a in placed.result.apps if a.name == "say"]
    # mod_say_ru: rubles (channel variable currency=ruble), a feminine number (gender=female), the
    # date as an epoch in the channel's timezone. Polish stays with words: not configured.
    assert says == ["ru:ru currency pronounced 2000.00", "ru:ru number pronounced 22",
                    "ru:ru current_date pronounced 1796072400"]
    multisets = " ".join(a.arg or "" for a in placed.result.apps if a.name == "multiset")
    assert "currency=ruble" in multisets and "gender=female" in multisets
    assert "timezone=Europe/Moscow" in multisets
    assert said(placed)["pl"] == "dwa tysiące złotych"


def test_what_the_module_cannot_say_goes_to_words(config: Config) -> None:
    # mod_say_pl says "dollars" after any amount: a Polish amount is words even when pl is configured.
    # Digits it reads one sound file each (digits/<c>): a "+" has none, so a number with one is words.
    config.say_modules = ["pl"]
    with running(BUNDLE, config=config) as harness:
        placed = harness.call(number="900", caller="4711", at=NOW)
        plus = harness.call(number="900", caller="+4711", at=NOW)
    says = [a.arg for a in placed.result.apps if a.name == "say"]
    assert says == ["pl:pl number iterated 4711"]
    assert said(placed)["pl"] == "dwa tysiące złotych"
    assert not [a for a in plus.result.apps if a.name == "say"]
    assert said(plus)["digits"] == "plus cztery siedem jeden jeden"


def test_dates_and_times_in_the_node_time_zone(config: Config) -> None:
    with running(BUNDLE, config=config) as harness:
        placed = harness.call(number="902", at=NOW)
    assert said(placed) == {
        # An empty value is the call's time (10:00 UTC is 11:00 in Warsaw).
        "now": "dwudziestego trzeciego listopada dwa tysiące dwudziestego szóstego roku, godzina jedenasta",
        "at": "двадцать один час одна минута",
        # 01:30 in Warsaw is still the 28th in New York.
        "when": "March twenty-eighth, twenty twenty-seven",
        "bye": "",
    }


def test_a_value_that_is_not_a_number_takes_error(config: Config, caplog: pytest.LogCaptureFixture) -> None:
    with running(BUNDLE, config=config) as harness:
        caplog.clear()
        placed = harness.call(number="901", caller_name="ACME", at=NOW)
    assert placed.path == [("s", "error"), ("sorry", "next"), ("bye", "hangup")]
    assert placed.record is not None
    assert placed.record["path"][0]["detail"] == {"error": "'ACME' is not a number"}
    assert [r.getMessage() for r in caplog.records if "ACME" in r.getMessage()] == [
        f"call {placed.result.uuid}: say s: 'ACME' is not a number"]
