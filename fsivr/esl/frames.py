"""ESL wire framing: reading FreeSWITCH's messages and writing our commands.

A message is a header block ended by an empty line, followed by ``Content-Length`` bytes of body
(``../shared/esl-traces/README.md``, "Framing"). Events (``text/event-plain``) carry a second header
block in that body, with URL-encoded values. An event is ~3-4 KB and the engine reads a handful of
its headers, so event headers are found on demand with ``bytes.find`` and decoded one at a time;
the full dict is only built when someone asks for all of it.

Why not greenswitch's parser: ``ESLEvent.parse_data`` URL-decodes the whole block *before* splitting
it into lines, so a value holding ``%0A`` (a newline, e.g. in ``Reply-Text: %2BOK%0A`` of the connect
reply) splits into a bogus header, and it decodes every header of every event.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import unquote

#: Refuse bodies larger than this: a corrupt or hostile Content-Length must not make us buffer GBs.
MAX_BODY = 16 * 1024 * 1024
#: Refuse header blocks larger than this (the connect reply, the largest, is ~4-90 KB in the traces).
MAX_HEAD = 1024 * 1024
#: One recv() at most; events are 3-7 KB and FreeSWITCH writes each whole.
RECV_SIZE = 65536
#: Header blocks longer than this (in practice only the connect reply, a whole CHANNEL_DATA event
#: of ~4 KB) are checked line by line but decoded lazily, one header at a time, like events.
_LAZY_HEAD = 1024


#: The tail of the outer header block of a plain event ("Content-Length: N" comes first).
_PLAIN_EVENT_HEAD = b"\nContent-Type: text/event-plain"


class ProtocolError(Exception):
    """FreeSWITCH (or whatever is on the other end) sent something that is not ESL."""


class ConnectionClosed(Exception):
    """The TCP connection ended (EOF or reset)."""


def _parse_block(block: bytes, *, decode: bool) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in block.split(b"\n"):
        if not line:
            continue
        name, sep, value = line.partition(b": ")
        if not sep:
            if line.endswith(b":"):  # an empty value is written as "Name: " but be lenient on "Name:"
                name, value = line[:-1], b""
            else:
                raise ProtocolError(f"header line without ': ' separator: {line[:80]!r}")
        text = value.decode("utf-8", "replace")
        headers[name.decode("utf-8", "replace")] = unquote(text) if decode and "%" in text else text
    return headers


def _check_block(block: bytes) -> None:
    """What _parse_block would refuse, without decoding anything."""
    # Two C-level counts settle the usual case (one ": " per line, URL-encoded values hold no
    # spaces); only a block that fails them is looked at line by line.
    if block.count(b": ") == block.count(b"\n") + 1:
        return
    for line in block.split(b"\n"):
        if line and b": " not in line and not line.endswith(b":"):
            raise ProtocolError(f"header line without ': ' separator: {line[:80]!r}")


def _last_value(block: bytes, name: bytes) -> str | None:
    """The value _parse_block would give for ``name``: the last such line wins, as in a dict."""
    key = b"\n" + name + b": "
    pos = block.rfind(key)
    if pos >= 0:
        start = pos + len(key)
    elif block.startswith(key[1:]):
        start = len(key) - 1
    else:
        return None
    end = block.find(b"\n", start)
    text = (block[start:] if end < 0 else block[start:end]).decode("utf-8", "replace")
    return unquote(text) if "%" in text else text


class Event:
    """One event (plain or JSON), with lazy header access.

    ``get`` scans the raw block for one header and decodes only that value; ``headers`` parses
    everything once. Events with their own body (BACKGROUND_JOB, api results) expose it as ``body``.
    """

    __slots__ = ("_all", "body", "raw")

    def __init__(self, raw: bytes, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.raw = raw
        self.body = body
        self._all = headers

    @classmethod
    def from_plain(cls, data: bytes) -> Event:
        if data.endswith(b"\n\n") and b"\nContent-Length: " not in data:
            # The usual case, no body (FreeSWITCH adds Content-Length only for one,
            # switch_event_serialize): keep the block as it is - the trailing empty line is
            # harmless to get() and headers - rather than copy 3-5 KB per event. A search for
            # this long needle is ~3x faster than one for the two-byte b"\n\n".
            return cls(data)
        end = data.find(b"\n\n")
        if end < 0:
            return cls(data.rstrip(b"\n"))
        if end + 2 == len(data):
            return cls(data)
        # An event with a body carries "Content-Length: M" in its own headers, then the body.
        return cls(data[:end], data[end + 2:])

    @classmethod
    def from_json(cls, data: bytes) -> Event:
        try:
            obj = json.loads(data)
        except ValueError as exc:
            raise ProtocolError(f"text/event-json body is not JSON: {exc}") from None
        if not isinstance(obj, dict):
            raise ProtocolError("text/event-json body is not a JSON object")
        body = obj.pop("_body", "")
        headers = {str(k): str(v) for k, v in obj.items()}
        return cls(b"", body.encode() if isinstance(body, str) else b"", headers)

    def get(self, name: str, default: str | None = None) -> str | None:
        if self._all is not None:
            return self._all.get(name, default)
        raw = self.raw
        key = name.encode() + b": "
        if raw.startswith(key):
            start = len(key)
        else:
            pos = raw.find(b"\n" + key)
            if pos < 0:
                return default
            start = pos + 1 + len(key)
        end = raw.find(b"\n", start)
        value = (raw[start:] if end < 0 else raw[start:end]).decode("utf-8", "replace")
        return unquote(value) if "%" in value else value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    @property
    def headers(self) -> dict[str, str]:
        if self._all is None:
            self._all = _parse_block(self.raw, decode=True)
        return self._all

    @property
    def name(self) -> str | None:
        return self.get("Event-Name")

    def variable(self, name: str) -> str | None:
        return self.get("variable_" + name)

    def __repr__(self) -> str:
        return f"<Event {self.name} {self.get('Application') or ''}>"


class Frame:
    """One ESL message: its outer headers and its body.

    ``headers`` is parsed on first use when the reader kept the block raw (``head``).
    """

    __slots__ = ("_head", "_headers", "body", "content_type")

    def __init__(self, headers: dict[str, str] | None, body: bytes, head: bytes = b"",
                 content_type: str | None = None) -> None:
        self._headers = headers
        self._head = head
        self.body = body
        if content_type is None:
            content_type = self.headers.get("Content-Type", "")
        self.content_type = content_type

    @property
    def headers(self) -> dict[str, str]:
        if self._headers is None:
            # As FrameReader.next decodes a short block: only a serialized event (the connect
            # reply) is URL-encoded; a long getvar reply's value stays as FreeSWITCH sent it.
            self._headers = _parse_block(self._head, decode=self._head.startswith(b"Event-Name: "))
        return self._headers

    def header_event(self) -> Event:
        """The header block read as an event: the connect reply *is* a CHANNEL_DATA event."""
        if self._headers is None:
            return Event(self._head)
        return Event(b"", headers=self._headers)

    @property
    def reply_text(self) -> str:
        return self.headers.get("Reply-Text", "")

    def event(self) -> Event:
        if self.content_type == "text/event-json":
            return Event.from_json(self.body)
        return Event.from_plain(self.body)

    def __repr__(self) -> str:
        return f"<Frame {self.content_type} {len(self.body)}B>"


class FrameReader:
    """Whole ESL messages out of a byte stream: pushed in (``feed`` + ``next``, the connection's
    I/O callback) or pulled from a blocking socket (``read``).

    Linear in the bytes received however they are cut: a frame known to be incomplete is not
    re-copied nor re-scanned per piece (pieces that cannot complete it wait in a list, and the
    search for a header block's end resumes where it stopped). It was quadratic: a hostile peer
    trickling a 1 MiB header block in 100-byte pieces held the hub — every call — for ~7 s.
    """

    __slots__ = ("_buf", "_head_from", "_more", "_more_len", "_need", "_pos", "_sock")

    def __init__(self, sock: socket.socket | None = None) -> None:
        self._sock = sock
        self._buf = b""
        self._pos = 0
        #: Buffer length the frame at _pos needs (its body is still arriving): no use looking before.
        self._need = 0
        #: Where the search for the end of the header block at _pos resumes (0: from _pos).
        self._head_from = 0
        #: Pieces received since the frame at _pos was found incomplete that cannot complete it yet.
        self._more: list[bytes] = []
        self._more_len = 0

    def feed(self, data: bytes) -> None:
        """Append received bytes, first dropping what has been consumed."""
        more = self._more
        if more:
            prev = more[-1]
            more.append(data)
            self._more_len += len(data)
            if not self._completes(data, prev):
                return
            data = b"".join(more)
            self._more, self._more_len = [], 0
        elif (self._need > len(self._buf) or self._head_from) and not self._completes(data, self._buf):
            # next() found the frame at _pos incomplete and this piece cannot complete it.
            self._more, self._more_len = [data], len(data)
            return
        if self._pos:
            self._buf = self._buf[self._pos:]
            self._need -= self._pos
            if self._head_from:
                self._head_from -= self._pos
            self._pos = 0
        self._buf += data

    def _completes(self, data: bytes, prev: bytes) -> bool:
        """Whether ``data`` (after ``prev`` and what waits in _more) may end the frame at _pos,
        or make it too long to wait for: then next() must look."""
        have = len(self._buf) - self._pos + self._more_len + (0 if self._more else len(data))
        if self._need > len(self._buf):
            return len(self._buf) + self._more_len + (0 if self._more else len(data)) >= self._need
        return (b"\n\n" in data or (data[:1] == b"\n" and prev[-1:] == b"\n")) or have > MAX_HEAD

    def _fill(self) -> None:
        """Append one recv() to the buffer."""
        assert self._sock is not None
        try:
            chunk = self._sock.recv(RECV_SIZE)
        except OSError as exc:
            raise ConnectionClosed(str(exc)) from None
        if not chunk:
            raise ConnectionClosed("EOF")
        self.feed(chunk)

    def read(self) -> Frame:
        """The next frame, reading the socket as long as it takes."""
        while True:
            frame = self.next()
            if frame is not None:
                return frame
            self._fill()

    def next(self) -> Frame | None:
        """The next whole frame in what was fed, or None until more arrives."""
        buf = self._buf
        if len(buf) < self._need or self._more:
            return None
        while True:
            end = buf.find(b"\n\n", max(self._pos, self._head_from))
            if end < 0:
                if len(buf) - self._pos > MAX_HEAD:
                    raise ProtocolError(f"header block longer than {MAX_HEAD} bytes without an empty line")
                # Resume at the last byte: its LF may be the first of the two.
                self._head_from = max(self._pos, len(buf) - 1)
                return None
            self._head_from = 0
            head = buf[self._pos:end]
            if head.strip(b"\n"):
                break
            # A stray empty line between messages is not a message; FreeSWITCH never sends one,
            # but a reader that took it for a header block would desynchronise.
            self._pos = end + 2
        if len(head) > MAX_HEAD:
            # Ended, but too long all the same (it arrived whole, so the check above never saw it).
            raise ProtocolError(f"header block longer than {MAX_HEAD} bytes")
        # The connect reply is a whole CHANNEL_DATA event in the header block, URL-encoded (traces,
        # 01-connect): decode values of every header block; outer headers of other messages hold
        # no '%', so decoding costs nothing there. That block is large and the engine reads a
        # few of its headers, so it is only checked here and decoded header by header later.
        headers: dict[str, str] | None
        if head.endswith(_PLAIN_EVENT_HEAD) and head.startswith(b"Content-Length: ") and head.count(b"\n") == 1:
            # What mod_event_socket writes before every plain event, exactly: no dict needed
            # (Frame.headers parses it if asked).
            headers = None
            content_type = "text/event-plain"
            length_text = head[16:-len(_PLAIN_EVENT_HEAD)].decode("latin-1")
        elif len(head) > _LAZY_HEAD:
            _check_block(head)
            headers = None
            content_type = _last_value(head, b"Content-Type") or ""
            length_text = _last_value(head, b"Content-Length")
        else:
            # Only a serialized event (the connect reply) is URL-encoded; a getvar reply's
            # Reply-Text is the raw value ("%41" stays "%41").
            headers = _parse_block(head, decode=head.startswith(b"Event-Name: "))
            content_type = headers.get("Content-Type", "")
            length_text = headers.get("Content-Length")
        start = end + 2
        if length_text is None:
            self._consumed(start)
            return Frame(headers, b"", head, content_type)
        try:
            length = int(length_text)
        except ValueError:
            raise ProtocolError(f"Content-Length is not a number: {length_text[:40]!r}") from None
        if length < 0 or length > MAX_BODY:
            raise ProtocolError(f"Content-Length {length} out of range (0..{MAX_BODY})")
        if len(buf) - start < length:
            # The body is still arriving: the head is read again once it is all here.
            self._need = start + length
            return None
        self._consumed(start + length)
        return Frame(headers, buf[start:start + length], head, content_type)

    def _consumed(self, pos: int) -> None:
        self._need = 0
        self._head_from = 0
        if pos == len(self._buf):
            self._buf, self._pos = b"", 0
        else:
            self._pos = pos


def command(text: str) -> bytes:
    """A one-line command (``connect``, ``myevents``, ``api ...``)."""
    if "\n" in text or "\r" in text:
        raise ValueError(f"ESL command must be one line: {text[:60]!r}")
    return text.encode() + b"\n\n"


def sendmsg(app: str, arg: str | None, event_uuid: str, *, lock: bool = False,
            loops: int | None = None, extra: dict[str, Any] | None = None) -> bytes:
    """``sendmsg`` executing an application, tagged with ``event-uuid`` so its completion can be
    matched by Application-UUID (mod_event_socket copies the header into the execute event)."""
    if not app or not all(c.isalnum() or c in "_-:" for c in app):
        raise ValueError(f"bad application name {app!r}")
    lines = ["sendmsg", "call-command: execute", f"execute-app-name: {app}", f"event-uuid: {event_uuid}"]
    if lock:
        lines.append("event-lock: true")
    if loops is not None:
        lines.append(f"loops: {loops}")
    for key, value in (extra or {}).items():
        if "\n" in f"{key}{value}":
            raise ValueError(f"sendmsg header {key!r} must be one line")
        lines.append(f"{key}: {value}")
    if arg is None or arg == "":
        return ("\n".join(lines) + "\n\n").encode()
    data = arg.encode()
    if b"\n" not in data and len(data) < 2048:
        lines.insert(3, f"execute-app-arg: {arg}")
        return ("\n".join(lines) + "\n\n").encode()
    # Multi-line or long arguments go in the body (trace 02: "content-type: text/plain").
    lines += ["content-type: text/plain", f"content-length: {len(data)}"]
    return ("\n".join(lines) + "\n\n").encode() + data
