"""SMS through a web gateway: one HTTP request per message, shaped by configuration.

URL and body are sandboxed Jinja templates (fsivr/engine/templates.py, the one users' SMS texts go
through) over the message; the body is sent as JSON or as a form and must parse as such, which is
checked when the worker starts, with sample values, rather than at the first message. The row's
idempotency key goes in a header, so a gateway that honours it drops the resend that follows a
worker killed between sending and recording the success.
"""

from __future__ import annotations

import json
import re
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
            with urllib.request.urlopen(request, timeout=self.settings.timeout) as answer:
                status, text = answer.status, answer.read(MAX_ANSWER).decode(errors="replace")
        except urllib.error.HTTPError as exc:
            text = exc.read(MAX_ANSWER).decode(errors="replace") if exc.fp else ""
            exc.close()
            raise SendFailed(f"SMS gateway {where} answered {exc.code} {exc.reason}: {_short(text)}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SendFailed(f"SMS gateway {where} unreachable: {reason}") from None
        if self.success and not self.success.search(text):
            raise SendFailed(f"SMS gateway {where} answered {status} without success "
                             f"(sms_http_success_regex): {_short(text)}")
        return f"SMS gateway {where} answered {status}: {_short(text)}"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 1] + "…"
