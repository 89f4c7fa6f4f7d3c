"""The load generator: FreeSWITCH's side of many outbound-socket calls at once.

Two layers:

* **capture** — one call is run by the project's simulator (``fsivr.testing.Simulator``) against
  the real server, recording every frame it sends. The frames are the simulator's: full header
  sets as in the traces (~3 KB per CHANNEL_EXECUTE_COMPLETE with the loopback profile), real
  Event-Date-Timestamps on the simulated clock, the variables play_and_get_digits sets, etc.
* **replay** — thousands of connections then answer each command the server sends with the
  captured frames for that command, with the channel's UUID replaced by a fresh one per call and
  the Application-UUID by the ``event-uuid`` the server sent. Frames go out at their captured
  simulated offsets times ``time_scale`` (0 = instant).

Why not run the simulator for every call: it is built for fidelity, not volume — two greenlets
per received chunk, per-event rendering — and saturates its core at ~250 calls/s, below what the
servers under test reach, which would turn every figure into a bound on the generator. Replay
costs a few bytes.replace per frame and keeps the generator well ahead of the server, and it
still reports its own CPU use so a saturated generator shows.

Runs as its own process (``python -m bench.loadgen JOB.json``), pinned to a core, and reads the
server's CPU time and RSS from /proc/<pid> at the edges of its measurement window.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import pickle  # noqa: E402
import resource  # noqa: E402
import socket  # noqa: E402
import struct  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import uuid as uuidlib  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
import gevent.pool  # noqa: E402

from bench import metrics  # noqa: E402

#: Simulated length of each prompt file (seconds) and of the answered dial: with time_scale=1 a
#: call lasts ~10 s, so 100 new calls/s keep ~1,000 calls in progress (issue 4).
PROMPT_SECONDS = {"welcome.wav": 2.0, "menu.wav": 2.0, "sales.wav": 6.0}
#: The dial target answers after 1 s (issue 4) and talks this long before hanging up.
TALK_SECONDS = 5.0
NUMBER = "5000"
#: Keys the caller presses at the menu.
DIGITS = ["1"]

COMPLETE = b"Event-Name: CHANNEL_EXECUTE_COMPLETE\n"
#: Linux SO_TIMESTAMPNS / SCM_TIMESTAMPNS (not exported by Python's socket module): the kernel
#: stamps each received segment with its arrival time (CLOCK_REALTIME), so a step's latency ends
#: when the command reached our socket, not when this busy process got round to reading it.
SO_TIMESTAMPNS = 35
_ANCILLARY = socket.CMSG_SPACE(16)
SOCKET_APP = b"\nApplication: socket\n"


# ---------------------------------------------------------------------------------------------
# templates


@dataclass
class TFrame:
    data: bytes
    #: Simulated seconds after the command that caused it.
    offset: float
    #: A CHANNEL_EXECUTE_COMPLETE of an application the server started: step latency starts here.
    completes: bool


@dataclass
class Step:
    key: str
    #: The event-uuid the server sent in the captured call (replaced by the live one).
    event_uuid: bytes | None
    frames: list[TFrame]
    #: FreeSWITCH closes the connection after these frames (exit).
    closes: bool = False


@dataclass
class Template:
    uuid: bytes
    steps: dict[str, list[Step]]
    #: The commands the server sent in the captured call, in order (for the reference servers).
    commands: list[bytes]
    #: Simulated seconds from the connection to the last frame.
    call_seconds: float
    profile: str


def command_key(head: bytes) -> tuple[str, bytes | None]:
    """What a server command is, for matching it to the captured one: its first word, plus the
    application for sendmsg and the API command for api; and its event-uuid if any."""
    first, _, rest = head.partition(b"\n")
    words = first.split(b" ", 2)
    verb = words[0].decode("latin-1")
    if verb == "sendmsg":
        app = _header(rest, b"execute-app-name")
        return f"sendmsg:{(app or b'').decode('latin-1')}", _header(rest, b"event-uuid")
    if verb in ("api", "bgapi") and len(words) > 1:
        return f"{verb}:{words[1].decode('latin-1')}", None
    return verb, None


def _header(block: bytes, name: bytes) -> bytes | None:
    # Commands are a handful of short lines; case as fsivr and greenswitch write them.
    for line in block.split(b"\n"):
        key, sep, value = line.partition(b": ")
        if sep and key.lower() == name:
            return value.strip()
    return None


def _timestamp(frame: bytes) -> int | None:
    pos = frame.find(b"\nEvent-Date-Timestamp: ")
    if pos < 0:
        return None
    start = pos + len(b"\nEvent-Date-Timestamp: ")
    end = frame.find(b"\n", start)
    try:
        return int(frame[start:end])
    except ValueError:
        return None


def build_template(wire: list[tuple[str, bytes]], uuid: str, profile: str) -> Template:
    """Cut a recorded exchange into steps: each server command and the frames that followed it."""
    steps: dict[str, list[Step]] = {}
    commands: list[bytes] = []
    current: Step | None = None
    base: int | None = None
    last_ts: int | None = None
    first_ts: int | None = None
    for direction, data in wire:
        if direction == "send":
            head = data.split(b"\n\n", 1)[0]
            key, event_uuid = command_key(head)
            current = Step(key, event_uuid, [])
            steps.setdefault(key, []).append(current)
            commands.append(data)
            base = last_ts
            continue
        if current is None:
            continue
        ts = _timestamp(data)
        if ts is not None:
            if first_ts is None:
                first_ts = ts
            if base is None:
                base = ts
            last_ts = ts
        offset = max(0.0, ((last_ts or 0) - (base or 0)) / 1e6) if last_ts is not None else 0.0
        completes = COMPLETE in data and SOCKET_APP not in data
        current.frames.append(TFrame(data, offset, completes))
    if current is not None and current.key == "exit":
        current.closes = True
    total = ((last_ts or 0) - (first_ts or 0)) / 1e6
    return Template(uuid.encode(), steps, commands, total, profile)


def capture(address: tuple[str, int], prompts_dir: str, *, profile: str = "loopback",
            hold: bool = False) -> Template:
    """Run one call through the simulator against the server and keep what it sent.

    ``hold``: the caller hangs up 1 s into the first prompt, which gives the frames a held call
    needs when it is finally released.
    """
    from fsivr.testing import CallScript, Hangup, Simulator, Target

    files = {os.path.join(prompts_dir, name): secs for name, secs in PROMPT_SECONDS.items()}
    script = CallScript(number=NUMBER, digits=list(DIGITS), record=True, profile=profile, files=files,
                        targets={"sip:101": Target("answered", answer_after=1.0, talk=TALK_SECONDS),
                                 "101": Target("answered", answer_after=1.0, talk=TALK_SECONDS)},
                        timeout=60.0)
    if hold:
        script.hangup = Hangup(on_app="playback", occurrence=1, offset=1.0)
    result = Simulator(address, time_scale=0.0).run_call(script)
    if result.error:
        raise RuntimeError(f"capture call failed: {result.error}")
    return build_template(result.wire, result.uuid, profile)


# ---------------------------------------------------------------------------------------------
# replay


class CallFailed(Exception):
    pass


_REPLY_OK = b"Content-Type: command/reply\nReply-Text: +OK\n\n"
_NO_CHANNEL = b"Content-Type: api/response\nContent-Length: 22\n\n-ERR No such channel!\n"


def _fix_length(frame: bytes) -> bytes:
    """Re-state Content-Length after a substitution changed the body's size."""
    head, sep, body = frame.partition(b"\n\n")
    if not sep or b"Content-Length: " not in head:
        return frame
    lines = [b"Content-Length: %d" % len(body) if ln.startswith(b"Content-Length: ") else ln
             for ln in head.split(b"\n")]
    return b"\n".join(lines) + sep + body


