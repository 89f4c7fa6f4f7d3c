"""E-mail notifications: an ``email.message.EmailMessage`` with attachments, sent over SMTP.

The Message-ID is derived from the outbox row's idempotency key, so a message re-sent after a
worker died mid-send carries the same Message-ID as the first try: mail stores and people see it is
the same message (RFC 5322 §3.6.4: one Message-ID names one message).
"""

from __future__ import annotations

import functools
import hashlib
import mimetypes
import re
import smtplib
import socket
import ssl
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses
from pathlib import Path
from typing import Any

from fsivr.worker.errors import PermanentFailure, SendFailed

SECURITY = ("starttls", "ssl", "none")
#: One SMTP connection carries a run of messages (RSET before each after the first): a connect,
#: EHLO (and TLS handshake, login) per message was most of an e-mail's cost to the worker
#: (bench/outbox.py). It is closed (QUIT) after this many messages — servers cap messages per
#: connection (Exim: 1000 by default; others less), and a fresh one now and then costs little —
#: and not reused once idle this many seconds: a connection a NAT box or firewall dropped silently
#: would make the RSET hang for the whole smtp_timeout, and servers close idle clients anyway.
MAX_PER_CONNECTION = 100
REUSE_IDLE = 10.0
#: Biggest attachment total accepted when queueing (most servers refuse mail above 25-50 MB).
MAX_ATTACHMENTS = 20 * 1024 * 1024


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 587
    security: str = "starttls"
    user: str = ""
    #: repr=False: a settings object that ends up in a log line must not carry the password there.
    password: str = field(default="", repr=False)
    cafile: str = ""
    sender: str = "fsivr@localhost"
    timeout: float = 60.0

    def __post_init__(self) -> None:
        if self.security not in SECURITY:
            raise ValueError(f"smtp_security {self.security!r}: expected one of {', '.join(SECURITY)}")
        check_addresses([self.sender], "smtp_from")

    @classmethod
    def from_config(cls, cfg: Any) -> SmtpSettings:
        return cls(host=cfg.smtp_host, port=cfg.smtp_port, security=cfg.smtp_security.lower(),
                   user=cfg.smtp_user, password=cfg.smtp_password, cafile=cfg.smtp_cafile,
                   sender=cfg.smtp_from, timeout=cfg.smtp_timeout)


def check_addresses(addresses: Sequence[str], what: str) -> list[str]:
    """Each entry one ``name <user@host>`` or ``user@host``; raises ValueError naming the bad one."""
    out = []
    for raw in addresses:
        parsed = getaddresses([raw])
        if len(parsed) != 1 or "@" not in parsed[0][1] or not parsed[0][1].split("@")[1]:
            raise ValueError(f"{what}: {raw!r} is not an e-mail address")
        out.append(raw)
    return out


def email_payload(to: Sequence[str] | str, subject: str, text: str, *, html: str | None = None,
                  attachments: Sequence[str | dict[str, str]] = (), cc: Sequence[str] = (),
                  reply_to: str | None = None, sender: str | None = None) -> dict[str, Any]:
    """The outbox payload of an e-mail, checked now so a mistake fails the node, not the worker.

    An attachment is a path (read when the mail is sent: voicemail audio, a received fax) or
    ``{"path": ..., "filename": ..., "content_type": ...}``."""
    recipients = [to] if isinstance(to, str) else list(to)
    if not recipients:
        raise ValueError("an e-mail needs at least one recipient")
    check_addresses(recipients, "to")
    check_addresses(list(cc), "cc")
    if reply_to:
        check_addresses([reply_to], "reply_to")
    if sender:
        check_addresses([sender], "from")
    if "\n" in subject or "\r" in subject:
        raise ValueError("an e-mail subject is one line")
    files = []
    total = 0
    for item in attachments:
        spec = {"path": item} if isinstance(item, str) else dict(item)
        path = Path(spec["path"])
        if not path.is_file():
            raise ValueError(f"attachment {path} does not exist")
        total += path.stat().st_size
        files.append({k: str(v) for k, v in spec.items()})
    if total > MAX_ATTACHMENTS:
        raise ValueError(f"attachments total {total} bytes, more than {MAX_ATTACHMENTS}")
    payload: dict[str, Any] = {"to": recipients, "subject": subject, "text": text}
    for name, value in (("cc", list(cc)), ("html", html), ("reply_to", reply_to), ("from", sender),
                        ("attachments", files)):
        if value:
            payload[name] = value
    return payload


