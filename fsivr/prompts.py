"""The work behind ``fsivr prompts``: render text prompts ahead of calls, take uploads in.

Runs from the command line (plain subprocesses, no hub to keep free). The server renders whatever
was not built here when a call first needs it (fsivr.engine.services.PromptLibrary.spoken).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session

from fsivr.config import Config
from fsivr.scenario.persist import load_scenarios
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


#: Node parameters holding text a node speaks (play, menu, extension), beside language and voice.
NODE_TEXTS = ("text", "invalid_text")


def build(store: Store, config: Config) -> list[Built]:
    """Render every text prompt, and every text a stored scenario's node speaks, whose voice fsivr
    renders; the cache skips what did not change. Named "prompt" or "scenario.node[.field]"."""
    renderer = renderer_for(config)
    built = []
    for name, text, language, voice in texts(store):
        spec = voice or config.voice_for(language)
        rendered = rendered_voice(spec)
        if rendered is None:
            built.append(Built(name, None, spec, False))
            continue
        # As played (Call._tts): blanks collapsed, so the cache key is the same text.
        text = " ".join(text.split())
        fresh = not renderer.is_rendered(text, rendered)
        built.append(Built(name, renderer.render(text, rendered), spec, fresh))
    return built


def texts(store: Store) -> list[tuple[str, str, str | None, str | None]]:
    """(name, text, language, voice) of every text prompt and every node text in the store."""
    prompts = store.run(load_prompts)
    out = [(p.name, p.text, p.language, p.voice) for p in prompts.values() if p.text]
    for spec, _version in store.run(load_scenarios):
        for node_id, raw in sorted(spec.nodes.items()):
            for field in NODE_TEXTS:
                text = raw.get(field)
                if isinstance(text, str) and text.strip():
                    suffix = "" if field == "text" else f".{field}"
                    out.append((f"{spec.name}.{node_id}{suffix}", text, raw.get("language"), raw.get("voice")))
    return out


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
