"""SMS as SIP MESSAGE through FreeSWITCH's ``chat`` API over inbound ESL, against the simulator.

The far end is the simulator's inbound ESL port with its mod_sofia/mod_dptools emulation
(fsivr/testing/mods/sofia.py): ``chat`` answers as chat_api_function does (``Sent`` /
``Error! Message Not Sent`` / ``Invalid``, no trailing LF, trace 16) after splitting the argument
the way FreeSWITCH does (switch_separate_string), and ``Sent`` only for a registered phone — so
these tests prove that what FreeSWITCH reads back is exactly the text that was queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from fsivr.esl.inbound import InboundClient
from fsivr.store.db import Store
from fsivr.store.models import OutboxRow
from fsivr.store.outbox import RetryPolicy
from fsivr.testing import Simulator
from fsivr.testing.expand import separate_char
from fsivr.testing.inbound import InboundSwitch
from fsivr.worker.errors import PermanentFailure, SendFailed
from fsivr.worker.loop import Worker, WorkerSettings
from fsivr.worker.notify import Notifier
from fsivr.worker.sms import Sms, SmsRules, SmsSender
from fsivr.worker.sms_chat import ChatBackend, ChatSettings, chat_command, escape_field

#: The phone numbers' SIP side: the carrier's SMS gateway registers as this user, as a phone would.
GATEWAY_USER, REALM = "48501000001", "127.0.0.1"


@pytest.fixture
def sim() -> Simulator:
    return Simulator(("127.0.0.1", 9), time_scale=0.0, epoch=datetime(2026, 12, 1, 3, 37, 45, tzinfo=UTC))


@pytest.fixture
def switch(sim: Simulator) -> Iterator[InboundSwitch]:
    with InboundSwitch(sim=sim) as sw:
        yield sw


def _backend(sw: InboundSwitch, **kw: str) -> ChatBackend:
    host, port = sw.address
    settings = {"proto": "sip", "sender": "ivr@pbx.example", "to": "{{ to_digits }}@" + REALM}
    settings.update(kw)
    return ChatBackend(InboundClient(host, port, "ClueCon", timeout=5), ChatSettings(**settings))


@pytest.mark.parametrize("text", [
    "hello registered",
    "Price: 5|10 EUR | call 'now'",
    "line one\nline two\r\n\ttabbed",
    "  padded both ends  ",
    "back\\slash \\n not a newline \\| not a bar",
    'quotes "double" and \'single\' and an odd \' one',
    "Zażółć gęślą jaźń 😀",
])
def test_freeswitch_reads_back_exactly_the_text(sim: Simulator, switch: InboundSwitch, text: str) -> None:
    sim.register_phone(GATEWAY_USER, REALM)
    said = _backend(switch).send(Sms("+48501000001", text), "k")
    assert "Sent" in said
    [msg] = sim.chat_messages
    assert (msg.proto, msg.from_addr, msg.to_addr, msg.body, msg.content_type) == (
        "sip", "ivr@pbx.example", f"{GATEWAY_USER}@{REALM}", text, "text/plain")
    [line] = [line for _, line in switch.received if line.startswith("api chat")]
    assert "\n" not in line
    assert line == "api " + chat_command("sip", "ivr@pbx.example", f"{GATEWAY_USER}@{REALM}", text)


def test_an_unescaped_text_would_have_been_cut() -> None:
    """Why every field is escaped: FreeSWITCH would take a bare bar as the next field (the rest of
    the text becoming the content type) and trim the spaces at the ends."""
    assert separate_char("sip|a|b|  pay 5|10 EUR|x", "|", 5)[3:] == ["pay 5", "10 EUR|x"]
    assert separate_char("sip|a|b|" + escape_field("  pay 5|10 EUR|x") + "|text/plain", "|", 5)[3:] == [
        "  pay 5|10 EUR|x", "text/plain"]


def test_escape_field_leaves_plain_text_alone() -> None:
    assert escape_field("hello world") == "hello world"
    assert escape_field(" a ") == "\\sa\\s"


def test_unregistered_is_retried_until_it_is_sent(store: Store, sim: Simulator, switch: InboundSwitch) -> None:
    sw = switch
    rules = SmsRules(default_region="PL")
    got = Notifier(store, rules).sms("call:u9:sms", "501 000 001", "Your callback is booked")
    worker = Worker(store, {"sms": SmsSender(_backend(sw), rules)},
                    WorkerSettings(RetryPolicy(backoff_base=0, jitter=0)))
    assert worker.run_once()

    def row() -> OutboxRow:
        with store.session() as s:
            return s.execute(select(OutboxRow).where(OutboxRow.id == got.id)).scalar_one()

    assert row().state == "pending"
    host, port = sw.address
    assert row().last_error == f"FreeSWITCH {host}:{port}: chat to {GATEWAY_USER}@{REALM}: Error! Message Not Sent"
    sim.register_phone(GATEWAY_USER, REALM, message_status=486)  # registered, but refuses the MESSAGE
    assert worker.run_once()
    assert row().state == "pending" and not sim.chat_messages
    sim.register_phone(GATEWAY_USER, REALM)
    assert worker.run_once()
    assert row().state == "sent" and row().attempts == 3
    assert [(m.to_addr, m.body) for m in sim.chat_messages] == [(f"{GATEWAY_USER}@{REALM}", "Your callback is booked")]


def test_replies_other_than_sent(switch: InboundSwitch) -> None:
    sw = switch
    backend = _backend(sw)
    # Replies a well-formed command never gets from chat_api_function: as if the api were broken.
    sw.api["chat"] = "Invalid"
    with pytest.raises(PermanentFailure, match="Invalid"):
        backend.send(Sms("+48501000001", "x"), "k")
    sw.api["chat"] = "-ERR chat Command not found!\n"
    with pytest.raises(SendFailed, match="unexpected reply"):
        backend.send(Sms("+48501000001", "x"), "k")
    sw.stop()
    with pytest.raises(SendFailed, match="not reachable"):
        backend.send(Sms("+48501000001", "x"), "k")


def test_chat_settings_are_checked() -> None:
    client = InboundClient("127.0.0.1", 1)
    with pytest.raises(ValueError, match="sms_chat_to"):
        ChatBackend(client, ChatSettings("sip", "ivr@pbx", ""))
    with pytest.raises(ValueError, match="sms_chat_from"):
        ChatBackend(client, ChatSettings("sip", "{% macro x() %}{% endmacro %}", "{{ to }}@gw"))
