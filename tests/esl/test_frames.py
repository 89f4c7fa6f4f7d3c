"""The frame layer against every message a real FreeSWITCH sent in the recorded traces."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from fsivr.esl import frames
from fsivr.esl.frames import Event, FrameReader, ProtocolError


class ChunkedSocket:
    """A socket stand-in that hands out the stream in fixed-size pieces (worst-case TCP splits)."""

    def __init__(self, data: bytes, chunk: int) -> None:
        self.data, self.pos, self.chunk = data, 0, chunk

    def recv(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + min(n, self.chunk)]
        self.pos += len(out)
        return out


def recorded_streams(traces: Path) -> dict[str, list[bytes]]:
    streams: dict[str, list[bytes]] = {}
    for path in sorted(traces.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            rec = json.loads(line)
            if rec.get("dir") == "recv":
                streams.setdefault(f"{path.stem}/{rec['conn']}", []).append(rec["data"].encode("latin-1"))
    return streams


def test_every_recorded_message_parses_whole(traces_dir: Path) -> None:
    streams = recorded_streams(traces_dir)
    assert len(streams) > 20
    count = 0
    for name, messages in streams.items():
        for chunk in (1, 13, 65536):
            reader = FrameReader(ChunkedSocket(b"".join(messages), chunk))  # type: ignore[arg-type]
            for raw in messages:
                frame = reader.read()
                count += 1
                head, _, body = raw.partition(b"\n\n")
                assert frame.body == body, name
                assert frame.content_type == frames._parse_block(head, decode=True)["Content-Type"], name
    assert count >= 971 * 3


def test_lazy_event_headers_equal_full_parse(traces_dir: Path) -> None:
    for name, messages in recorded_streams(traces_dir).items():
        reader = FrameReader(ChunkedSocket(b"".join(messages), 65536))  # type: ignore[arg-type]
        for _ in messages:
            frame = reader.read()
            if frame.content_type != "text/event-plain":
                continue
            full = frames._parse_block(frame.event().raw, decode=True)
            lazy = frame.event()
            for key, value in full.items():
                assert lazy.get(key) == value, (name, key)


def test_connect_reply_values_are_decoded(traces_dir: Path) -> None:
    messages = recorded_streams(traces_dir)["01-connect/outbound#1"]
    frame = FrameReader(ChunkedSocket(b"".join(messages), 4096)).read()  # type: ignore[arg-type]
    assert frame.headers["Event-Name"] == "CHANNEL_DATA"
    # "%2BOK%0A" on the wire; greenswitch's whole-block unquote would split this line in two.
    assert frame.headers["Reply-Text"] == "+OK\n"
    assert frame.headers["Socket-Mode"] == "async"
    assert frame.headers["Caller-Caller-ID-Number"] == "15551230001"


def test_event_with_its_own_body() -> None:
    raw = b"Event-Name: BACKGROUND_JOB\nJob-UUID: abc\nContent-Length: 4\n\n+OK\n"
    event = Event.from_plain(raw)
    assert event.name == "BACKGROUND_JOB"
    assert event.body == b"+OK\n"


@pytest.mark.parametrize("stream, message", [
    (b"Content-Type: text/event-plain\nContent-Length: x\n\n", "not a number"),
    (b"Content-Type: text/event-plain\nContent-Length: -1\n\n", "out of range"),
    (b"Content-Type: text/event-plain\nContent-Length: 999999999999\n\n", "out of range"),
    (b"Content-Type command/reply\n\n", "without ': '"),
])
def test_malformed_frames_name_the_fault(stream: bytes, message: str) -> None:
    reader = FrameReader(ChunkedSocket(stream, 64))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match=message):
        reader.read()


def test_endless_header_block_is_refused() -> None:
    reader = FrameReader(ChunkedSocket(b"X-Filler: " + b"a" * (frames.MAX_HEAD + 10), 65536))  # type: ignore[arg-type]
    with pytest.raises(ProtocolError, match="header block longer"):
        reader.read()


def test_sendmsg_shapes() -> None:
    assert frames.sendmsg("playback", "/tmp/a.wav", "u-1") == (
        b"sendmsg\ncall-command: execute\nexecute-app-name: playback\nexecute-app-arg: /tmp/a.wav\n"
        b"event-uuid: u-1\n\n")
    body = frames.sendmsg("set", "x=a\nb", "u-2")
    assert body.endswith(b"content-type: text/plain\ncontent-length: 5\n\nx=a\nb")
    with pytest.raises(ValueError):
        frames.sendmsg("play back", None, "u-3")
    with pytest.raises(ValueError):
        frames.command("api status\nexit")


def test_reader_reports_eof() -> None:
    a, b = socket.socketpair()
    b.close()
    with pytest.raises(frames.ConnectionClosed):
        FrameReader(a).read()
    a.close()


def test_a_plain_reply_is_not_url_decoded() -> None:
    # getvar answers with the raw value (mod_event_socket.c): "%41" must stay "%41", while the
    # connect reply (a serialized event, tested above) is decoded.
    stream = b"Content-Type: command/reply\nReply-Text: 50%25 off %41\n\n"
    assert FrameReader(ChunkedSocket(stream, 64)).read().reply_text == "50%25 off %41"  # type: ignore[arg-type]


def test_a_long_plain_reply_is_not_url_decoded_either() -> None:
    # Found by the frame fuzz (test_frame_fuzz.py): a header block over 1 KB is decoded lazily,
    # and that path URL-decoded every block, so a getvar of a long value holding "%41" read "A".
    stream = b"Content-Type: command/reply\nReply-Text: " + b"x" * 1100 + b" 50%25 off %41\n\n"
    assert FrameReader(ChunkedSocket(stream, 64)).read().reply_text.endswith(" 50%25 off %41")  # type: ignore[arg-type]


def test_a_header_block_over_the_limit_is_refused_even_when_it_ends() -> None:
    # Found by the frame fuzz: the limit was checked only while the block had no end yet, so one
    # arriving whole (one recv, or ended by the next frame) of any size was accepted.
    stream = b"X-Filler: " + b"a" * (frames.MAX_HEAD + 10) + b"\nContent-Type: command/reply\n\n"
    with pytest.raises(ProtocolError, match="header block longer"):
        FrameReader(ChunkedSocket(stream, len(stream))).read()  # type: ignore[arg-type]
