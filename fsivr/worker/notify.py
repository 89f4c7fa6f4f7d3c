"""Queueing notifications from a running call (``serve``): the API the sms/email/voicemail nodes call.

A call never waits on SMTP or an SMS gateway: it only inserts an outbox row, and that insert (with
the checks that go with it: the number, the text's length, the attachments on disk) runs on the
store's threadpool through :meth:`Store.run`, so the gevent hub — every other call — never blocks
on it. Mistakes (a number that is no number, an address that is no address) raise ValueError in the
calling greenlet, for the node to turn into its ``error`` outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from fsivr.store import outbox
from fsivr.store.db import Store
from fsivr.store.outbox import Enqueued
from fsivr.store.types import utcnow
from fsivr.worker.email import email_payload
from fsivr.worker.sms import SmsRules, sms_payload


def call_key(call_uuid: str, node: str, *parts: object) -> str:
    """An idempotency key for what one node of one call sends (``parts`` tell apart several sends
    of the same node, e.g. a loop passing it twice, or several recipients)."""
    key = ":".join(["call", call_uuid, node, *map(str, parts)])
    if len(key) > 200:
        raise ValueError("idempotency key longer than 200 characters")
    return key


class Notifier:
    def __init__(self, store: Store, sms_rules: SmsRules | None = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.store = store
        self.sms_rules = sms_rules or SmsRules()
        self.clock = clock

    @classmethod
    def from_config(cls, store: Store, cfg: Any) -> Notifier:
        return cls(store, SmsRules.from_config(cfg))

    def enqueue(self, kind: str, build: Callable[[], dict[str, Any]], key: str, *,
                call_uuid: str | None = None, not_before: datetime | None = None) -> Enqueued:
        """Insert a row whose payload ``build`` makes (on the threadpool, with the insert)."""
        now = self.clock()
        return self.store.run(lambda session: outbox.enqueue(
            session, kind, build(), key, now, call_uuid=call_uuid, not_before=not_before))

    def sms(self, key: str, to: str, text: str, *, sender: str | None = None,
            call_uuid: str | None = None) -> Enqueued:
        return self.enqueue("sms", lambda: sms_payload(self.sms_rules, to, text, sender), key,
                            call_uuid=call_uuid)

    def email(self, key: str, to: Sequence[str] | str, subject: str, text: str, *,
              attachments: Sequence[str | dict[str, str]] = (), html: str | None = None,
              cc: Sequence[str] = (), reply_to: str | None = None, sender: str | None = None,
              call_uuid: str | None = None) -> Enqueued:
        return self.enqueue("email", lambda: email_payload(
            to, subject, text, html=html, attachments=attachments, cc=cc, reply_to=reply_to, sender=sender),
            key, call_uuid=call_uuid)
