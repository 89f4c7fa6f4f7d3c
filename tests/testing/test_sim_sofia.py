"""Registered phones and ``chat`` (trace 16): what an SMS-over-SIP notification to an employee's
phone gets from the switch, over the inbound and the outbound socket alike."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from test_sim_api import Controller, EslServer, _call
from test_sim_inbound import Client

from fsivr.testing import Simulator
from fsivr.testing.expand import separate_char

EPOCH = datetime(2026, 12, 1, 3, 37, 45, tzinfo=UTC)


@pytest.fixture
def sim() -> Simulator:
    return Simulator(("127.0.0.1", 9), time_scale=0.0, epoch=EPOCH)


def test_chat_replies_as_trace_16(sim: Simulator, inbound: Client) -> None:
    assert inbound.api("chat") == "Invalid"
    assert inbound.api("chat sip|1001@127.0.0.1|1000@127.0.0.1") == "Invalid"
    assert inbound.api("chat nosuchproto|1001@127.0.0.1|1000@127.0.0.1|hello") == "Error! Message Not Sent"
    assert inbound.api("chat sip|1001@127.0.0.1|1000@127.0.0.1|hello") == "Error! Message Not Sent"
    sim.register_phone("1000", port=41370, agent="desk-phone")
    assert inbound.api("chat sip|1001@127.0.0.1|nosuchuser@127.0.0.1|hello nobody") == "Error! Message Not Sent"
    assert inbound.api("chat sip|1001@127.0.0.1|1000@127.0.0.1|hello registered") == "Sent"
    assert inbound.api("chat sip|1001@127.0.0.1|1000@127.0.0.1|typed|text/plain") == "Sent"
    sim.unregister_phone("1000")
    assert inbound.api("chat sip|1001@127.0.0.1|1000@127.0.0.1|after unregister") == "Error! Message Not Sent"
    got = [(m.to_addr, m.body, m.content_type, m.contact) for m in sim.chat_messages]
    assert got == [
        ("1000@127.0.0.1", "hello registered", "text/html", '"" <sip:1000@127.0.0.1:41370>'),
        ("1000@127.0.0.1", "typed", "text/plain", '"" <sip:1000@127.0.0.1:41370>'),
    ]


def test_chat_from_a_call_socket_is_the_same_command(esl_server: EslServer) -> None:
    sim = Simulator(("127.0.0.1", 9), time_scale=0.0)  # the switch's clock is the call's
    sim.register_phone("101")
    ctl: Controller
    ctl, handle = _call(sim, esl_server)
    try:
        assert ctl.api("chat sip|+48221234000@127.0.0.1|101@127.0.0.1|Missed call from +48500") == "Sent"
        assert ctl.api("chat sip|+48221234000@127.0.0.1|102@127.0.0.1|Missed call") == "Error! Message Not Sent"
    finally:
        ctl.done.set()
        handle.wait(timeout=10)
    assert [m.body for m in sim.chat_messages] == ["Missed call from +48500"]


def test_a_phone_that_refuses_the_message_is_not_sent(sim: Simulator, inbound: Client) -> None:
    sim.register_phone("1000", message_status=486)
    assert inbound.api("chat sip|1001@127.0.0.1|1000@127.0.0.1|busy") == "Error! Message Not Sent"
    assert sim.chat_messages == []


def test_sofia_status_reg_lists_the_registration_until_it_expires(sim: Simulator, inbound: Client) -> None:
    sim.register_phone("1000", port=41370, agent="esl-trace-ua", call_id="abc@127.0.0.1", expires=3600)
    body = inbound.api("sofia status profile internal reg 1000")
    # mod_sofia.c show_reg_callback; expiry = now + expires + sip_expires_late_margin (sofia_reg.c)
    assert body.startswith("\nRegistrations:\n" + "=" * 97 + "\nCall-ID:    \tabc@127.0.0.1\n")
    assert "Status:     \tRegistered(UDP)(unknown) EXP(2026-12-01 04:38:45) EXPSECS(3660)\n" in body
    assert "Contact:    \t\"\" <sip:1000@127.0.0.1:41370>\n" in body
    assert body.endswith("Total items returned: 1\n" + "=" * 97 + "\n")
    assert "Total items returned: 0\n" in inbound.api("sofia status profile internal reg 1001@")
    assert inbound.api("sofia status profile nosuch reg") == "Invalid Profile!\n"
    sim.advance(3661)
    assert "Total items returned: 0\n" in inbound.api("sofia status profile internal reg")
    assert inbound.api("chat sip|1001@127.0.0.1|1000@127.0.0.1|late") == "Error! Message Not Sent"


def test_sofia_contact_follows_a_registered_phone(sim: Simulator, inbound: Client) -> None:
    sim.register_phone("103", port=5070)
    assert inbound.api("sofia_contact 103@127.0.0.1") == "sofia/internal/sip:103@127.0.0.1:5070"


@pytest.mark.parametrize(("text", "parts"), [
    ("sip|a|b", ["sip", "a", "b"]),
    ("sip|a|b|hello there|text/html|x", ["sip", "a", "b", "hello there", "text/html|x"]),
    ("sip|a|b|", ["sip", "a", "b"]),           # a trailing delimiter opens no part
    ("a||b", ["a", "", "b"]),
    ("sip|a|b|'x|y'", ["sip", "a", "b", "x|y"]),  # quotes group
    ("sip|a|b|x\\|y", ["sip", "a", "b", "x|y"]),  # an escaped delimiter
    (" sip | a ", ["sip", "a"]),                 # blanks around parts go
    ("", []),
])
def test_separate_char_splits_as_switch_separate_string(text: str, parts: list[str]) -> None:
    assert separate_char(text, "|", 5) == parts
