"""What the engine needs from the world, gathered in one object handed to every call."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from fsivr.config import Config
from fsivr.engine.overrides import OverrideCache
from fsivr.engine.slots import ParkingSlots
from fsivr.speech.tts import Renderer, Voice

if TYPE_CHECKING:
    from fsivr.engine.cache import ScenarioCache
    from fsivr.engine.calldata import CallData
    from fsivr.engine.directory import DirectoryCache
    from fsivr.store.callrecords import CallRecord


#: Rendered texts remembered in memory (beyond that, a stat() finds them on disk).
MAX_REMEMBERED = 10_000


class RecordSink(Protocol):
    def submit(self, record: CallRecord) -> None: ...


@dataclass
class Resolved:
    path: str | None = None
    text: str | None = None
    language: str | None = None
    voice: str | None = None


class PromptLibrary:
    """Prompt names → what to play. Refreshed with the scenario cache; never read per call."""

    def __init__(self, prompts_dir: str, freeswitch_dir: str = "", *, rate: int = 8000, speed: int = 160,
                 volume: int = 100) -> None:
        self.root = Path(prompts_dir).resolve()
        #: Renders text for voices fsivr speaks itself (espeak-ng) into prompts/_tts.
        self.renderer = Renderer(self.root, rate=rate, speed=speed, volume=volume)
        #: Texts known to be rendered: a call that plays one again costs no stat().
        self._rendered: dict[tuple[str, Voice], str] = {}
        #: The same directory as FreeSWITCH sees it (another host or container mounts it elsewhere).
        self.fs_root = PurePosixPath(freeswitch_dir) if freeswitch_dir else None
        self.rows: dict[str, Any] = {}
        # Path.resolve() is a realpath(): an lstat per path component on every prompt played.
        # Kept until the rows change; a symlink swapped under prompts/ meanwhile is not seen.
        self._resolved: dict[str, Resolved] = {}

    def update(self, rows: dict[str, Any]) -> None:
        self.rows = rows
        self._resolved = {}

    def resolve(self, name: str) -> Resolved:
        found = self._resolved.get(name)
        if found is None:
            found = self._resolved[name] = self._resolve(name)
        return found

    def _resolve(self, name: str) -> Resolved:
        row = self.rows.get(name)
        if row is None:
            # Not in the store: a file of that name under prompts/ (the demo ships some).
            return Resolved(path=self.file_path(name if "." in name else name + ".wav"))
        text = getattr(row, "text", None)
        if text:
            return Resolved(text=text, language=getattr(row, "language", None), voice=getattr(row, "voice", None))
        return Resolved(path=self.file_path(getattr(row, "file", None) or name))

    @classmethod
    def for_config(cls, config: Config) -> PromptLibrary:
        return cls(config.prompts_dir, config.freeswitch_prompts_dir, rate=config.prompt_rate,
                   speed=config.tts_speed, volume=config.tts_volume)

    def spoken(self, text: str, voice: Voice) -> str:
        """The file FreeSWITCH plays for ``text`` in ``voice``, rendered now if ``prompts build``
        has not (a gevent subprocess: the call waits, the hub does not)."""
        found = self._rendered.get((text, voice))
        if found is None:
            if len(self._rendered) >= MAX_REMEMBERED:
                self._rendered.clear()  # said amounts vary without end; the files stay cached
            found = self._rendered[(text, voice)] = self.file_path(self.renderer.render(text, voice))
        return found

    def file_path(self, relative: str) -> str:
        # Names come from users: keep them inside the prompts directory whatever they say.
        path = (self.root / relative).resolve()
        if self.root != path and self.root not in path.parents:
            raise ValueError(f"prompt file {relative!r} is outside {self.root}")
        if self.fs_root is not None:
            return str(self.fs_root / path.relative_to(self.root).as_posix())
        return os.fspath(path)


@dataclass
class Services:
    config: Config
    scenarios: ScenarioCache
    records: RecordSink
    prompts: PromptLibrary
    #: Directory data for ringing nodes (accounts, groups, contacts), refreshed like scenarios.
    directory: DirectoryCache
    #: Data-table look-ups and the authorize lock-out: the only database work a node asks for,
    #: each one query off the hub (engine/calldata.py).
    data: CallData
    #: Parking-lot slots this server has chosen or lets rest (engine/slots.py), for the park node.
    parking: ParkingSlots = field(default_factory=ParkingSlots)
    #: Time-condition overrides (day/night switch) in memory, polled (engine/overrides.py).
    overrides: OverrideCache = field(default_factory=OverrideCache)
