"""SMS as a SIP MESSAGE: FreeSWITCH's ``chat`` API over the inbound ESL link.

``api chat <proto>|<from>|<to>|<text>[|<content-type>]`` (mod_dptools.c ``chat_api_function``)
answers exactly ``Sent``, ``Error! Message Not Sent`` (the endpoint could not deliver: unknown
protocol, unregistered user) or ``Invalid`` (fewer than four fields), without a trailing LF
(shared/esl-traces/16-chat-api). The fields are split by ``switch_separate_string`` on ``|``
(switch_utils.c ``separate_string_char_delim`` + ``cleanup_separated_string``): a backslash escapes
the next character (``\\|`` is a literal bar, ``\\n`` a newline, ``\\s`` a space), ``'…'`` quotes,
and unescaped spaces around a field are trimmed — so every field is escaped before it is joined.
The command is one ESL line, so a newline must travel as ``\\n`` anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fsivr.engine.templates import TemplateProblem, check, render
from fsivr.esl.inbound import InboundClient, InboundError
from fsivr.worker.errors import PermanentFailure, SendFailed
from fsivr.worker.sms import Sms

SENT = "Sent"
NOT_SENT = "Error! Message Not Sent"
INVALID = "Invalid"
CONTENT_TYPE = "text/plain"
_ESCAPES = {"\\": "\\\\", "|": "\\|", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def escape_field(text: str) -> str:
    """One field of ``chat``'s argument, so FreeSWITCH reads back exactly ``text``."""
    out = "".join(_ESCAPES.get(ch, ch) for ch in text)
    # cleanup_separated_string trims unescaped spaces at both ends; "\s" is a space it keeps.
    stripped = out.lstrip(" ")
    out = "\\s" * (len(out) - len(stripped)) + stripped
    stripped = out.rstrip(" ")
    return stripped + "\\s" * (len(out) - len(stripped))


def chat_command(proto: str, sender: str, to: str, text: str) -> str:
    return "chat " + "|".join(escape_field(f) for f in (proto, sender, to, text, CONTENT_TYPE))


@dataclass(frozen=True)
class ChatSettings:
    proto: str = "sip"
    #: Templates over the message's variables (``{{ to_digits }}@sms-gw.example``).
    sender: str = ""
    to: str = ""

    @classmethod
    def from_config(cls, cfg: Any) -> ChatSettings:
        return cls(cfg.sms_chat_proto, cfg.sms_chat_from, cfg.sms_chat_to)


class ChatBackend:
    """An :class:`~fsivr.worker.sms.SmsBackend` over FreeSWITCH's inbound ESL."""

    name = "chat"

    def __init__(self, client: InboundClient, settings: ChatSettings) -> None:
        if not settings.proto or not settings.sender or not settings.to:
            raise ValueError("the chat SMS backend needs sms_chat_proto, sms_chat_from and sms_chat_to")
        for what, source in (("sms_chat_from", settings.sender), ("sms_chat_to", settings.to)):
            try:
                check(source)
            except TemplateProblem as exc:
                raise ValueError(f"{what}: {exc}") from None
        self.client = client
        self.settings = settings

    def send(self, sms: Sms, key: str) -> str:
        variables = sms.variables(key)
        try:
            sender = render(self.settings.sender, variables).strip()
            to = render(self.settings.to, variables).strip()
        except TemplateProblem as exc:
            raise PermanentFailure(f"sms_chat_from/sms_chat_to: {exc}") from None
        if not sender or not to:
            raise PermanentFailure("sms_chat_from/sms_chat_to rendered an empty address")
        try:
            reply = self.client.api(chat_command(self.settings.proto, sender, to, sms.text)).strip()
        except InboundError as exc:
            raise SendFailed(str(exc)) from None
        if reply == SENT:
            return f"FreeSWITCH {self.client.where}: chat to {to} Sent"
        if reply == INVALID:
            # Four fields always reach it, so this is a bug of ours, not a state that passes.
            raise PermanentFailure(f"FreeSWITCH {self.client.where} refused the chat command as Invalid")
        if reply == NOT_SENT:
            # The endpoint could not deliver now (mod_sofia: the user is not registered); it may be later.
            raise SendFailed(f"FreeSWITCH {self.client.where}: chat to {to}: {NOT_SENT}")
        raise SendFailed(f"FreeSWITCH {self.client.where}: chat to {to}: unexpected reply {reply[:200]!r}")
