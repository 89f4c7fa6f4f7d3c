"""``fsivr serve``: accept FreeSWITCH's outbound-socket connections and run scenarios."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from fsivr import logs
from fsivr.config import load_config, parse_address


def add_commands(sub: Any) -> None:
    serve = sub.add_parser("serve", help="accept FreeSWITCH's outbound-socket connections and run scenarios")
    serve.add_argument("--listen", help="HOST:PORT, HOST or PORT to listen on (default 127.0.0.1:8084)")
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from gevent import monkey

    # Before the server's modules are imported, so that what they import uses gevent's sockets.
    monkey.patch_all()
    from fsivr.app import App

    cfg = load_config(args.config, args.database)
    logs.configure(cfg.log_format, None if args.verbose else cfg.log_level, buffered=True)
    if args.listen:
        # Checked before anything starts: a bad value is one clear line, not a traceback.
        cfg.listen_host, cfg.listen_port = parse_address(args.listen, cfg.listen_port)
    app = App.build(cfg, live_link=cfg.live_link)
    logging.getLogger("fsivr").info("config: %s", cfg.redacted())
    app.serve_until_signalled()
    return 0
