"""After-call chains through the real server: once the caller has hung up, the scenario's after_call
nodes run with the finished call's variables (answered, who answered, duration, first call from this
number) — the SMS to first-time answered callers reaches a real HTTP gateway through the worker loop,
the missed-call e-mail is queued only for calls nobody answered; nodes that need the caller on the
line are refused there at validation."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from fsivr.config import Config
from fsivr.engine.scenario import ValidationFailed, compile_scenario
from fsivr.scenario.bundle import parse_text
from fsivr.store.models import OutboxRow
from fsivr.testing import Target
from fsivr.testing.harness import Harness, Placed, running
from fsivr.worker.loop import Worker
from fsivr.worker.sms import SmsRules, SmsSender
from fsivr.worker.sms_http import HttpGateway, HttpGatewaySettings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "worker"))
from farends import Gateway  # the worker tests' real HTTP SMS gateway

BUNDLE = """
accounts:
  - {user: "101", password: "pw-101", name: "Anna", extension: "101"}
scenarios:
  - scenario: thanks
    numbers: ["3001"]
    start: d
    after_call: known
    nodes:
      d: {type: dial, targets: [sip:101], ring_timeout: 10, answered: bye, no_answer: bye, busy: bye, failed: bye}
      bye: {type: hangup}
      known: {type: set, variables: {summary: "{{ duration }} s, answered by {{ answered_by or 'nobody' }}"},
              next: welcome}
      welcome:
        type: sms
        only_if: first_call and answered
        to: "{{ caller }}"
        text: "Thank you for calling ACME. {{ answered_by }} will be glad to help again."
        next: missed
      missed:
        type: email
        only_if: not answered
        to: sales@example.com
        subject: "Missed call from {{ caller }}"
        body: "{{ caller }} called {{ number }} at {{ arrived_at }} ({{ duration }} s); nobody answered."
"""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pbx(request: pytest.FixtureRequest) -> Iterator[Harness]:
    cfg = Config()
    cfg.default_region = "PL"
    url = None if request.param == "sqlite" else request.getfixturevalue("pg_module_database")
    with running(BUNDLE, database_url=url, config=cfg) as harness:
        yield harness


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    gw = Gateway()
    gw.start()
    yield gw
    gw.stop()


def queued(harness: Harness, placed: Placed) -> list[OutboxRow]:
    uuid = placed.result.uuid
    return harness.store.run(lambda s: list(s.scalars(select(OutboxRow).where(OutboxRow.call_uuid == uuid))))


def call(harness: Harness, caller: str, answered: bool) -> Placed:
    target = Target("answered", answer_after=2.0, talk=20.0) if answered else Target("no_answer")
    return harness.call(number="3001", caller=caller, targets={"sip:101": target})


def test_the_after_call_sms_goes_only_to_first_time_answered_callers(pbx: Harness, gateway: Gateway) -> None:
    first = call(pbx, "+48501000101", answered=True)
    assert first.path == [("d", "answered"), ("bye", "hangup"), ("known", "next"), ("welcome", "next"),
                          ("missed", "next")]
    [sms] = queued(pbx, first)
    assert (sms.kind, sms.payload["to"]) == ("sms", "+48501000101")

    again = call(pbx, "+48501000101", answered=True)  # not a first call any more
    unanswered = call(pbx, "+48501000102", answered=False)  # a first call nobody answered
    later = call(pbx, "+48501000102", answered=True)  # answered, but not a first call
    assert queued(pbx, again) == [] and queued(pbx, later) == []
    assert [r.kind for r in queued(pbx, unanswered)] == ["email"]
    for placed in (again, later):
        assert placed.record is not None
        assert placed.record["path"][3]["detail"] == {"skipped": "only_if 'first_call and answered' is false"}

    worker = Worker(pbx.store, {"sms": SmsSender(HttpGateway(HttpGatewaySettings(
        url=gateway.url + "/send", body=Config.sms_http_body, timeout=10)), SmsRules(default_region="PL"))})
    while worker.run_once():
        pass
    [request] = gateway.requests
    assert request.json()["to"] == "+48501000101"
    assert request.json()["text"] == "Thank you for calling ACME. sip:101 will be glad to help again."


def test_a_first_call_is_judged_on_the_number_in_e164_not_on_its_spelling(pbx: Harness) -> None:
    # one number, sent by the trunk internationally with 00, then in E.164, then nationally
    first = call(pbx, "0048501000105", answered=True)
    assert [r.kind for r in queued(pbx, first)] == ["sms"]
    for spelling in ("+48501000105", "501000105"):
        again = call(pbx, spelling, answered=True)
        assert queued(pbx, again) == [], spelling
        assert again.record is not None
        assert again.record["path"][3]["detail"] == {"skipped": "only_if 'first_call and answered' is false"}


def test_the_finished_call_is_what_templates_see(pbx: Harness) -> None:
    placed = call(pbx, "+48501000103", answered=False)
    [mail] = queued(pbx, placed)
    assert mail.payload["subject"] == "Missed call from +48501000103"
    assert "; nobody answered." in mail.payload["text"]
    # The after-call chain ran once the caller was gone: nothing was sent to the channel for it.
    assert not [a for a in placed.result.apps if "summary" in (a.arg or "")]


@pytest.mark.parametrize("node", ["{type: play, text: Bye}", "{type: voicemail, box: office}",
                                  "{type: dial, targets: [sip:101]}", "{type: goto, scenario: other}"])
def test_nodes_that_need_the_caller_are_refused_in_after_call(node: str) -> None:
    text = f"""
mailboxes: [{{box: office}}]
scenarios:
  - scenario: s
    numbers: ["1"]
    start: a
    after_call: note
    nodes:
      a: {{type: hangup}}
      note: {{type: set, variables: {{x: "1"}}, next: live}}
      live: {node}
"""
    [doc] = parse_text(text).scenarios
    with pytest.raises(ValidationFailed) as failed:
        compile_scenario(doc.spec)
    assert [str(e) for e in failed.value.errors if "after_call" in str(e)][:1] == [
        f"s.nodes.live: a {doc.spec.nodes['live']['type']} node needs the caller on the line; it cannot run in "
        "the after_call chain (only nodes that need no live channel can: docs/nodes.md names them)"]
    assert "cannot run in the after_call chain" in str(failed.value)