@dataclass
class Stats:
    started: int = 0
    completed: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    in_progress: int = 0
    held: int = 0
    #: (perf_counter at the command's arrival, latency seconds, calls in progress then)
    latencies: list[tuple[float, float, int]] = field(default_factory=list)
    #: perf_counter of each completed call's end.
    completions: list[float] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors += 1
        if len(self.error_samples) < 5:
            self.error_samples.append(text)


class Replayer:
    def __init__(self, template: Template, address: tuple[str, int], *, time_scale: float = 0.0,
                 timeout: float = 60.0) -> None:
        self.t = template
        self.address = address
        self.time_scale = time_scale
        self.timeout = timeout
        self.stats = Stats()
        #: Held mode: the step (key, occurrence) at which calls stop until ``release`` is set.
        self.hold_at: tuple[str, int] | None = None
        self.release = gevent.event.Event()
        #: Set to make calls in progress give up (end of an open-loop run).
        self.abort = False

    def call(self) -> None:
        """One call, start to end; never raises (failures are counted)."""
        st = self.stats
        st.started += 1
        st.in_progress += 1
        try:
            with gevent.Timeout(self.timeout + (3600 if self.hold_at else 0), CallFailed("call timed out")):
                self._call()
            st.completed += 1
            st.completions.append(time.perf_counter())
        except CallFailed as exc:
            if not self.abort:
                st.error(str(exc))
        except OSError as exc:
            if not self.abort:
                st.error(f"socket: {exc}")
        finally:
            st.in_progress -= 1

    def _call(self) -> None:
        t = self.t
        st = self.stats
        sock = socket.create_connection(self.address)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        uuid = str(uuidlib.uuid4()).encode()
        seen: dict[str, int] = {}
        buf = b""
        sent_complete = 0.0
        hungup = False
        hangup_sent = False
        scale = self.time_scale
        try:
            while True:
                data, ancillary, _, _ = sock.recvmsg(65536, _ANCILLARY)
                now = time.perf_counter()
                arrived = _arrival(ancillary)
                if not data:
                    if hungup:
                        return  # the server closed after the hangup: fine
                    raise CallFailed(f"server closed the connection (after {list(seen)})")
                buf += data
                while True:
                    end = buf.find(b"\n\n")
                    if end < 0:
                        break
                    head = buf[:end]
                    clen = 0
                    low = head.lower()
                    pos = low.find(b"content-length: ")
                    if pos >= 0:
                        clen = int(low[pos + 16:low.find(b"\n", pos) if low.find(b"\n", pos) > 0 else None])
                    if len(buf) < end + 2 + clen:
                        break
                    buf = buf[end + 2 + clen:]
                    if sent_complete:
                        st.latencies.append((now, (arrived or time.time()) - sent_complete, st.in_progress))
                        sent_complete = 0.0
                    key, event_uuid = command_key(head)
                    n = seen.get(key, 0)
                    seen[key] = n + 1
                    candidates = t.steps.get(key)
                    if candidates is None or n >= len(candidates):
                        # After the hangup FreeSWITCH still answers (trace README "Command replies").
                        if not hungup:
                            raise CallFailed(f"unexpected command {key} #{n + 1}")
                        if key == "exit":
                            sock.sendall(t.steps["exit"][0].frames[0].data)
                            return
                        sock.sendall(_NO_CHANNEL if key.startswith("api") else _REPLY_OK)
                        continue
                    step = candidates[n]
                    subs = [(t.uuid, uuid)]
                    if step.event_uuid:
                        subs.append((step.event_uuid, event_uuid or str(uuidlib.uuid4()).encode()))
                    hold = self.hold_at == (key, n)
                    held = False
                    for frame in step.frames:
                        if frame.offset > 0:
                            if hold:
                                if not held:
                                    held = True
                                    st.held += 1
                                self.release.wait()
                            elif scale > 0:
                                delay = now + frame.offset * scale - time.perf_counter()
                                if delay > 0:
                                    gevent.sleep(delay)
                        data = frame.data
                        for old, new in subs:
                            data = data.replace(old, new)
                        if len(data) != len(frame.data):
                            data = _fix_length(data)
                        if frame.completes:
                            # Wall clock, to compare with the kernel's arrival stamp.
                            sent_complete = time.time()
                        if b"Event-Name: CHANNEL_HANGUP\n" in data:
                            hungup = True
                            sock.sendall(data)
                            hangup_sent = True
                            continue
                        sock.sendall(data)
                    if held:
                        st.held -= 1
                    if step.closes:
                        return
        except OSError as exc:
            if hangup_sent and isinstance(exc, (BrokenPipeError, ConnectionResetError)):
                # The server had the hangup and closed the socket (after its linger) while this
                # generator, slowed down, was still writing the frames that followed it in the
                # capture: FreeSWITCH stops writing to a closed socket, so that is the call's end.
                # (This was the 1,822 "errors" holding 10,000 calls on a slow VM: reproduced with
                # server and generator on one core, every call had finished normally.)
                return
            # Which step the server dropped the call at (a command it timed out waiting for the
            # reply to, on a loaded box) is what tells a server fault from a slow generator.
            raise CallFailed(f"socket: {exc} (after {list(seen)[-3:]})") from exc
        finally:
            try:
                sock.close()
            except OSError:
                pass


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float | None:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= 16:
            sec, nsec = struct.unpack("qq", data[:16])
            return sec + nsec / 1e9
    return None