def message_id(key: str, sender: str) -> str:
    """``<hash-of-key@sender's domain>``: the same key always gives the same Message-ID."""
    return f"<{hashlib.sha256(key.encode()).hexdigest()[:40]}.fsivr@{_domain(sender)}>"


@functools.lru_cache(maxsize=64)
def _domain(sender: str) -> str:
    return getaddresses([sender])[0][1].rpartition("@")[2] or "localhost"


@functools.lru_cache(maxsize=512)
def _address_header(name: str, value: str) -> Any:
    """An address header (From, To, Cc, Reply-To) parsed once: parsing one with the default policy
    was ~0.2 ms of CPU, and the same few senders and mailboxes recur (bench/outbox.py). The parsed
    header is immutable and is what ``msg[name] = value`` would have stored (the same check first:
    no line breaks, so no header injection)."""
    if len(value.splitlines()) > 1:
        raise ValueError("Header values may not contain linefeed or carriage return characters")
    return email_policy.default.header_factory(name, value)


@dataclass(frozen=True)
class Plain:
    """A plain message ready to send: the envelope and the bytes ``smtplib.send_message`` would
    have sent for ``build_message``'s message."""

    sender: str
    recipients: list[str]
    data: bytes
    message_id: str


#: The most a header line or body line may be for plain_message (the default policy's
#: max_line_length: longer ones are folded or encoded, which plain_message leaves to the email package).
_MAX_LINE = 78


def _plain_text(value: str) -> bool:
    """Printable ASCII with nothing the default policy would rewrite: no encoded words, no
    leading, trailing or doubled blanks."""
    return (value.isascii() and value.isprintable() and "=?" not in value and value == value.strip()
            and "  " not in value)


#: ``user@example.com`` or ``Some Name <user@example.com>`` in the plainest spelling: the default
#: policy's parser gives these back as they are (no quoting, no comments), and the address is the
#: envelope's. Anything else is checked by that parser (plain_message).
_ADDR_SPEC = r"[A-Za-z0-9_%+-]+(?:\.[A-Za-z0-9_%+-]+)*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_SIMPLE_ADDRESS = re.compile(rf"[A-Za-z0-9]+(?: [A-Za-z0-9]+)* <(?P<named>{_ADDR_SPEC})>|(?P<bare>{_ADDR_SPEC})")


def _envelope(fields: list[str]) -> list[str]:
    """The addresses of header values, as smtplib's send_message takes them (getaddresses),
    without parsing the simplest spellings."""
    out: list[str] = []
    for field_value in fields:
        for one in field_value.split(", "):
            m = _SIMPLE_ADDRESS.fullmatch(one)
            if m is None:
                return [address for _, address in getaddresses(fields)]
            out.append(m.group("named") or m.group("bare"))
    return out


