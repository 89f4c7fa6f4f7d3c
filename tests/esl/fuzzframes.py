"""Hypothesis strategies for ESL streams as a (possibly hostile) FreeSWITCH would send them, shared by
the frame-parser fuzz (tests/esl/test_frame_fuzz.py) and the live-server fuzz
(tests/esl/test_server_fuzz.py).

A stream is good frames, perhaps one bad frame among them, cut at arbitrary points. Good frames are
shaped as mod_event_socket writes them (trace README "Framing"): command replies, api responses with
a body, plain events (Content-Length first, URL-encoded values), JSON events, disconnect notices.
Bad frames are what issue 11 lists: wrong / doubled / negative / huge / non-numeric Content-Length,
bad URL-encoding, non-UTF-8, header lines without ': ', huge header blocks.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from urllib.parse import quote, unquote

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from fsivr.esl import frames

#: One profile for every fuzz test: reproducible in CI (derandomize: the examples are a function of
#: the test alone), no wall-clock deadline, no example database written into the work tree.
FUZZ = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])


#: The header-block limit the fuzz runs with (monkeypatched over frames.MAX_HEAD, 1 MiB): the same
#: code paths, at a size that lets thousands of examples hold blocks past it. The 1 MiB limit
#: itself is tested in test_frames.py and test_frame_fuzz.py's linear-time test.
FUZZ_MAX_HEAD = 64 * 1024


@dataclass
class Expected:
    """What the reader must make of one good frame."""

    content_type: str
    body: bytes
    headers: dict[str, str]
    #: For plain events: the event's own headers, decoded.
    event: dict[str, str] | None = None


@dataclass
class Stream:
    good_before: list[Expected] = field(default_factory=list)
    data: bytes = b""
    #: Where the bad frame starts (None: the stream is all good).
    bad_at: int | None = None
    bad_kind: str = ""
    chunks: list[bytes] = field(default_factory=list)


NAMES = ["Unique-ID", "Application", "Application-UUID", "Hangup-Cause", "Reply-Text", "Job-UUID",
         "variable_sip_from_user", "Caller-Caller-ID-Number", "DTMF-Digit", "X-Test"]
SPECIAL_VALUES = [b"%", b"%4", b"%G0", b"%E2%28%A1", b"%00", b"%FF%FE", b"\xff\xfe", b"caf\xc3\xa9", b"50%25 off %41",
                  b"+OK\r", b" : ", b"", b"\x00", b"-ERR", b"\xc0\xaf"]


# The bulk of every example comes from a Random that hypothesis seeds (st.randoms with
# use_true_random: one draw, reproducible under derandomize) - drawing every byte and length
# through hypothesis cost ~10 ms an example, too slow for 10,000 of them in every CI run.

def raw_value(rnd: random.Random) -> bytes:
    """Any bytes but LF: non-UTF-8, '%' sequences of every kind, sometimes past the 1 KB that
    puts a header block on the reader's lazy path."""
    pick = rnd.random()
    if pick < 0.4:
        return rnd.randbytes(rnd.randrange(40)).replace(b"\n", b"")
    if pick < 0.85:
        return rnd.choice(SPECIAL_VALUES) + rnd.choice(SPECIAL_VALUES)
    return rnd.choice([b"x", b"%41", b"\xe9"]) * rnd.randrange(300, 3000)


def text_value(rnd: random.Random) -> str:
    pick = rnd.random()
    if pick < 0.5:
        return "".join(chr(rnd.randrange(32, 127)) for _ in range(rnd.randrange(20)))
    if pick < 0.8:
        return rnd.choice(["\n", "%0A", "a\nb: c", "ąę€😀", "%", "\r\n", "+OK", ": ", "%25"])
    return "".join(chr(rnd.randrange(1, 0xD7FF)) for _ in range(rnd.randrange(10)))


