"""Child processes of the test process: always through gevent.subprocess.

The test process runs gevent's hub (the simulator, the server under test) and, as soon as any code
in it has used gevent.subprocess once (a TTS render: fsivr/speech/tts.py; a fax conversion:
fsivr/nodes/_faxfiles.py), libev's SIGCHLD handler stays installed for the rest of the process and
reaps *every* child that exits while the hub runs (waitpid(-1)). A stdlib ``subprocess.Popen`` of
such a child then finds nothing to wait for (ECHILD) and reports ``returncode == 0`` whatever the
real status was: a SIGKILLed worker "exited 0", a crashed server "exited cleanly". gevent's Popen
registers a child watcher for its pid, so the status libev reaped is handed to it.
"""

from __future__ import annotations

from typing import Any

from gevent import subprocess

Popen = subprocess.Popen
PIPE = subprocess.PIPE
STDOUT = subprocess.STDOUT


def spawn(args: list[str], **kwargs: Any) -> subprocess.Popen:
    """``subprocess.Popen(args, **kwargs)`` whose returncode survives the hub reaping children."""
    return subprocess.Popen(args, **kwargs)