# ---------------------------------------------------------------------------------------------
# runs


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


class Window:
    """Server and generator CPU, server RSS and wall time between ``open`` and ``close``."""

    def __init__(self, server_pid: int) -> None:
        self.pid = server_pid

    def open(self) -> None:
        self.t0 = time.perf_counter()
        self.wall0 = time.time()
        self.server0 = metrics.proc_cpu_seconds(self.pid)
        self.gen0 = _cpu()
        self.busy0 = metrics.machine_busy_seconds()

    def close(self) -> dict[str, float]:
        dt = time.perf_counter() - self.t0
        server = metrics.proc_cpu_seconds(self.pid) - self.server0
        gen = _cpu() - self.gen0
        # CPU used by anything else on the machine meanwhile: figures taken on a busy box say so.
        other = metrics.machine_busy_seconds() - self.busy0 - server - gen
        return {
            "window_s": dt,
            "wall_start": self.wall0,
            "wall_end": time.time(),
            "server_cpu_s": server,
            "generator_cpu_s": gen,
            "other_cpu_share": max(0.0, other / dt) if dt else 0.0,
            "server_rss_kib": metrics.proc_rss_kib(self.pid),
        }


def _latency_summary(samples: list[tuple[float, float, int]], t0: float, t1: float) -> dict[str, Any]:
    window = [lat for (ts, lat, _) in samples if t0 <= ts <= t1]
    return metrics.percentiles_ms(window)


