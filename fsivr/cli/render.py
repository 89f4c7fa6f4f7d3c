"""``fsivr render-conf``: render the FreeSWITCH XML from the database and ask FreeSWITCH to reload it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from fsivr.cli.store import open_store
from fsivr.config import load_config


def add_commands(sub: Any) -> None:
    p = sub.add_parser("render-conf", help="render FreeSWITCH XML (directory, dialplan, gateways, "
                                           "callcenter.conf) from the database and reloadxml")
    p.add_argument("--out-dir", required=True, help="FreeSWITCH configuration directory to write into "
                                                    "(e.g. /etc/freeswitch)")
    p.add_argument("--templates", help="template directory (default: freeswitch_conf/ of fsivr)")
    p.add_argument("--no-reload", action="store_true", help="only write the files; do not contact FreeSWITCH")
    p.set_defaults(func=cmd_render_conf)


def cmd_render_conf(args: argparse.Namespace) -> int:
    from gevent import monkey

    # greenswitch's inbound client reads its socket from a greenlet: it needs gevent's sockets.
    monkey.patch_all()
    from fsivr.render.deploy import render_conf

    cfg = load_config(args.config, args.database)
    # The same refusal as the other commands' (fsivr.cli.store): rendering an empty directory from
    # a database created by mistake would withdraw every account from FreeSWITCH.
    with open_store(args):
        pass
    out = render_conf(cfg, args.out_dir, templates=args.templates, reload=not args.no_reload)
    for path in out.changed:
        print(f"wrote {Path(args.out_dir) / path}")
    for path in out.unchanged:
        print(f"unchanged {Path(args.out_dir) / path}")
    for path in out.pending:
        print(f"not reloaded by an earlier run: {Path(args.out_dir) / path}")
    for warning in out.conf_warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for note in out.conf_notes:
        print(f"note: {note}", file=sys.stderr)
    print(out.message, file=sys.stdout if out.ok and not out.warning else sys.stderr)
    return 0 if out.ok else 3
