"""Reference (a): greenswitch's stock ``OutboundESLServer`` with a hand-written application.

The application takes the same steps as fsivr's bench scenario and sends the same commands with
the same arguments (taken from fsivr's captured call, so both servers ask the simulator for the
same prompts), using greenswitch's own API: ``call_command(..., block=True)`` waits for
CHANNEL_EXECUTE_COMPLETE by ``variable_current_application`` as greenswitch does.

    python -m bench.ref_greenswitch PORT CONFIG.json
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from datetime import UTC, datetime  # noqa: E402
from typing import Any  # noqa: E402
from zoneinfo import ZoneInfo  # noqa: E402

import gevent  # noqa: E402
import gevent.event  # noqa: E402
from greenswitch import esl  # noqa: E402

from bench.metrics import raise_nofile  # noqa: E402

WARSAW = ZoneInfo("Europe/Warsaw")


def make_app(config: dict[str, Any]) -> type:
    steps: dict[str, Any] = config["args"]
    linger = config.get("linger", 30)

    class BenchApplication:
        """time_condition → play → menu (one key) → dial → hangup, written against greenswitch."""

        def __init__(self, session: esl.OutboundSession) -> None:
            self.session = session
            self.hungup = gevent.event.Event()

        def run(self) -> None:
            s = self.session
            s.register_handle("CHANNEL_HANGUP", lambda _event: self.hungup.set())
            try:
                s.myevents()
                s.linger(linger)
                # time_condition: the same rule as the scenario (always open), evaluated per call.
                local = datetime.now(UTC).astimezone(WARSAW)
                if not (0 <= local.weekday() <= 6 and local.hour < 24):
                    return
                s.call_command("answer", block=True, response_timeout=30)
                s.call_command("playback", steps["welcome"], block=True, response_timeout=3600)
                event = s.call_command("play_and_get_digits", steps["menu"], block=True, response_timeout=3600)
                if event.headers.get("variable_fsivr_digits") == "1":
                    # dial: ring set-up (multiset) and the bridge, as fsivr's dial node sends them.
                    for app, arg in steps["after_menu"]:
                        s.call_command(app, arg or None, block=True, response_timeout=3600)
                s.send(f"api uuid_kill {s.uuid} NORMAL_CLEARING")
                self.hungup.wait(5.0)
            except (esl.OutboundSessionHasGoneAway, esl.NotConnectedError, OSError):
                pass

    return BenchApplication


def main(argv: list[str]) -> int:
    port = int(argv[0])
    with open(argv[1]) as fh:
        config = json.load(fh)
    raise_nofile()
    # greenswitch logs every call at INFO; the stock default (WARNING) is what an app would run with.
    logging.basicConfig(level=logging.WARNING)
    server = esl.OutboundESLServer("127.0.0.1", port, application=make_app(config),
                                   max_connections=config.get("max_connections", 100000))
    server.listen()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
