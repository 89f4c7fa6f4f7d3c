"""SMS through a web gateway: a real HTTP listener on loopback (farends.Gateway)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import gevent
import pytest
from farends import Gateway, free_port
from sqlalchemy import select

from fsivr.config import Config
from fsivr.store.db import Store
from fsivr.store.models import OutboxRow
from fsivr.store.outbox import RetryPolicy
from fsivr.worker.errors import SendFailed
from fsivr.worker.loop import Worker, WorkerSettings
from fsivr.worker.notify import Notifier
from fsivr.worker.senders import senders_from_config
from fsivr.worker.sms import Sms, SmsRules, SmsSender
from fsivr.worker.sms_http import HttpGateway, HttpGatewaySettings

TOKEN = "Bearer tok-9f8e7d6c5b4a"


def _gateway(gw: Gateway, **kw: object) -> HttpGateway:
    values: dict[str, object] = {"url": gw.url + "/send?account={{ 'acme'|urlencode }}",
                                 "body": Config.sms_http_body, "auth_header": "Authorization: " + TOKEN,
                                 "timeout": 10}
    values.update(kw)
    return HttpGateway(HttpGatewaySettings(**values))  # type: ignore[arg-type]


def _row(store: Store, row_id: int) -> OutboxRow:
    with store.session() as s:
        return s.execute(select(OutboxRow).where(OutboxRow.id == row_id)).scalar_one()


def test_sms_reaches_the_gateway_with_the_rendered_text(store: Store, gateway: Gateway) -> None:
    rules = SmsRules(default_region="PL", sender="ACME")
    text = 'Dziękujemy za telefon! "Quotes", \\backslash\\ & {braces}'
    got = Notifier(store, rules).sms("call:u1:thanks", "501 000 001", text, call_uuid="u1")
    worker = Worker(store, {"sms": SmsSender(_gateway(gateway), rules)}, WorkerSettings())
    assert worker.run_once()
    assert _row(store, got.id).state == "sent"
    [req] = gateway.requests
    assert req.method == "POST" and req.path == "/send?account=acme"
    assert req.headers["Content-Type"] == "application/json; charset=utf-8"
    assert req.headers["Authorization"] == TOKEN
    assert req.headers["Idempotency-Key"] == "call:u1:thanks"
    assert req.json() == {"to": "+48501000001", "from": "ACME", "text": text}


def test_a_slow_gateway_does_not_hold_the_greenlets_beside_the_worker(store: Store, gateway: Gateway) -> None:
    """The campaign dialler is a greenlet of the worker's hub: while an SMS waits for a slow
    gateway (the worker is not monkey-patched, http.client blocks), it goes on, because with a
    companion beside the loop the send runs on a thread. The row is still sent once and recorded."""
    rules = SmsRules(default_region="PL")
    got = Notifier(store, rules).sms("call:u2:slow", "501 000 002", "slow", call_uuid="u2")
    worker = Worker(store, {"sms": SmsSender(_gateway(gateway), rules)}, WorkerSettings())
    gateway.hold.clear()
    ticks: list[float] = []

    def beside() -> None:  # what the dialler's pass loop does
        while True:
            ticks.append(time.monotonic())
            gevent.sleep(0.01)

    worker.companions.append(beside)  # as `fsivr worker` does for the campaign dialler
    companion = gevent.spawn(beside)
    sending = gevent.spawn(worker.run_once)
    try:
        deadline = time.monotonic() + 10
        while not gateway.arrived.is_set():  # a gevent wait: the send has to start first
            assert time.monotonic() < deadline, "the request never reached the gateway"
            gevent.sleep(0.01)
        held = time.monotonic()
        gevent.sleep(0.3)  # the gateway still holds the answer
        assert not sending.ready()
        # a stalled companion would have no tick in the hold (counted this way, a loaded box that
        # ticks less often still passes)
        assert sum(1 for t in ticks if t > held) >= 3, "the companion stalled while the gateway held the answer"
    finally:
        gateway.hold.set()
        assert sending.get(timeout=10) is True
        companion.kill()
    assert _row(store, got.id).state == "sent" and gateway.delivered == {"call:u2:slow": 1}


def test_form_body_get_and_a_success_check_on_the_body(gateway: Gateway) -> None:
    sms = Sms("+48501000001", "Zażółć & co=1", "ACME")
    form = _gateway(gateway, format="form",
                    body="to={{ to_digits|urlencode }}&msg={{ text|urlencode }}&ref={{ key|urlencode }}",
                    success_regex=r'"status":\s*"queued"')
    form.send(sms, "k/1")
    req = gateway.requests[-1]
    assert req.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"
    assert parse_qs(req.body.decode()) == {"to": ["48501000001"], "msg": ["Zażółć & co=1"], "ref": ["k/1"]}

    get = _gateway(gateway, method="GET", url=gateway.url + "/api?to={{ to|urlencode }}&text={{ text|urlencode }}")
    get.send(sms, "k2")
    req = gateway.requests[-1]
    assert req.method == "GET" and req.body == b""
    assert parse_qs(req.path.partition("?")[2]) == {"to": ["+48501000001"], "text": ["Zażółć & co=1"]}

    gateway.answers.append((200, '{"status": "rejected", "reason": "no credit"}'))
    with pytest.raises(SendFailed, match=r"without success .*no credit"):
        form.send(sms, "k3")


def test_gateway_failure_is_retried_with_backoff_then_goes_dead(store: Store, gateway: Gateway,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    rules = SmsRules(default_region="PL")
    got = Notifier(store, rules, clock=lambda: now[0]).sms("k-fail", "+48501000001", "hello")
    gateway.default = (503, "gateway overloaded")
    policy = RetryPolicy(max_attempts=4, backoff_base=30, backoff_max=3600, jitter=0.5)
    worker = Worker(store, {"sms": SmsSender(_gateway(gateway), rules)}, WorkerSettings(policy),
                    clock=lambda: now[0])
    delays = []
    for attempt in range(1, 5):
        assert worker.run_once()
        row = _row(store, got.id)
        assert row.attempts == attempt
        assert "answered 503" in (row.last_error or "") and "gateway overloaded" in (row.last_error or "")
        if attempt < 4:
            assert row.state == "pending"
            delay = (row.next_attempt_at - now[0]).total_seconds()
            raw = 30 * 2 ** (attempt - 1)
            assert raw / 2 <= delay <= raw  # doubling, with jitter
            delays.append(delay)
            assert not worker.run_once()  # nothing is due before the backoff has passed
            now[0] = row.next_attempt_at
    assert _row(store, got.id).state == "dead"
    assert delays[0] < delays[2]
    assert len(gateway.requests) == 4
    assert {r.headers["Idempotency-Key"] for r in gateway.requests} == {"k-fail"}
    assert TOKEN not in caplog.text and "tok-9f8e" not in (_row(store, got.id).last_error or "")


def test_unreachable_gateway_is_retried() -> None:
    backend = HttpGateway(HttpGatewaySettings(url=f"http://127.0.0.1:{free_port()}/x", body=Config.sms_http_body,
                                              timeout=5))
    with pytest.raises(SendFailed, match="unreachable"):
        backend.send(Sms("+48501000001", "x"), "k")


@pytest.mark.parametrize(("settings", "message"), [
    ({"body": '{"to": "{{ to }}", "text": "{{ text }}"}'}, "does not render valid json"),  # unescaped quotes
    ({"body": "{{ ''.__class__.__mro__ }}"}, "refused by the sandbox"),
    ({"body": "{% for a in x %}{% for b in y %}{% endfor %}{% endfor %}"}, "loops inside loops"),
    ({"url": "ftp://x/{{ to }}"}, "not an http"),
    ({"method": "DELETE"}, "sms_http_method"),
    ({"auth_header": "Bearer xyz"}, "Header-Name: value"),
])
def test_a_broken_gateway_configuration_fails_at_start(gateway: Gateway, settings: dict[str, str],
                                                       message: str) -> None:
    with pytest.raises(ValueError, match=message) as info:
        _gateway(gateway, **settings)
    assert "xyz" not in str(info.value)


def test_senders_from_config_and_secrets_redacted(gateway: Gateway) -> None:
    cfg = Config.load(env={"FSIVR_SMS_BACKEND": "http", "FSIVR_SMS_HTTP_URL": gateway.url,
                           "FSIVR_SMS_HTTP_AUTH_HEADER": "X-Api-Key: k-123", "FSIVR_SMTP_HOST": "mail",
                           "FSIVR_SMTP_PASSWORD": "pw-456", "FSIVR_SMS_DEFAULT_REGION": "PL"})
    senders = senders_from_config(cfg)
    assert set(senders) == {"email", "sms"}
    shown = repr(cfg.redacted())
    assert "k-123" not in shown and "pw-456" not in shown and "X-Api-Key: ***" in shown
    assert "k-123" not in repr(senders["sms"].backend.settings)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="sms_backend 'carrier-pigeon'"):
        senders_from_config(Config.load(env={"FSIVR_SMS_BACKEND": "carrier-pigeon"}))
    assert senders_from_config(Config.load(env={})) == {}


def test_worker_lease_must_outlast_the_sends() -> None:
    with pytest.raises(ValueError, match="worker_lease_seconds"):
        WorkerSettings.from_config(Config.load(env={"FSIVR_WORKER_LEASE_SECONDS": "30"}))
    assert WorkerSettings.from_config(Config.load(env={})).lease_seconds == 300
    assert timedelta(seconds=WorkerSettings.from_config(Config.load(env={})).lease_seconds)


# --- keep-alive: one connection to the gateway for a run of messages ------------------------------


def _send_all(backend: HttpGateway, keys: list[str]) -> None:
    for key in keys:
        assert "answered 200" in backend.send(Sms("+48501000001", f"text {key}"), key)


def test_one_kept_alive_connection_carries_a_run_of_messages(gateway: Gateway) -> None:
    backend = _gateway(gateway)
    _send_all(backend, [f"k{i}" for i in range(5)])
    assert [r.headers["Idempotency-Key"] for r in gateway.requests] == [f"k{i}" for i in range(5)]
    assert len({r.peer for r in gateway.requests}) == 1 and backend.connects == 1
    # every request still carries the same headers and body as urllib sent them
    assert all(r.headers["Authorization"] == TOKEN and r.headers["Content-Type"].startswith("application/json")
               and r.json()["to"] == "+48501000001" for r in gateway.requests)
    backend.close()


def test_a_gateway_that_closes_after_each_answer_costs_a_reconnect_not_a_failure(gateway: Gateway) -> None:
    gateway.close_each = True  # closed without "Connection: close": seen before the next request
    backend = _gateway(gateway)
    _send_all(backend, ["a", "b", "c"])
    assert gateway.delivered == {"a": 1, "b": 1, "c": 1}
    assert len({r.peer for r in gateway.requests}) == 3 and backend.connects == 3


def test_a_connection_dropped_between_messages_is_replaced_and_nothing_is_lost(gateway: Gateway) -> None:
    from farends import TcpProxy

    proxy = TcpProxy(("127.0.0.1", gateway.server.server_address[1]))  # type: ignore[union-attr]
    proxy.up()
    try:
        backend = _gateway(gateway, url=f"http://127.0.0.1:{proxy.port}/send")
        _send_all(backend, ["a", "b"])
        proxy.cut()  # the network broke: both ends of the kept-alive connection are gone
        _send_all(backend, ["c", "d"])
    finally:
        proxy.down()
    assert gateway.delivered == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert backend.connects == 2


def test_an_error_answer_drops_nothing_and_keeps_its_classification(gateway: Gateway) -> None:
    gateway.answers = [(503, "busy"), (200, '{"status": "queued"}')]
    backend = _gateway(gateway)
    with pytest.raises(SendFailed, match="answered 503"):
        backend.send(Sms("+48501000001", "x"), "k1")
    assert "answered 200" in backend.send(Sms("+48501000001", "x"), "k1")
    assert gateway.delivered == {"k1": 1}


def test_a_worker_closes_the_kept_alive_connection_when_it_stops(store: Store, gateway: Gateway) -> None:
    rules = SmsRules(default_region="PL")
    backend = _gateway(gateway)
    Notifier(store, rules).sms("k-stop", "501 000 001", "bye")
    worker = Worker(store, {"sms": SmsSender(backend, rules)}, WorkerSettings(poll_interval=0.05))
    worker.stopping.set()  # run() still closes the senders on its way out
    assert worker.run_once()
    worker.run()
    assert backend._conn is None and gateway.delivered == {"k-stop": 1}
