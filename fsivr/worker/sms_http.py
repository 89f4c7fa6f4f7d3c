"""SMS through a web gateway: one HTTP request per message, shaped by configuration.

URL and body are sandboxed Jinja templates (fsivr/engine/templates.py, the one users' SMS texts go
through) over the message; the body is sent as JSON or as a form and must parse as such, which is
checked when the worker starts, with sample values, rather than at the first message. The row's
idempotency key goes in a header, so a gateway that honours it drops the resend that follows a
worker killed between sending and recording the success.
"""

from __future__ import annotations

import http.client
import json
import re
import select
import socket
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from fsivr.engine.templates import TemplateProblem, check, render
from fsivr.worker.errors import PermanentFailure, SendFailed
from fsivr.worker.sms import Sms

FORMATS = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
METHODS = ("POST", "PUT", "GET")
#: The most of a gateway's answer read (for the success check and the error text).
MAX_ANSWER = 64 * 1024
#: A kept-alive connection idle this long is not reused (a connection a NAT box dropped silently
#: would only show it by timing out); gateways close idle ones themselves after 5-75 s.
REUSE_IDLE = 10.0
_QUICKACK = getattr(socket, "TCP_QUICKACK", None)  # Linux
_SAMPLE = Sms("+48501000001", 'Sample "text" & more: zażółć €', "ACME")


@dataclass(frozen=True)
class HttpGatewaySettings:
    url: str
    method: str = "POST"
    format: str = "json"
    body: str = ""
    #: ``Header-Name: value``; repr=False keeps the secret out of any log line showing settings.
    auth_header: str = field(default="", repr=False)
    idempotency_header: str = "Idempotency-Key"
    success_regex: str = ""
    timeout: float = 30.0

    @classmethod
    def from_config(cls, cfg: Any) -> HttpGatewaySettings:
        return cls(cfg.sms_http_url, cfg.sms_http_method.upper(), cfg.sms_http_format.lower(),
                   cfg.sms_http_body, cfg.sms_http_auth_header, cfg.sms_http_idempotency_header,
                   cfg.sms_http_success_regex, cfg.sms_http_timeout)


