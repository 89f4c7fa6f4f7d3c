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


def callback_senders(cfg: Any, store: Store) -> dict[str, Sender]:
    """The callback senders (``callback``; ``queue_callback`` when ``queue_callback_hold`` is set)
    on one live link to FreeSWITCH (started here); none when ``outbound_endpoint`` is not set."""
    sender = callback_sender(cfg, store, start=False)
    if sender is None:
        return {}
    out: dict[str, Sender] = {"callback": sender}
    link = sender.link  # type: ignore[attr-defined]
    if cfg.queue_callback_hold:
        from fsivr.worker.queuecallback import QueueCallbackSender

        out["queue_callback"] = QueueCallbackSender(store, link, endpoint=cfg.outbound_endpoint,
                                                    hold_endpoint=cfg.queue_callback_hold,
                                                    originate_timeout=cfg.originate_timeout)
    else:
        log.warning("queue_callback_hold is not set: queue callbacks wait in the outbox")
    link.start()
    return out


def callback_sender(cfg: Any, store: Store, start: bool = True) -> Sender | None:
    """The callback sender on its own live link to FreeSWITCH (started here), or None when
    ``outbound_endpoint`` is not set."""
    if not cfg.outbound_endpoint:
        log.warning("outbound_endpoint is not set: callbacks wait in the outbox")
        return None
    from fsivr.esl.link import EventLink
    from fsivr.worker.callback import CallbackSender
    from fsivr.worker.originate import endpoint_for

    endpoint_for(cfg.outbound_endpoint, "0")  # a template that cannot dial fails at start
    host = cfg.listen_host if cfg.listen_host not in ("0.0.0.0", "::", "") else "127.0.0.1"
    address = cfg.outbound_socket or f"{host}:{cfg.listen_port}"
    link = EventLink(cfg.esl_host, cfg.esl_port, cfg.esl_password, timeout=cfg.command_timeout,
                     max_backoff=cfg.live_link_max_backoff)
    sender = CallbackSender(store, link, endpoint=cfg.outbound_endpoint, socket_address=address,
                            originate_timeout=cfg.originate_timeout)
    if start:
        link.start()
    return sender


def senders_from_config(cfg: Any, store: Store | None = None) -> dict[str, Sender]:
    """Raises ValueError for a transport configured wrongly (at start, not at the first message).
    With the ``store``, scheduled jobs too (the retention clean-up of recordings)."""
    senders: dict[str, Sender] = {}
    if store is not None:
        senders[RetentionSender.kind] = RetentionSender(store, cfg.media_dir)
        senders.update(callback_senders(cfg, store))
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