def run_closed(rep: Replayer, server_pid: int, *, concurrency: int, duration: float,
               warmup: float) -> dict[str, Any]:
    """Keep ``concurrency`` calls in flight; measure after ``warmup`` seconds for ``duration``."""
    stop = False

    def worker() -> None:
        while not stop:
            rep.call()

    workers = [gevent.spawn(worker) for _ in range(concurrency)]
    gevent.sleep(warmup)
    win = Window(server_pid)
    win.open()
    done0 = rep.stats.completed
    err0 = rep.stats.errors
    gevent.sleep(duration)
    out = win.close()
    t1 = time.perf_counter()
    done = rep.stats.completed - done0
    out.update(completed=done, errors=rep.stats.errors - err0, concurrency=concurrency,
               step_latency_ms=_latency_summary(rep.stats.latencies, win.t0, t1))
    stop = True
    gevent.joinall(workers, timeout=rep.timeout)
    return _rates(out)


def run_open(rep: Replayer, server_pid: int, *, rate: float, ramp: float, duration: float,
             bins: int = 100, samples: str | None = None) -> dict[str, Any]:
    """``rate`` new calls per second on a fixed schedule; measure after ``ramp`` seconds.

    Latency samples taken during the ramp, grouped by calls in progress, give the latency-vs-
    concurrency curve of the picture.
    """
    pool = gevent.pool.Group()
    t_start = time.perf_counter()
    end = t_start + ramp + duration
    win = Window(server_pid)
    opened = False
    done0 = err0 = 0
    in_progress: list[int] = []
    n = 0
    while True:
        due = t_start + n / rate
        now = time.perf_counter()
        if due >= end:
            break
        if not opened and now >= t_start + ramp:
            win.open()
            opened = True
            done0, err0 = rep.stats.completed, rep.stats.errors
        if due > now:
            gevent.sleep(due - now)
        pool.spawn(rep.call)
        n += 1
        if n % max(1, int(rate / 10)) == 0:
            in_progress.append(rep.stats.in_progress)
    gevent.sleep(max(0.0, end - time.perf_counter()))
    out = win.close()
    t1 = time.perf_counter()
    measured = [c for c in in_progress[len(in_progress) * int(ramp) // int(ramp + duration):]]
    out.update(completed=rep.stats.completed - done0, errors=rep.stats.errors - err0, rate=rate,
               in_progress_mean=sum(measured) / len(measured) if measured else 0,
               in_progress_max=max(in_progress) if in_progress else 0,
               step_latency_ms=_latency_summary(rep.stats.latencies, win.t0, t1),
               by_concurrency=_by_concurrency(rep.stats.latencies, bins))
    if samples:
        # Every step of the window (seconds since its start, latency ms): to line the tail up
        # with what the server does on a timer.
        with open(samples, "w") as fh:
            json.dump([(round(t - win.t0, 6), round(1000 * lat, 4)) for t, lat, _ in rep.stats.latencies
                       if win.t0 <= t <= t1], fh)
    # Calls still up are cut off: waiting out a whole call length would only cost bench time.
    rep.abort = True
    pool.kill(block=True, timeout=5)
    return _rates(out)


def _by_concurrency(samples: list[tuple[float, float, int]], width: int) -> list[dict[str, Any]]:
    groups: dict[int, list[float]] = {}
    for _, lat, inprog in samples:
        groups.setdefault(inprog // width * width, []).append(lat)
    out = []
    for level in sorted(groups):
        if len(groups[level]) >= 20:
            out.append({"in_progress": level + width // 2, **metrics.percentiles_ms(groups[level])})
    return out


def run_held(rep: Replayer, server_pid: int, *, calls: int, rate: float, max_pending: int = 200,
             settle: float = 1.0, timeout: float = 60.0) -> dict[str, Any]:
    """Open ``calls`` calls that stay in their first prompt, measure the server's RSS, release.

    Calls are opened at up to ``rate`` per second with at most ``max_pending`` not yet parked, so
    a server that accepts slowly is not flooded past its listen backlog (a dropped SYN is retried
    only after 1, 3, 7... s and would turn the test into a measure of TCP's backoff).
    """
    st = rep.stats
    base_rss = metrics.proc_rss_kib(server_pid)
    rep.hold_at = ("sendmsg:playback", 0)
    pool = gevent.pool.Group()
    t0 = time.perf_counter()
    deadline = t0 + timeout
    for n in range(calls):
        while n - (st.held + st.errors + st.completed) >= max_pending and time.perf_counter() < deadline:
            gevent.sleep(0.005)
        delay = t0 + n / rate - time.perf_counter()
        if delay > 0:
            gevent.sleep(delay)
        if time.perf_counter() >= deadline:
            break
        pool.spawn(rep.call)
    while st.held + st.errors + st.completed < calls and time.perf_counter() < deadline:
        gevent.sleep(0.05)
    reached = st.held
    opened_s = time.perf_counter() - t0
    gevent.sleep(settle)
    held_rss = metrics.proc_rss_kib(server_pid)
    rep.release.set()
    pool.join(timeout=30)
    rep.abort = True
    pool.kill(block=True, timeout=5)
    return {
        "calls": calls, "held": reached, "errors": st.errors, "error_samples": st.error_samples,
        "completed": st.completed, "open_s": opened_s, "base_rss_kib": base_rss,
        "held_rss_kib": held_rss, "rss_kib_per_call": (held_rss - base_rss) / max(1, reached),
        "after_rss_kib": metrics.proc_rss_kib(server_pid),
    }


def _rates(out: dict[str, Any]) -> dict[str, Any]:
    dt = out["window_s"]
    out["calls_per_second"] = out["completed"] / dt if dt else 0.0
    out["calls_per_server_cpu_second"] = out["completed"] / out["server_cpu_s"] if out["server_cpu_s"] else 0.0
    out["server_cpu_ms_per_call"] = 1000 * out["server_cpu_s"] / out["completed"] if out["completed"] else None
    out["generator_cpu_share"] = out["generator_cpu_s"] / dt if dt else 0.0
    return out


# ---------------------------------------------------------------------------------------------
# process entry


def main(argv: list[str]) -> int:
    """``python -m bench.loadgen JOB.json``: run one job, print its result as one JSON line."""
    if argv:
        with open(argv[0]) as fh:
            job = json.load(fh)
    else:
        job = json.load(sys.stdin)
    metrics.raise_nofile()
    if job.get("cpu") is not None:
        os.sched_setaffinity(0, {int(job["cpu"])})
    address = (job["host"], int(job["port"]))
    kind = job["kind"]
    result: dict[str, Any]
    if kind == "capture":
        full = capture(address, job["prompts_dir"], profile=job.get("profile", "loopback"))
        held = capture(address, job["prompts_dir"], profile=job.get("profile", "loopback"), hold=True)
        with open(job["template"], "wb") as fh:
            pickle.dump({"full": full, "held": held}, fh)
        result = {"commands": [c.decode("latin-1") for c in full.commands],
                  "held_commands": [c.decode("latin-1") for c in held.commands],
                  "call_seconds": full.call_seconds, "uuid": full.uuid.decode(),
                  "frame_bytes": {s.key: [len(f.data) for f in s.frames] for steps in full.steps.values()
                                  for s in steps}}
    else:
        with open(job["template"], "rb") as fh:
            templates = pickle.load(fh)
        pid = int(job["server_pid"])
        runners: dict[str, Callable[[], dict[str, Any]]] = {
            "closed": lambda: run_closed(
                Replayer(templates["full"], address, time_scale=0.0), pid, concurrency=job["concurrency"],
                duration=job["duration"], warmup=job.get("warmup", 1.0)),
            "open": lambda: run_open(
                Replayer(templates["full"], address, time_scale=job.get("time_scale", 1.0), timeout=120.0),
                pid, rate=job["rate"], ramp=job["ramp"], duration=job["duration"], samples=job.get("samples")),
            "held": lambda: run_held(
                Replayer(templates["held"], address, time_scale=0.0), pid, calls=job["calls"],
                rate=job.get("rate", 1000.0), timeout=job.get("timeout", 60.0)),
        }
        result = runners[kind]()
    result["generator_max_rss_kib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
