"""Helpers for the simulator's tests: trace reading, message splitting, the server side of a connection.

The server here is deliberately not fsivr's: it only sends scripted bytes and collects what the
simulator answers, so these tests pin the simulator to the traces and nothing else.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import gevent
import gevent.event
from gevent import socket as gsocket


@dataclass
class Message:
    """One complete ESL message from the simulator (or from FreeSWITCH in a trace)."""

    raw: bytes
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def head(self) -> dict[str, str]:
        return dict(self.headers)

    @property
    def content_type(self) -> str:
        return self.head.get("Content-Type", "")

    def event(self) -> list[tuple[str, str]] | None:
        """The event's own headers (URL-decoded) for events and the connect reply."""
        ct = self.content_type
        if ct == "text/event-plain":
            head, _, _ = self.body.decode("latin-1").partition("\n\n")
            return [(k, unquote(v)) for k, _, v in (ln.partition(": ") for ln in head.split("\n") if ln)]
        if ct == "text/event-json":
            obj = json.loads(self.body)
            return [(k, v if isinstance(v, str) else "|".join(v)) for k, v in obj.items() if k != "_body"]
        if "Event-Name" in self.head:
            return [(k, unquote(v)) for k, v in self.headers]
        return None


def split_messages(data: bytes) -> tuple[list[Message], bytes]:
    """Cut a byte stream into ESL messages: header block, then Content-Length bytes of body."""
    out: list[Message] = []
    while True:
        idx = data.find(b"\n\n")
        if idx < 0:
            return out, data
        head = data[:idx].decode("latin-1")
        headers = [(k, v) for k, _, v in (ln.partition(": ") for ln in head.split("\n"))]
        clen = 0
        for k, v in headers:
            if k == "Content-Length":
                clen = int(v)
        end = idx + 2 + clen
        if len(data) < end:
            return out, data
        out.append(Message(data[:end], headers, data[idx + 2:end]))
        data = data[end:]


@dataclass
class Collector:
    """Server side of one connection: send bytes, wait for messages."""

    sock: gsocket.socket
    messages: list[Message] = field(default_factory=list)
    closed: bool = False
    _buf: bytes = b""
    _new: gevent.event.Event = field(default_factory=gevent.event.Event)

    def start(self) -> None:
        gevent.spawn(self._read)

    def _read(self) -> None:
        while True:
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            if not data:
                self.closed = True
                self._new.set()
                return
            msgs, self._buf = split_messages(self._buf + data)
            self.messages.extend(msgs)
            self._new.set()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def wait_for(self, pred: Callable[[list[Message]], bool], timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not pred(self.messages):
            if self.closed:
                return pred(self.messages)
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self._new.clear()
            self._new.wait(timeout=left)
        return True

    def wait_count(self, n: int, timeout: float = 5.0) -> bool:
        return self.wait_for(lambda m: len(m) >= n, timeout)

    def wait_closed(self, timeout: float = 5.0) -> bool:
        deadline = time.monotonic() + timeout
        while not self.closed and time.monotonic() < deadline:
            self._new.clear()
            self._new.wait(timeout=max(0.0, deadline - time.monotonic()))
        return self.closed

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


def load_trace(path: Path) -> list[dict]:
    records = []
    with path.open() as fh:
        for line in fh:
            rec = json.loads(line)
            if "header" in rec:
                continue
            records.append(rec)
    return records


def msg_from_record(rec: dict) -> Message:
    msgs, rest = split_messages(rec["data"].encode("latin-1"))
    if len(msgs) != 1 or rest:
        # The connect reply carries no Content-Length: it is one header block.
        raw = rec["data"].encode("latin-1")
        head = raw.decode("latin-1").rstrip("\n")
        headers = [(k, v) for k, _, v in (ln.partition(": ") for ln in head.split("\n"))]
        return Message(raw, headers, b"")
    return msgs[0]


def traces_path() -> Path:
    here = Path(__file__).resolve().parents[2]
    return Path(os.environ.get("FSIVR_TRACES") or here.parent / "shared" / "esl-traces")