def plain_message(payload: dict[str, Any], key: str, default_sender: str,
                  now: datetime | None = None) -> Plain | None:
    """The common notification — text only, ASCII, short lines — written directly, byte for byte
    what ``build_message`` + ``smtplib.send_message`` produce (tests/worker/test_email.py checks
    it on a range of messages); None for anything else (HTML, attachments, non-ASCII, long lines,
    unusual addresses), which goes through the email package. That package's default policy
    (parsing every header into a tree, folding each back on output) was ~1.5 ms of CPU per
    message, the largest single cost of a notification after the SMTP connection was kept
    (bench/outbox.py)."""
    if payload.get("html") or payload.get("attachments"):
        return None
    sender = payload.get("from") or default_sender
    subject = payload.get("subject", "")
    text = payload.get("text", "")
    if not isinstance(subject, str) or not isinstance(text, str) or not subject or not _plain_text(subject):
        return None
    headers = [("From", sender), ("To", ", ".join(payload["to"]))]
    if payload.get("cc"):
        headers.append(("Cc", ", ".join(payload["cc"])))
    if payload.get("reply_to"):
        headers.append(("Reply-To", payload["reply_to"]))
    rendered = []
    for name, value in headers:
        if not isinstance(value, str) or not _plain_text(value):
            return None
        if not all(_SIMPLE_ADDRESS.fullmatch(one) for one in value.split(", ")):
            parsed = _address_header(name, value)
            # Only what the parser hands back unchanged: no groups, no defects, nothing re-quoted.
            if str(parsed) != value or parsed.defects or any(g.display_name is not None for g in parsed.groups):
                return None
        rendered.append(f"{name}: {value}")
    mid = message_id(key, sender)
    when = (now or datetime.now(UTC)).replace(microsecond=0)
    rendered += [f"Subject: {subject}", f"Date: {format_datetime(when)}", f"Message-ID: {mid}",
                 'Content-Type: text/plain; charset="utf-8"', "Content-Transfer-Encoding: 7bit",
                 "MIME-Version: 1.0"]
    if any(len(line) > _MAX_LINE for line in rendered):
        return None
    if not text.isascii():
        return None
    lines = text.encode("ascii").splitlines()
    if any(len(line) > _MAX_LINE for line in lines):
        return None
    # send_message's generator escapes a body line starting "From " (mbox style) as ">From ".
    body = b"\r\n".join(b">" + line if line.startswith(b"From ") else line for line in lines) + b"\r\n"
    envelope_from = _envelope([sender])[0]
    recipients = _envelope([value for name, value in headers if name in ("To", "Cc")])
    return Plain(envelope_from, recipients, ("\r\n".join(rendered) + "\r\n\r\n").encode("ascii") + body, mid)


