"""ESL wire format as FreeSWITCH's mod_event_socket writes and reads it.

Everything here is byte-exact against shared/esl-traces (see its README, "Framing"):

* command replies: ``Content-Type: command/reply`` first, no body;
* api responses: ``Content-Type`` then ``Content-Length`` then the raw body;
* events: ``Content-Length`` *before* ``Content-Type`` (mod_event_socket.c, read_packet);
* plain event bodies: ``Name: url-encoded-value`` lines and a blank line (switch_event.c,
  switch_event_serialize), encoded with switch_url_encode's rules (switch_utils.c).

Parsing of what the *server* sends follows mod_event_socket.c ``read_packet``: leading CR/LF are
skipped, the header block ends at the second consecutive LF (CRs are ignored while counting), the
first line is the command and the block's ``Content-Length`` header pulls in a body.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

# switch_utils.h: SWITCH_URL_UNSAFE; plus everything below ' ' or above '~'.
_UNSAFE = frozenset(b"\r\n #%&+:;<=>?@[\\]^`{|}\"")
_HEX = b"0123456789ABCDEF"
_ENC_TABLE: list[str] = [
    (f"%{b:02X}" if (b < 0x20 or b > 0x7E or b in _UNSAFE) else chr(b)) for b in range(256)
]
_SAFE_CACHE: dict[str, str] = {}

# mod_event_socket.c read_packet: a header block longer than this is cut.
MAX_HEADER_BYTES = 10485760

DISCONNECT_BODY = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def url_encode(value: str) -> str:
    """switch_url_encode (double_encode off): an existing ``%XX`` escape is kept as it is."""
    cached = _SAFE_CACHE.get(value)
    if cached is not None:
        return cached
    raw = value.encode("utf-8", "surrogateescape")
    out: list[str] = []
    n = len(raw)
    i = 0
    while i < n:
        b = raw[i]
        if b == 0x25 and i + 2 < n and raw[i + 1] in _HEX and raw[i + 2] in _HEX:
            out.append("%")
        else:
            out.append(_ENC_TABLE[b])
        i += 1
    result = "".join(out)
    if len(_SAFE_CACHE) < 50000:
        _SAFE_CACHE[value] = result
    return result


_LINE_CACHE: dict[tuple[str, str], str] = {}


def plain_line(name: str, value: str) -> str:
    """One serialized header; FreeSWITCH prints ``_undef_`` for an empty value.

    Memoised: most header lines (static variables, states, codec names) repeat across calls.
    """
    key = (name, value)
    line = _LINE_CACHE.get(key)
    if line is None:
        enc = url_encode(value)
        line = f"{name}: {enc if enc else '_undef_'}\n"
        if len(_LINE_CACHE) < 200000:
            _LINE_CACHE[key] = line
    return line


def command_reply(text: str) -> bytes:
    return f"Content-Type: command/reply\nReply-Text: {text}\n\n".encode()


def bgapi_reply(job_uuid: str) -> bytes:
    """mod_event_socket.c parse_command, bgapi: "~Reply-Text: +OK Job-UUID: %s\nJob-UUID: %s\n\n"
    (the '~' form of the reply carries extra headers; traces 00, 05)."""
    return (
        f"Content-Type: command/reply\nReply-Text: +OK Job-UUID: {job_uuid}\nJob-UUID: {job_uuid}\n\n"
    ).encode()


def api_response(body: str) -> bytes:
    data = body.encode()
    if not data:
        data = b"-ERR no reply\n"  # mod_event_socket.c api_exec
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(data) + data


def event_frame(body: bytes, fmt: str) -> bytes:
    return b"Content-Length: %d\nContent-Type: text/event-%s\n\n" % (len(body), fmt.encode()) + body


def json_body(headers: list[tuple[str, str]], body: str | None) -> bytes:
    """switch_event_serialize_json: one object, values verbatim, ARRAY:: values become lists."""
    obj: dict[str, object] = {}
    for name, value in headers:
        if value.startswith("ARRAY::"):
            obj[name] = value[7:].split("|:")
        else:
            obj[name] = value
    if body is not None:
        obj["Content-Length"] = str(len(body.encode()))
        obj["_body"] = body
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def linger_notice(uuid: str, channel_name: str, linger_time: int) -> bytes:
    return (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {uuid}\n"
        "Content-Disposition: linger\n"
        f"Channel-Name: {channel_name}\n"
        f"Linger-Time: {linger_time}\n"
        "Content-Length: 0\n\n"
    ).encode()


def disconnect_notice(uuid: str) -> bytes:
    return (
        "Content-Type: text/disconnect-notice\n"
        f"Controlled-Session-UUID: {uuid}\n"
        "Content-Disposition: disconnect\n"
        f"Content-Length: {len(DISCONNECT_BODY)}\n\n"
    ).encode() + DISCONNECT_BODY


@dataclass
class Command:
    """One packet from the server, as mod_event_socket's read_packet turns it into an event.

    ``text`` is the whole header block (FreeSWITCH's "Command" header holds all of it; handlers
    look at a prefix and cut at the first CR/LF), ``first_line`` is what a handler usually sees.
    """

    raw: bytes
    text: str
    first_line: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())


class CommandReader:
    """Incremental parser of server-to-FreeSWITCH packets (mod_event_socket.c, read_packet)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pending: tuple[bytes, str, str, dict[str, str], int] | None = None

    def feed(self, data: bytes) -> list[Command]:
        self._buf += data
        out: list[Command] = []
        while True:
            cmd = self._next()
            if cmd is None:
                return out
            out.append(cmd)

    def _next(self) -> Command | None:
        buf = self._buf
        if self._pending is not None:
            raw_head, text, first, headers, clen = self._pending
            if len(buf) < clen:
                return None
            body_bytes = bytes(buf[:clen])
            del buf[:clen]
            self._pending = None
            return Command(raw_head + body_bytes, text, first, headers, body_bytes.decode("utf-8", "replace"))
        # read_packet drops CR/LF that arrive before a packet starts.
        skip = 0
        while skip < len(buf) and buf[skip] in (0x0D, 0x0A):
            skip += 1
        if skip:
            del buf[:skip]
        if not buf:
            return None
        # End of block: two LFs with only CRs allowed between them.
        end = -1
        lf_count = 0
        for i in range(len(buf)):
            c = buf[i]
            if c == 0x0A:
                lf_count += 1
                if lf_count == 2:
                    end = i + 1
                    break
            elif c != 0x0D:
                lf_count = 0
        if end < 0:
            if len(buf) >= MAX_HEADER_BYTES:
                end = len(buf)
            else:
                return None
        raw_head = bytes(buf[:end])
        del buf[:end]
        text = raw_head.decode("utf-8", "replace")
        lines = [ln.rstrip("\r") for ln in text.replace("\r\n", "\n").split("\n")]
        first = lines[0] if lines else ""
        headers: dict[str, str] = {}
        clen = 0
        for line in lines[1:]:
            if not line or ":" not in line:
                continue  # read_packet ignores a line without ':'
            name, _, value = line.partition(":")
            value = value.lstrip(" ")
            key = name.lower()
            headers.setdefault(key, value)
            if key == "content-length":
                try:
                    clen = max(0, int(value.strip() or "0"))
                except ValueError:
                    clen = 0  # atoi() of garbage is 0
        if clen > 0:
            self._pending = (raw_head, text, first, headers, clen)
            return self._next()
        return Command(raw_head, text, first, headers, None)
