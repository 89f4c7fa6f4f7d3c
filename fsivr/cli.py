"""The ``fsivr`` command line."""

from __future__ import annotations

import argparse
import logging
import sys

DEFAULT_DB = "sqlite:///var/fsivr.sqlite3"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fsivr", description="IVR engine for FreeSWITCH (ESL outbound socket)")
    parser.add_argument("--config", help="configuration file (YAML); env FSIVR_CONFIG")
    parser.add_argument("--database", default=None,
                        help=f"database URL (env FSIVR_DATABASE_URL, default {DEFAULT_DB})")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="accept FreeSWITCH's outbound-socket connections and run scenarios")
    serve.add_argument("--listen", help="HOST:PORT to listen on (default 127.0.0.1:8084)")
    serve.set_defaults(func=cmd_serve)

    from fsivr.simulate import add_command as add_simulate

    add_simulate(sub)
    try:
        from fsivr.scenario.cli import add_commands
    except ImportError:  # pragma: no cover - the package ships with fsivr
        pass
    else:
        add_commands(sub)
    try:
        from fsivr.render.cli import add_commands as add_render
    except ImportError:
        pass
    else:
        add_render(sub)
    return parser


def load_config(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from fsivr.config import Config

    cfg = Config.load(args.config)
    if args.database:
        cfg.database_url = args.database
    args.database = cfg.database_url
    return cfg


def cmd_serve(args: argparse.Namespace) -> int:
    from gevent import monkey

    monkey.patch_all()
    from fsivr.app import App

    cfg = load_config(args)
    if not args.verbose:
        logging.getLogger().setLevel(cfg.log_level.upper())
    if args.listen:
        host, _, port = args.listen.rpartition(":")
        cfg.listen_host, cfg.listen_port = host or cfg.listen_host, int(port)
    app = App.build(cfg)
    logging.getLogger("fsivr").info("config: %s", cfg.redacted())
    app.serve_until_signalled()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        if args.database is None:
            from fsivr.config import Config

            # The config file and FSIVR_DATABASE_URL decide; --database overrides both.
            args.database = Config.load(args.config).database_url
    except ValueError as exc:
        print(f"fsivr: {exc}", file=sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except (ValueError, OSError) as exc:
        print(f"fsivr {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
