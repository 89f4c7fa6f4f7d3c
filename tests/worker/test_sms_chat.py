"""SMS as SIP MESSAGE through FreeSWITCH's ``chat`` API over inbound ESL.

The far end is the simulator's inbound ESL port (fsivr.testing.inbound.InboundSwitch) with ``chat``
answered as mod_dptools.c ``chat_api_function`` does (``Sent`` / ``Error! Message Not Sent`` /
``Invalid``, no trailing LF, trace 16), after splitting the argument the way FreeSWITCH does
(switch_utils.c ``separate_string_char_delim`` + ``cleanup_separated_string``, ported below) — so
the test proves that what FreeSWITCH reads back is exactly the text that was queued.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select

from fsivr.esl.inbound import InboundClient
from fsivr.store.db import Store
from fsivr.store.models import OutboxRow
from fsivr.testing.inbound import InboundSwitch
from fsivr.worker.errors import PermanentFailure, SendFailed
from fsivr.worker.loop import Worker, WorkerSettings
from fsivr.worker.notify import Notifier
from fsivr.worker.outbox import RetryPolicy
from fsivr.worker.sms import Sms, SmsRules, SmsSender
from fsivr.worker.sms_chat import ChatBackend, ChatSettings, chat_command, escape_field

ESCAPE = "\\"
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def fs_separate(buf: str, delim: str, arraylen: int) -> list[str]:
    """switch_separate_string for a delimiter other than a space (switch_utils.c, v1.11.1)."""
    chars = list(buf)
    starts: list[int] = []
    i, inside, find = 0, False, False
    while i < len(chars) and len(starts) < arraylen:
        if not find:
            starts.append(i)
            find = True
            continue
        c = chars[i]
        if c == ESCAPE:
            i += 1
        elif c == "'" and (inside or "'" in "".join(chars[i + 1:]).split("\0")[0]):
            inside = not inside
        elif c == delim and not inside:
            chars[i] = "\0"
            find = False
        i += 1
    text = "".join(chars)
    return [_cleanup(text[start:].split("\0")[0], delim) for start in starts]


def _cleanup(s: str, delim: str) -> str:
    p = 0
    while p < len(s) and s[p] == " ":
        p += 1
    out: list[str] = []
    end: int | None = None
    inside = False
    while p < len(s):
        escaped = False
        if s[p] == ESCAPE:
            e = s[p + 1] if p + 1 < len(s) else "\0"
            if e in ("'", '"', delim, ESCAPE) or _UNESCAPE.get(e, e) != e:
                p += 1
                out.append(_UNESCAPE.get(e, e) if e not in ("'", '"', delim, ESCAPE) else e)
                end = len(out)
                escaped = True
        if not escaped:
            if s[p] == "'" and (inside or "'" in s[p + 1:]):
                inside = not inside
                if inside:
                    end = len(out)
            else:
                out.append(s[p])
                if s[p] != " " or inside:
                    end = len(out)
        p += 1
    return "".join(out[:end] if end is not None else out)


@dataclass
class ChatSwitch:
    """``chat`` of a FreeSWITCH with some SIP users registered (trace 16)."""

    registered: set[str] = field(default_factory=set)
    messages: list[list[str]] = field(default_factory=list)
    reply_override: str | None = None

    def __call__(self, arg: str) -> str:
        if self.reply_override is not None:
            return self.reply_override
        fields = fs_separate(arg, "|", 5) if arg else []
        if len(fields) < 4:
            return "Invalid"
        if fields[0] == "sip" and fields[2] in self.registered:
            self.messages.append(fields)
            return "Sent"
        return "Error! Message Not Sent"


@pytest.fixture
def switch() -> Iterator[tuple[InboundSwitch, ChatSwitch]]:
    chat = ChatSwitch()
    sw = InboundSwitch(api={"chat": chat})
    sw.start()
    yield sw, chat
    sw.stop()


def _backend(sw: InboundSwitch, **kw: str) -> ChatBackend:
    host, port = sw.address
    settings = {"proto": "sip", "sender": "ivr@pbx.example", "to": "{{ to_digits }}@sms-gw.example"}
    settings.update(kw)
    return ChatBackend(InboundClient(host, port, "ClueCon", timeout=5), ChatSettings(**settings))


def test_the_port_of_freeswitch_splitting_matches_trace_16() -> None:
    # the argument texts of trace 16 and how chat_api_function took them
    assert fs_separate("sip|1001@127.0.0.1|1000@127.0.0.1", "|", 5) == ["sip", "1001@127.0.0.1", "1000@127.0.0.1"]
    assert fs_separate("sip|1001@127.0.0.1|1000@127.0.0.1|typed body|text/html", "|", 5)[3:] == [
        "typed body", "text/html"]
    # and what an unescaped text would do: cut at its first bar, spaces at the ends trimmed
    assert fs_separate("sip|a|b|  pay 5|10 EUR|x", "|", 5)[3:] == ["pay 5", "10 EUR|x"]


@pytest.mark.parametrize("text", [
    "hello registered",
    "Price: 5|10 EUR | call 'now'",
    "line one\nline two\r\n\ttabbed",
    "  padded both ends  ",
    "back\\slash \\n not a newline \\| not a bar",
    'quotes "double" and \'single\' and an odd \' one',
    "Zażółć gęślą jaźń 😀",
])
def test_freeswitch_reads_back_exactly_the_text(switch: tuple[InboundSwitch, ChatSwitch], text: str) -> None:
    sw, chat = switch
    chat.registered.add("48501000001@sms-gw.example")
    said = _backend(sw).send(Sms("+48501000001", text), "k")
    assert "Sent" in said
    [fields] = chat.messages
    assert fields == ["sip", "ivr@pbx.example", "48501000001@sms-gw.example", text, "text/plain"]
    [line] = [line for _, line in sw.received if line.startswith("api chat")]
    assert "\n" not in line and line == "api " + chat_command("sip", "ivr@pbx.example",
                                                              "48501000001@sms-gw.example", text)


def test_escape_field_leaves_plain_text_alone() -> None:
    assert escape_field("hello world") == "hello world"
    assert escape_field(" a ") == "\\sa\\s"


def test_unregistered_is_retried_until_it_is_sent(store: Store, switch: tuple[InboundSwitch, ChatSwitch]) -> None:
    sw, chat = switch
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
    assert row().last_error == f"FreeSWITCH {host}:{port}: chat to 48501000001@sms-gw.example: Error! Message Not Sent"
    chat.registered.add("48501000001@sms-gw.example")  # the far end registers
    assert worker.run_once()
    assert row().state == "sent" and row().attempts == 2
    assert chat.messages == [["sip", "ivr@pbx.example", "48501000001@sms-gw.example", "Your callback is booked",
                              "text/plain"]]


def test_replies_other_than_sent(switch: tuple[InboundSwitch, ChatSwitch]) -> None:
    sw, chat = switch
    backend = _backend(sw)
    chat.reply_override = "Invalid"
    with pytest.raises(PermanentFailure, match="Invalid"):
        backend.send(Sms("+48501000001", "x"), "k")
    chat.reply_override = "-ERR chat Command not found!\n"
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