def name(rnd: random.Random) -> str:
    return rnd.choice(NAMES) if rnd.random() < 0.5 else "X-" + "".join(
        rnd.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_") for _ in range(rnd.randrange(1, 12)))


def _head(lines: list[tuple[bytes, bytes]]) -> bytes:
    return b"\n".join(name + b": " + value for name, value in lines)


def _headers(lines: list[tuple[bytes, bytes]], *, decode: bool) -> dict[str, str]:
    """The reader's contract for a header block: last line of a name wins, values decoded as UTF-8
    (errors replaced), URL-decoded only in a serialized event (the connect reply)."""
    out: dict[str, str] = {}
    for key, value in lines:
        text = value.decode("utf-8", "replace")
        out[key.decode("utf-8", "replace")] = unquote(text) if decode and "%" in text else text
    return out


GOOD_KINDS = ("reply", "api", "event", "event_body", "json", "disconnect", "other")


def good_frame(rnd: random.Random) -> tuple[bytes, Expected]:
    kind = rnd.choice(GOOD_KINDS)
    extra = [(("X-" + name(rnd)).encode(), raw_value(rnd)) for _ in range(rnd.randrange(3))]
    if kind == "reply":
        lines = [(b"Content-Type", b"command/reply"), (b"Reply-Text", raw_value(rnd)), *extra]
        return _head(lines) + b"\n\n", Expected("command/reply", b"", _headers(lines, decode=False))
    if kind in ("api", "other"):
        body = rnd.randbytes(rnd.randrange(200))
        ctype = b"api/response" if kind == "api" else b"log/data"
        lines = [(b"Content-Type", ctype), (b"Content-Length", str(len(body)).encode()), *extra]
        return _head(lines) + b"\n\n" + body, Expected(ctype.decode(), body, _headers(lines, decode=False))
    if kind == "disconnect":
        lines = [(b"Content-Type", b"text/disconnect-notice"), (b"Content-Disposition", b"linger"),
                 (b"Content-Length", b"0")]
        return _head(lines) + b"\n\n", Expected("text/disconnect-notice", b"", _headers(lines, decode=False))
    if kind == "json":
        obj = {"Event-Name": name(rnd), **{name(rnd): text_value(rnd) for _ in range(rnd.randrange(4))}}
        body = json.dumps(obj, ensure_ascii=rnd.random() < 0.5).encode()
        lines = [(b"Content-Length", str(len(body)).encode()), (b"Content-Type", b"text/event-json")]
        return _head(lines) + b"\n\n" + body, Expected("text/event-json", body, _headers(lines, decode=False))
    # A plain event: its own header block, values URL-encoded as switch_event_serialize does, and
    # for BACKGROUND_JOB-like events its own body. Distinct names: Event.get reads the first of a
    # repeated header (as libesl's esl_event_get_header does), Event.headers the last; FreeSWITCH
    # repeats none.
    event = {"Event-Name": name(rnd)}
    for _ in range(rnd.randrange(6)):
        event.setdefault("X-" + name(rnd), text_value(rnd))
    inner = "".join(f"{n}: {quote(v, safe='')}\n" for n, v in event.items())
    own = b""
    if kind == "event_body":
        own = rnd.randbytes(rnd.randrange(60))
        inner += f"Content-Length: {len(own)}\n"
        event["Content-Length"] = str(len(own))
    body = inner.encode() + b"\n" + own
    lines = [(b"Content-Length", str(len(body)).encode()), (b"Content-Type", b"text/event-plain")]
    return _head(lines) + b"\n\n" + body, Expected("text/event-plain", body, _headers(lines, decode=False), event)


BAD_KINDS = ("cl_short", "cl_long", "cl_doubled", "cl_negative", "cl_huge", "cl_garbage", "bad_urlencoding",
             "non_utf8", "no_separator", "huge_header", "big_header", "stray_newlines", "garbage")


def bad_frame(rnd: random.Random, kind: str) -> bytes:
    body = rnd.randbytes(rnd.randrange(1, 80))
    ctype = rnd.choice([b"api/response", b"text/event-plain", b"command/reply", b"text/event-json"])
    if kind == "cl_short":
        return b"Content-Type: " + ctype + b"\nContent-Length: %d\n\n" % rnd.randrange(len(body)) + body
    if kind == "cl_long":
        n = len(body) + rnd.randrange(1, 500)
        return b"Content-Length: %d\nContent-Type: " % n + ctype + b"\n\n" + body
    if kind == "cl_doubled":
        a, b = rnd.randrange(200), rnd.randrange(200)
        return b"Content-Length: %d\nContent-Type: " % a + ctype + b"\nContent-Length: %d\n\n" % b + body
    if kind == "cl_negative":
        return b"Content-Length: -%d\nContent-Type: " % rnd.randrange(1, 2**40) + ctype + b"\n\n" + body
    if kind == "cl_huge":
        n = rnd.choice([frames.MAX_BODY + 1, 2**31, 2**63, 10**30])
        return b"Content-Length: %d\nContent-Type: " % n + ctype + b"\n\n" + body
    if kind == "cl_garbage":
        value = rnd.choice([b"", b" ", b"banana", b"1e3", b"0x10", b"\xbd", b"\xff\xfe", b"12 34",
                            b"\xef\xbc\x95", b"NaN"])
        return b"Content-Length: " + value + b"\nContent-Type: " + ctype + b"\n\n" + body
    if kind == "bad_urlencoding":
        value = rnd.choice([b"%", b"%%", b"%G0", b"%E2%28%A1", b"%C3", b"%00", b"%0A%0A", b"%ZZ%"])
        inner = b"Event-Name: CHANNEL_HANGUP\nHangup-Cause: " + value + b"\nUnique-ID: " + value + b"\n\n"
        return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner
    if kind == "non_utf8":
        junk = rnd.randbytes(rnd.randrange(1, 20)).replace(b"\n", b"") + b"\xff"
        inner = b"Event-Name: \xc0\xaf" + junk + b"\nApplication-UUID: " + junk + b"\n\n"
        return (b"Content-Length: %d\nContent-Type: text/event-plain\n" % len(inner) + b"X-" + junk + b": "
                + junk + b"\n\n" + inner)
    if kind == "no_separator":
        return b"Content-Type command/reply\n" + body.replace(b"\n", b"") + b"\n\n"
    if kind == "huge_header":
        # Never an empty line in it: refused once past MAX_HEAD, not buffered forever - and refused
        # too when the frames after it end it (then it arrives "whole").
        return b"X-Filler: " + b"a" * (frames.MAX_HEAD + rnd.randrange(1, 1000))
    if kind == "big_header":
        # Large but allowed: many lines, on the lazy path.
        lines = b"".join(b"X-H%d: %s\n" % (i, b"v" * 40) for i in range(rnd.randrange(100, frames.MAX_HEAD // 60)))
        return b"Content-Type: command/reply\n" + lines + b"Reply-Text: +OK\n\n"
    if kind == "stray_newlines":
        return b"\n" * rnd.randrange(1, 6)
    return body


@st.composite
def streams(draw: st.DrawFn, *, bad: bool | None = None, max_good: int = 6) -> Stream:
    """Good frames, perhaps one bad one (``bad``: always / never / None: either), and the points
    where TCP cuts the stream."""
    rnd = draw(st.randoms(use_true_random=True))
    with_bad = draw(st.booleans()) if bad is None else bad
    kind = draw(st.sampled_from(BAD_KINDS)) if with_bad else ""
    before = [good_frame(rnd) for _ in range(rnd.randrange(max_good + 1))]
    stream = Stream(good_before=[e for _, e in before], bad_kind=kind)
    data = b"".join(raw for raw, _ in before)
    if with_bad:
        stream.bad_at = len(data)
        data += bad_frame(rnd, kind)
        data += b"".join(good_frame(rnd)[0] for _ in range(rnd.randrange(4)))
    stream.data = data
    cuts = {rnd.randrange(len(data) + 1) for _ in range(rnd.randrange(13))}
    if rnd.random() < 0.2 and len(data) < 20_000:
        cuts |= set(range(0, len(data), rnd.choice([1, 2, 3, 7])))  # byte by byte, nearly
    if kind == "huge_header" and rnd.random() < 0.5:
        # The slow-loris shape: the big block in many small pieces.
        cuts |= set(range(stream.bad_at or 0, len(data), rnd.choice([97, 1009, 4099])))
    pieces, last = [], 0
    for cut in [*sorted(cuts), len(data)]:
        if cut > last:
            pieces.append(data[last:cut])
            last = cut
    stream.chunks = pieces
    return stream
