"""The work behind ``fsivr prompts``: render text prompts ahead of calls, take uploads in.

Runs from the command line (plain subprocesses, no hub to keep free). The server renders whatever
was not built here when a call first needs it (fsivr.engine.services.PromptLibrary.spoken).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from fsivr.config import Config
from fsivr.speech.audio import AudioInfo, check_name, check_upload, convert
from fsivr.speech.tts import Renderer, rendered_voice
from fsivr.store.db import Store
from fsivr.store.directory import Directory, Prompt, load_prompts, save_directory


@dataclass
class Built:
    name: str
    #: Path under the prompts directory, or None when FreeSWITCH's own TTS speaks it (flite).
    file: str | None
    voice: str
    #: Rendered now (False: the cached file was still right).
    rendered: bool


def renderer_for(config: Config) -> Renderer:
    return Renderer(Path(config.prompts_dir).resolve(), rate=config.prompt_rate, speed=config.tts_speed,
                    volume=config.tts_volume)


def build(store: Store, config: Config) -> list[Built]:
    """Render every text prompt whose voice fsivr renders; the cache skips what did not change."""
    prompts = store.run(load_prompts)
    renderer = renderer_for(config)
    built = []
    for prompt in prompts.values():
        if not prompt.text:
            continue
        spec = prompt.voice or config.voice_for(prompt.language)
        voice = rendered_voice(spec)
        if voice is None:
            built.append(Built(prompt.name, None, spec, False))
            continue
        # As played (Call._tts): blanks collapsed, so the cache key is the same text.
        text = " ".join(prompt.text.split())
        fresh = not renderer.is_rendered(text, voice)
        built.append(Built(prompt.name, renderer.render(text, voice), spec, fresh))
    return built


def add(store: Store, config: Config, name: str, source: Path) -> AudioInfo:
    """Check ``source``, convert it into prompts/NAME.wav and point the prompt NAME at it.

    Raises BadAudio (nothing written, no row changed) for a bad name or file.
    """
    check_name(name)
    check_upload(source)
    relative = f"{name}.wav"
    info = convert(source, Path(config.prompts_dir).resolve() / relative, config.prompt_rate)

    def save(session: Session) -> None:
        save_directory(session, Directory(prompts=[Prompt(name=name, file=relative)]))

    store.run(save)
    return info
