"""Which senders a worker runs, from the configuration. A kind whose transport is not configured
has no sender: its rows wait in the outbox (never claimed, never failed) until a worker with that
transport runs, and the worker says so when it starts."""

from __future__ import annotations

import logging
from typing import Any

from fsivr.store.db import Store
from fsivr.worker.email import EmailSender, SmtpSettings
from fsivr.worker.loop import Sender
from fsivr.worker.retention import RetentionSender
from fsivr.worker.sms import SmsBackend, SmsRules, SmsSender

log = logging.getLogger("fsivr.worker")

SMS_BACKENDS = ("http", "chat")


def sms_backend(cfg: Any) -> SmsBackend | None:
    name = cfg.sms_backend.strip().lower()
    if not name:
        return None
    if name == "http":
        from fsivr.worker.sms_http import HttpGateway, HttpGatewaySettings

        return HttpGateway(HttpGatewaySettings.from_config(cfg))
    if name == "chat":
        from fsivr.esl.inbound import InboundClient
        from fsivr.worker.sms_chat import ChatBackend, ChatSettings

        client = InboundClient(cfg.esl_host, cfg.esl_port, cfg.esl_password, timeout=cfg.command_timeout)
        return ChatBackend(client, ChatSettings.from_config(cfg))
    raise ValueError(f"sms_backend {cfg.sms_backend!r}: expected one of {', '.join(SMS_BACKENDS)} or empty")


def senders_from_config(cfg: Any, store: Store | None = None) -> dict[str, Sender]:
    """Raises ValueError for a transport configured wrongly (at start, not at the first message).
    With the ``store``, scheduled jobs too (the retention clean-up of recordings)."""
    senders: dict[str, Sender] = {}
    if store is not None:
        senders[RetentionSender.kind] = RetentionSender(store, cfg.media_dir)
    if cfg.smtp_host:
        senders["email"] = EmailSender(SmtpSettings.from_config(cfg))
    else:
        log.warning("smtp_host is not set: e-mail notifications wait in the outbox")
    backend = sms_backend(cfg)
    if backend is not None:
        senders["sms"] = SmsSender(backend, SmsRules.from_config(cfg))
    else:
        log.warning("sms_backend is not set: SMS notifications wait in the outbox")
    return senders
