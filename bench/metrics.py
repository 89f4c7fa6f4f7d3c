"""Process figures from /proc, percentiles, and the file-descriptor limit."""

from __future__ import annotations

import os
import resource
from collections.abc import Sequence

_TICKS = os.sysconf("SC_CLK_TCK")


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a whole process (all its threads: the DB threadpool too)."""
    with open(f"/proc/{pid}/stat", "rb") as fh:
        data = fh.read()
    # The command name (field 2) may contain spaces; fields are counted after its closing ')'.
    fields = data[data.rindex(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle (user+nice+system+irq+softirq+steal) since boot."""
    with open("/proc/stat", "rb") as fh:
        fields = fh.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def proc_rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status", "rb") as fh:
        for line in fh:
            if line.startswith(b"VmRSS:"):
                return int(line.split()[1])
    return 0


def percentiles_ms(samples: Sequence[float]) -> dict[str, float | int | None]:
    """p50/p99/max in milliseconds of latencies given in seconds (nearest-rank percentiles)."""
    if not samples:
        return {"p50": None, "p99": None, "max": None, "n": 0}
    ordered = sorted(samples)
    n = len(ordered)

    def rank(p: float) -> float:
        return ordered[min(n - 1, max(0, int(p * n + 0.5) - 1))] * 1000

    return {"p50": round(rank(0.50), 3), "p99": round(rank(0.99), 3), "max": round(ordered[-1] * 1000, 3), "n": n}


def raise_nofile(want: int = 65536) -> int:
    """Raise the soft RLIMIT_NOFILE towards the hard limit: 10,000 held calls need 10,000 sockets."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]
