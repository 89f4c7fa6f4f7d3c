"""SMS notifications: the message, the backend interface, and the outbox handler in front of it.

A backend only transports (:mod:`fsivr.worker.sms_http`, :mod:`fsivr.worker.sms_chat`); numbers
are normalised to E.164 and texts measured and capped here, the same for every backend, both when a
row is queued (so the node that asks hears about a bad number) and when it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from fsivr.worker.errors import PermanentFailure
from fsivr.worker.gsm7 import SmsTooLong, check_size
from fsivr.worker.numbers import BadNumber, to_e164


@dataclass(frozen=True)
class Sms:
    #: E.164, ``+48501000001``.
    to: str
    text: str
    sender: str = ""

    def variables(self, key: str) -> dict[str, Any]:
        """What a backend's templates see."""
        return {"to": self.to, "to_digits": self.to.lstrip("+"), "sender": self.sender,
                "text": self.text, "key": key}


class SmsBackend(Protocol):
    """Sends one SMS. ``key`` is the outbox row's idempotency key (the same on every attempt).
    Returns a short description of what the far end said; raises SendFailed (retry later) or
    PermanentFailure (give up)."""

    name: str

    def send(self, sms: Sms, key: str) -> str: ...


@dataclass(frozen=True)
class SmsRules:
    default_region: str = ""
    max_segments: int = 3
    sender: str = ""

    @classmethod
    def from_config(cls, cfg: Any) -> SmsRules:
        return cls(cfg.default_region, cfg.sms_max_segments, cfg.sms_from)

    def message(self, to: str, text: str, sender: str | None = None) -> Sms:
        """Raises BadNumber or SmsTooLong (both ValueError) with a message for the scenario's author."""
        check_size(text, self.max_segments)
        return Sms(to_e164(to, self.default_region), text, sender if sender is not None else self.sender)


def sms_payload(rules: SmsRules, to: str, text: str, sender: str | None = None) -> dict[str, Any]:
    """The outbox payload of an SMS, normalised and checked now."""
    sms = rules.message(to, text, sender)
    return {"to": sms.to, "text": sms.text, "from": sms.sender}


class SmsSender:
    """The outbox handler of kind ``sms``."""

    kind = "sms"

    def __init__(self, backend: SmsBackend, rules: SmsRules) -> None:
        self.backend = backend
        self.rules = rules
        #: The HTTP gateway's client blocks (a thread sends); chat goes over the live link, on the hub.
        self.blocking = bool(getattr(backend, "blocking", False))

    def __call__(self, payload: dict[str, Any], key: str) -> str:
        try:
            sms = self.rules.message(str(payload["to"]), str(payload["text"]), payload.get("from"))
        except (BadNumber, SmsTooLong) as exc:
            raise PermanentFailure(str(exc)) from None
        except KeyError as exc:
            raise PermanentFailure(f"malformed SMS payload: no {exc}") from None
        return self.backend.send(sms, key)

    def close(self) -> None:
        """Close what the backend keeps open (the HTTP gateway's kept-alive connection)."""
        close = getattr(self.backend, "close", None)
        if close is not None:
            close()