def build_message(payload: dict[str, Any], key: str, default_sender: str,
                  now: datetime | None = None) -> EmailMessage:
    sender = payload.get("from") or default_sender
    msg = EmailMessage()
    msg["From"] = _address_header("From", sender)
    msg["To"] = _address_header("To", ", ".join(payload["to"]))
    if payload.get("cc"):
        msg["Cc"] = _address_header("Cc", ", ".join(payload["cc"]))
    if payload.get("reply_to"):
        msg["Reply-To"] = _address_header("Reply-To", payload["reply_to"])
    msg["Subject"] = payload.get("subject", "")
    # A datetime rather than formatdate()'s text, which the header would parse back (same output).
    msg["Date"] = (now or datetime.now(UTC)).replace(microsecond=0)
    msg["Message-ID"] = message_id(key, sender)
    msg.set_content(payload.get("text", ""))
    if payload.get("html"):
        msg.add_alternative(payload["html"], subtype="html")
    for spec in payload.get("attachments", []):
        path = Path(spec["path"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise PermanentFailure(f"attachment {path}: {exc.strerror}") from None
        ctype = spec.get("content_type") or mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        maintype, _, subtype = ctype.partition("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                           filename=spec.get("filename") or path.name)
    return msg


class EmailSender:
    """The outbox handler of kind ``email``."""

    kind = "email"
    #: smtplib waits on its socket outside gevent: sent on a thread (fsivr.worker.loop.blocks).
    blocking = True

    def __init__(self, settings: SmtpSettings, clock: Any = time.monotonic) -> None:
        self.settings = settings
        self._tls: ssl.SSLContext | None = None
        self._clock = clock
        #: The open connection, the messages sent on it, and when it was last used (``_clock``).
        self._smtp: smtplib.SMTP | None = None
        self._sent_on = 0
        self._used_at = 0.0
        #: Connections opened (for tests and the curious).
        self.connects = 0

    def _context(self) -> ssl.SSLContext:
        """One TLS context for every message: building one loads the system's CA store, ~30 ms of
        CPU — most of a message's cost when it was done per message (bench/outbox.py). The CA
        file is therefore read once per worker; a changed ``smtp_cafile`` needs a restart."""
        if self._tls is None:
            self._tls = ssl.create_default_context(cafile=self.settings.cafile or None)
        return self._tls

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def __call__(self, payload: dict[str, Any], key: str) -> str:
        try:
            plain = plain_message(payload, key, self.settings.sender)
            msg = build_message(payload, key, self.settings.sender) if plain is None else None
        except (KeyError, ValueError, TypeError) as exc:
            raise PermanentFailure(f"malformed e-mail payload: {exc}") from None
        try:
            smtp = self._connection()
            try:
                if plain is not None:
                    refused = smtp.sendmail(plain.sender, plain.recipients, plain.data)
                else:
                    assert msg is not None
                    refused = smtp.send_message(msg)
            except BaseException:
                # Whatever went wrong (a refusal, a timeout, the server gone), the next message
                # starts on a fresh connection: the state of this one is not worth guessing.
                self.close(quit=False)
                raise
            self._sent_on += 1
            self._used_at = self._clock()
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            text = "; ".join(f"{rcpt}: {code} {_text(reply)}" for rcpt, (code, reply) in exc.recipients.items())
            error = PermanentFailure if all(c >= 500 for c in codes) else SendFailed
            raise error(f"SMTP {self.where} refused every recipient: {text}") from None
        except smtplib.SMTPAuthenticationError as exc:
            # Retried: a wrong password is fixed in the configuration, not in the message.
            raise SendFailed(f"SMTP {self.where} refused the login of {self.settings.user!r}: "
                             f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            error = PermanentFailure if exc.smtp_code >= 500 else SendFailed
            raise error(f"SMTP {self.where} refused the message: {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SendFailed(f"SMTP {self.where}: {exc}") from None
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(f"SMTP {self.where}: {exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"SMTP {self.where}: {type(exc).__name__}: {exc}") from None
        accepted = len(payload["to"]) + len(payload.get("cc", []))
        note = f"; refused: {', '.join(sorted(refused))}" if refused else ""
        mid = plain.message_id if plain is not None else msg["Message-ID"]  # type: ignore[index]
        return f"accepted by {self.where} for {accepted - len(refused)} recipient(s) as {mid}{note}"

    def _connection(self) -> smtplib.SMTP:
        """The open connection when it is fit to carry the next message (RSET answered 250 —
        a connection the server closed meanwhile fails here, before anything of the message was
        sent), else a new one. A failure to connect is the send's failure."""
        smtp = self._smtp
        if smtp is not None:
            if self._sent_on >= MAX_PER_CONNECTION or self._clock() - self._used_at >= REUSE_IDLE:
                self.close()  # QUIT only if it was used a moment ago (close())
            else:
                try:
                    code, _ = smtp.rset()
                except (smtplib.SMTPException, OSError):
                    code = 0
                if code == 250:
                    return smtp
                self.close(quit=False)
        smtp = self._connect()
        self.connects += 1
        self._smtp, self._sent_on, self._used_at = smtp, 0, self._clock()
        return smtp

    def close(self, quit: bool = True) -> None:
        """Close the connection, if any (``quit``: say QUIT first — only on a connection used less
        than REUSE_IDLE ago: one dropped silently would make QUIT wait for smtp_timeout)."""
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            if quit and self._clock() - self._used_at < REUSE_IDLE:
                smtp.quit()
        except (smtplib.SMTPException, OSError):
            pass
        finally:
            smtp.close()

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        # An explicit EHLO name: smtplib's default is socket.getfqdn(), a DNS lookup per message
        # that can take seconds in a container without reverse DNS.
        local = socket.gethostname()
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, local_hostname=local, timeout=s.timeout,
                                    context=self._context())
        else:
            smtp = smtplib.SMTP(s.host, s.port, local_hostname=local, timeout=s.timeout)
        try:
            if s.security == "starttls":
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    # Never fall back to sending the login in clear text.
                    raise smtplib.SMTPNotSupportedError("the server does not offer STARTTLS "
                                                        "(smtp_security: starttls)")
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if s.user:
                smtp.login(s.user, s.password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _text(reply: bytes | str) -> str:
    text = reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
