"""``fsivr prompts build|add``: render text prompts to WAV ahead of calls; take an audio upload in."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fsivr.cli.output import err
from fsivr.cli.store import open_store, require_schema
from fsivr.config import load_config


def add_commands(sub: Any) -> None:
    group = sub.add_parser("prompts", help="render text prompts, add audio prompts")
    cmds = group.add_subparsers(dest="prompts_command", required=True, metavar="ACTION")
    build = cmds.add_parser("build", help="render every text prompt whose voice fsivr renders (espeak-ng) "
                                          "to WAV under the prompts directory")
    build.set_defaults(func=cmd_build)
    add = cmds.add_parser("add", help="check an audio file (format, size, sound), convert it to mono WAV at "
                                      "the prompt rate and store it as prompt NAME")
    add.add_argument("name", help="prompt name (letters, digits, _ - .)")
    add.add_argument("file", type=Path, help="WAV, MP3 (at most 2 MB), FLAC or Ogg file")
    add.set_defaults(func=cmd_add)


def cmd_build(args: argparse.Namespace) -> int:
    from fsivr import prompts
    from fsivr.speech.tts import RenderFailed

    cfg = load_config(args.config, args.database)
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        try:
            built = prompts.build(store, cfg)
        except RenderFailed as exc:
            err(f"prompts build: {exc}")
            return 1
    for b in built:
        if b.file is None:
            print(f"{b.name}: spoken by FreeSWITCH ({b.voice})")
        else:
            print(f"{b.name}: {b.file} ({b.voice}, {'rendered' if b.rendered else 'up to date'})")
    print(f"{sum(b.rendered for b in built)} rendered, {sum(b.file is not None and not b.rendered for b in built)} "
          f"up to date, {sum(b.file is None for b in built)} spoken by FreeSWITCH")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from fsivr import prompts
    from fsivr.speech.audio import BadAudio

    cfg = load_config(args.config, args.database)
    with open_store(args) as store:
        if not require_schema(store):
            return 1
        try:
            info = prompts.add(store, cfg, args.name, args.file)
        except BadAudio as exc:
            err(f"prompts add: {exc}; nothing was changed")
            return 1
    print(f"prompt {args.name}: {args.name}.wav ({info.seconds:.1f} s, mono, {info.rate} Hz)")
    return 0
