"""``fsivr serve``: accept FreeSWITCH's outbound-socket connections and run scenarios."""

from __future__ import annotations

import argparse
import logging
from typing import Any

from fsivr.config import load_config


def add_commands(sub: Any) -> None:
    serve = sub.add_parser("serve", help="accept FreeSWITCH's outbound-socket connections and run scenarios")
    serve.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:8084)")
    serve.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from gevent import monkey

    # Before the server's modules are imported, so that what they import uses gevent's sockets.
    monkey.patch_all()
    from fsivr.app import App

    cfg = load_config(args.config, args.database)
    if not args.verbose:
        logging.getLogger().setLevel(cfg.log_level.upper())
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        cfg.listen_host, cfg.listen_port = host or cfg.listen_host, int(port)
    app = App.build(cfg, live_link=cfg.live_link)
    logging.getLogger("fsivr").info("config: %s", cfg.redacted())
    app.serve_until_signalled()
    return 0