class HttpGateway:
    """An :class:`~fsivr.worker.sms.SmsBackend`."""

    name = "http"
    #: http.client waits on its socket outside gevent: sent on a thread (fsivr.worker.loop.blocks).
    blocking = True

    def __init__(self, settings: HttpGatewaySettings) -> None:
        s = settings
        if not s.url:
            raise ValueError("sms_http_url is not set")
        if s.method not in METHODS:
            raise ValueError(f"sms_http_method {s.method!r}: expected one of {', '.join(METHODS)}")
        if s.format not in FORMATS:
            raise ValueError(f"sms_http_format {s.format!r}: expected one of {', '.join(FORMATS)}")
        self.auth: tuple[str, str] | None = None
        if s.auth_header:
            name, sep, value = s.auth_header.partition(":")
            if not sep or not name.strip() or not re.fullmatch(r"[A-Za-z0-9-]+", name.strip()):
                # Not quoted: the value is the secret.
                raise ValueError("sms_http_auth_header must be 'Header-Name: value'")
            self.auth = (name.strip(), value.strip())
        self.success = re.compile(s.success_regex) if s.success_regex else None
        for what, source in (("sms_http_url", s.url), ("sms_http_body", s.body)):
            try:
                check(source)
            except TemplateProblem as exc:
                raise ValueError(f"{what}: {exc}") from None
        self.settings = s
        self._request(_SAMPLE, "sample-key")  # a template that renders nothing usable fails here
        # Keep-alive: one connection to the gateway, reused while it stays open (a connect per SMS
        # was a third of an SMS's cost to the worker: bench/outbox.py). urllib's opener — kept for
        # a gateway behind a proxy (http_proxy/https_proxy) and for redirects — closes each time.
        self._proxies = urllib.request.getproxies()
        self._conn: http.client.HTTPConnection | None = None
        self._conn_to: tuple[str, str, int | None] = ("", "", None)
        self._used_at = 0.0
        self._tls: ssl.SSLContext | None = None
        #: Connections opened by the keep-alive path (for tests and the curious).
        self.connects = 0

    def _request(self, sms: Sms, key: str) -> urllib.request.Request:
        s = self.settings
        variables = sms.variables(key)
        try:
            url = render(s.url, variables).strip()
            body = render(s.body, variables) if s.method != "GET" else ""
        except TemplateProblem as exc:
            raise ValueError(f"SMS gateway template: {exc}") from None
        if urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"sms_http_url renders {url!r}, not an http(s) URL")
        if s.method != "GET":
            try:
                if s.format == "json":
                    json.loads(body)
                else:
                    parse_qsl(body, strict_parsing=True, keep_blank_values=True)
            except ValueError as exc:
                raise ValueError(f"sms_http_body does not render valid {s.format}: {exc}") from None
        headers = {"User-Agent": "fsivr-worker"}
        if s.method != "GET":
            headers["Content-Type"] = FORMATS[s.format] + "; charset=utf-8"
        if s.idempotency_header:
            headers[s.idempotency_header] = key
        if self.auth:
            headers[self.auth[0]] = self.auth[1]
        return urllib.request.Request(url, data=body.encode() if s.method != "GET" else None,
                                      headers=headers, method=s.method)

    def send(self, sms: Sms, key: str) -> str:
        try:
            request = self._request(sms, key)
        except ValueError as exc:
            raise PermanentFailure(str(exc)) from None
        where = urlsplit(request.full_url)._replace(query="", fragment="").geturl()
        try:
            answer = self._exchange(request) if self._direct(request) else None
            if answer is None or 300 <= answer[0] < 400:
                # A proxy, or a redirect: urllib follows it as it always did (the request is sent
                # again to the URL it was sent to, then the redirect followed).
                answer = self._urlopen(request)
        except urllib.error.HTTPError as exc:
            text = exc.read(MAX_ANSWER).decode(errors="replace") if exc.fp else ""
            exc.close()
            raise SendFailed(f"SMS gateway {where} answered {exc.code} {exc.reason}: {_short(text)}") from None
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", exc)
            raise SendFailed(f"SMS gateway {where} unreachable: {reason}") from None
        status, reason, text = answer
        if not 200 <= status < 300:
            raise SendFailed(f"SMS gateway {where} answered {status} {reason}: {_short(text)}")
        if self.success and not self.success.search(text):
            raise SendFailed(f"SMS gateway {where} answered {status} without success "
                             f"(sms_http_success_regex): {_short(text)}")
        return f"SMS gateway {where} answered {status}: {_short(text)}"

    def _urlopen(self, request: urllib.request.Request) -> tuple[int, str, str]:
        """urllib's way: a connection per request, proxies, redirects; HTTPError for a non-2xx."""
        with urllib.request.urlopen(request, timeout=self.settings.timeout) as answer:
            return answer.status, answer.reason, answer.read(MAX_ANSWER).decode(errors="replace")

    def _direct(self, request: urllib.request.Request) -> bool:
        """The kept-alive connection serves this URL: no proxy applies, no credentials in it."""
        parts = urlsplit(request.full_url)
        if parts.username is not None or parts.password is not None:
            return False
        return not (self._proxies.get(parts.scheme) and not urllib.request.proxy_bypass(parts.hostname or ""))

    def _exchange(self, request: urllib.request.Request) -> tuple[int, str, str]:
        """One request on the kept-alive connection (the same request line, headers and body as
        urllib's): (status, reason, up to MAX_ANSWER of the body). The connection is dropped on
        any error and whenever it cannot carry the next request.

        A reused connection that the gateway closed just as the request went out (its idle
        timeout racing the request: reset, or closed with not one byte of an answer) is replaced
        and the request sent once more on a fresh one, as HTTP clients do for pooled connections;
        both carry the same idempotency key. A fresh connection failing is the attempt's failure."""
        parts = urlsplit(request.full_url)
        selector = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = {name.title(): value for name, value in request.header_items()}
        for again in (True, False):
            conn = self._connection(parts.scheme, parts.hostname or "", parts.port)
            reused = conn.sock is not None
            try:
                conn.request(request.get_method(), selector, body=request.data,  # type: ignore[arg-type]
                             headers=headers)
                if _QUICKACK is not None and conn.sock is not None:
                    # Acknowledge the answer's first segment at once: a gateway that writes its status
                    # line and body separately without TCP_NODELAY (Python's http.server does)
                    # otherwise holds the body until our delayed ACK, ~40 ms per SMS on a kept-alive
                    # connection.
                    conn.sock.setsockopt(socket.IPPROTO_TCP, _QUICKACK, 1)
                answer = conn.getresponse()
            except (ConnectionResetError, BrokenPipeError):  # http.client.RemoteDisconnected too
                self.close()
                if reused and again:
                    continue
                raise
            except BaseException:
                self.close()
                raise
            try:
                status, reason = answer.status, answer.reason
                text = answer.read(MAX_ANSWER).decode(errors="replace")
                if answer.will_close or not answer.isclosed():  # Connection: close, or a body left unread
                    self.close()
            except BaseException:
                self.close()
                raise
            self._used_at = time.monotonic()
            return status, reason, text
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        to = (scheme, host, port)
        conn = self._conn
        if conn is not None and (to != self._conn_to or time.monotonic() - self._used_at >= REUSE_IDLE
                                 or _dropped(conn)):
            self.close()
            conn = None
        if conn is None:
            timeout = self.settings.timeout
            if scheme == "https":
                if self._tls is None:  # what urllib's connections get (http.client.HTTPSConnection)
                    self._tls = ssl._create_default_https_context()
                    self._tls.set_alpn_protocols(["http/1.1"])
                    if self._tls.post_handshake_auth is not None:
                        self._tls.post_handshake_auth = True
                conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._tls)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
            self._conn, self._conn_to = conn, to
            self.connects += 1
        return conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """The idle connection was closed by the gateway (or has unexpected bytes waiting): readable
    before a request was sent means EOF. Checked before reuse, so a gateway that closed its end
    after the last answer costs a reconnect, never a failed attempt."""
    sock = conn.sock
    if sock is None:
        return False  # not connected yet: request() connects
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError):
        return True


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
