"""What the engine needs from the world, gathered in one object handed to every call."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Protocol

from fsivr.config import Config
from fsivr.engine.overrides import OverrideCache
from fsivr.engine.queueboard import QueueBoard
from fsivr.engine.slots import ParkingSlots
from fsivr.speech.tts import Renderer, Voice

if TYPE_CHECKING:
    from fsivr.engine.cache import ScenarioCache
    from fsivr.engine.callbacks import Callbacks
    from fsivr.engine.calldata import CallData
    from fsivr.engine.directory import DirectoryCache
    from fsivr.store.callrecords import CallRecord, StepRecord


#: Rendered texts remembered in memory (beyond that, a stat() finds them on disk).
MAX_REMEMBERED = 10_000


class RecordSink(Protocol):
    """Where a call's record goes as the call happens (store.callrecords.CallRecordWriter): none of
    these may block."""

    def begin(self, record: CallRecord) -> None: ...

    def step(self, record: CallRecord, step: StepRecord) -> None: ...

    def end(self, record: CallRecord) -> None: ...


class Notify(Protocol):
    """Queueing notifications (fsivr.worker.notify.Notifier): the call only inserts an outbox row,
    off the hub; ``fsivr worker`` sends it. A port, so the engine names no worker module."""

    def sms(self, key: str, to: str, text: str, *, sender: str | None = None,
            call_uuid: str | None = None) -> Any: ...

    def email(self, key: str, to: Sequence[str] | str, subject: str, text: str, *,
              attachments: Sequence[str | dict[str, str]] = (), call_uuid: str | None = None) -> Any: ...

    def enqueue(self, kind: str, build: Callable[[], dict[str, Any]], key: str, *,
                call_uuid: str | None = None, not_before: datetime | None = None) -> Any: ...


class Archive(Protocol):
    """What calls keep besides their record (fsivr.store.archive.Archive), off the hub."""

    def voicemail(self, box: str, caller: str | None, call_uuid: str | None, duration_ms: int,
                  file: str) -> int: ...

    def call_file(self, call_uuid: str, kind: str, file: str, expires_at: datetime | None = None) -> int: ...

    def first_call(self, caller: str, call_uuid: str) -> bool: ...


class AgentStatus(Protocol):
    """Agent statuses kept the same in mod_callcenter and the store (fsivr.callcenter.agents.AgentDesk):
    a port, so the engine names no callcenter class."""

    def set_status(self, agent: str, status: str, reason: str | None, api: Callable[[str], str],
                   at: datetime | None = None) -> bool: ...


class MediaDirs:
    """Where calls leave files (config ``media_dir``): one directory per kind, created on demand;
    file names are made by the nodes from the call's uuid, never from caller text."""

    KINDS = ("voicemail", "recordings", "fax", "fax-cache")

    def __init__(self, media_dir: str, documents_dir: str = "documents") -> None:
        self.root = Path(media_dir).resolve()
        self.documents = Path(documents_dir).resolve()

    def folder(self, kind: str) -> Path:
        """``<media_dir>/<kind>``, made if missing."""
        if kind not in self.KINDS:
            raise ValueError(f"no media directory {kind!r}")
        folder = self.root / kind
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def path(self, kind: str, name: str) -> Path:
        """``<media_dir>/<kind>/<name>``; the directory is made if missing."""
        if "/" in name or name.startswith("."):
            raise ValueError(f"bad media file name {name!r}")
        return self.folder(kind) / name

    def relative(self, path: Path) -> str:
        return path.relative_to(self.root).as_posix()

    def document(self, name: str) -> Path:
        """A document to fax; names come from scenarios, so they stay inside documents_dir."""
        path = (self.documents / name).resolve()
        if self.documents not in path.parents:
            raise ValueError(f"document {name!r} is outside {self.documents}")
        return path


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
    #: Notifications (sms, email, voicemail nodes); None: nothing can be sent (a node says so).
    notify: Notify | None = None
    #: Voicemail rows, files kept with call records, caller history; None in a store-less setup.
    archive: Archive | None = None
    media: MediaDirs = field(default_factory=lambda: MediaDirs("var/media"))
    #: Parking-lot slots this server has chosen or lets rest (engine/slots.py), for the park node.
    parking: ParkingSlots = field(default_factory=ParkingSlots)
    #: Time-condition overrides (day/night switch) in memory, polled (engine/overrides.py).
    overrides: OverrideCache = field(default_factory=OverrideCache)
    #: Callback jobs (the callback node; a served caller's call cancels theirs); None without a store.
    callbacks: Callbacks | None = None
    #: mod_callcenter queues as the queue node sees them: one member/agent list per queue per
    #: interval, shared by every caller waiting in it (engine/queueboard.py).
    queues: QueueBoard = field(default_factory=QueueBoard)
    #: Agent statuses for the agent IVR (set in mod_callcenter over the live link, and saved); None
    #: without a store.
    agents: AgentStatus | None = None
