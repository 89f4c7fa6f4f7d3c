"""The sms and email nodes during a call, through the real server: rendered templates queued in the
outbox with one row per send (a node passed twice queues twice; the same send never twice), a number
or address that is none is the node's ``error`` outcome, and the e-mail carries the files the call
left (here a voicemail)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from fsivr.config import Config
from fsivr.store.models import OutboxRow
from fsivr.testing import Speech
from fsivr.testing.harness import Harness, Placed, running

BUNDLE = """
mailboxes:
  - {box: office}
scenarios:
  - scenario: thanks
    numbers: ["6001"]
    start: m
    nodes:
      m: {type: menu, text: "Press 1 for an SMS", options: {"1": s}, max_attempts: 1, timeout: bye, invalid: bye}
      s: {type: sms, to: ["{{ caller }}", "+48 600 100 101"], text: "You pressed {{ digits }} at {{ number }}",
          next: again}
      again: {type: menu, text: "Again?", options: {"1": s}, max_attempts: 1, timeout: bye, invalid: bye}
      bye: {type: hangup}
  - scenario: bad
    numbers: ["6002"]
    start: s
    nodes:
      s: {type: sms, to: "{{ caller }}", text: "Hello", next: bye, error: e}
      e: {type: email, to: "{{ caller }}", subject: "x", next: bye, error: bye}
      bye: {type: hangup}
  - scenario: vm-mail
    numbers: ["6003"]
    start: vm
    nodes:
      vm: {type: voicemail, box: office, text: "Speak", next: mail}
      mail: {type: email, to: ["boss@example.com"], subject: "Message from {{ caller }}",
             body: "{{ voicemail_seconds }} s in {{ voicemail_box }}", attach: [voicemail, recording], next: bye}
      bye: {type: hangup}
"""


@pytest.fixture(scope="module")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    cfg = Config()
    cfg.media_dir = str(tmp_path_factory.mktemp("media"))
    cfg.default_region = "PL"
    with running(BUNDLE, config=cfg) as harness:
        yield harness


def queued(harness: Harness, placed: Placed) -> list[OutboxRow]:
    uuid = placed.result.uuid
    return harness.store.run(lambda s: list(s.scalars(
        select(OutboxRow).where(OutboxRow.call_uuid == uuid).order_by(OutboxRow.id))))


def test_sms_to_each_recipient_and_again_when_passed_again(pbx: Harness) -> None:
    placed = pbx.call(number="6001", caller="+48501000201", digits=["1", "1", ""])
    assert placed.path == [("m", "1"), ("s", "next"), ("again", "1"), ("s", "next"), ("again", "timeout"),
                           ("bye", "hangup")]
    rows = queued(pbx, placed)
    assert [(r.payload["to"], r.payload["text"]) for r in rows] == [
        ("+48501000201", "You pressed 1 at 6001"), ("+48600100101", "You pressed 1 at 6001")] * 2
    assert len({r.idempotency_key for r in rows}) == 4
    assert all(r.idempotency_key.startswith(f"call:{placed.result.uuid}:s:") for r in rows)


def test_no_number_or_address_is_the_error_outcome(pbx: Harness) -> None:
    for caller in ("", "not-a-number"):
        placed = pbx.call(number="6002", caller=caller)
        assert placed.path == [("s", "error"), ("e", "error"), ("bye", "hangup")]
        assert placed.record is not None
        assert placed.record["path"][0]["detail"]["error"]
        assert queued(pbx, placed) == []


def test_the_email_carries_the_voicemail_left_on_this_call(pbx: Harness) -> None:
    placed = pbx.call(number="6003", caller="+48501000202", speech=[Speech(talk=3.0, then="key", key="*")])
    assert placed.path == [("vm", "next"), ("mail", "next"), ("bye", "hangup")]
    [mail] = queued(pbx, placed)
    assert mail.payload["subject"] == "Message from +48501000202"
    assert mail.payload["text"] == "3 s in office"
    [attachment] = mail.payload["attachments"]
    assert Path(attachment["path"]).is_file() and attachment["content_type"] == "audio/wav"
    assert placed.record is not None and placed.record["path"][1]["detail"]["not_attached"] == ["recording"]
