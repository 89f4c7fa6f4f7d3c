"""record_call through the real server and the simulator: record_session for the rest of the call
(stereo through RECORD_STEREO), the file kept with the call record, and deleted by the worker's
retention job once its days are up."""

from __future__ import annotations

import wave
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from fsivr.config import Config
from fsivr.store.models import CallFileRow, OutboxRow
from fsivr.store.types import utcnow
from fsivr.testing.harness import Harness, running
from fsivr.worker.loop import Worker
from fsivr.worker.retention import RetentionSender

BUNDLE = """
scenarios:
  - scenario: rec
    numbers: ["5001"]
    start: r
    nodes:
      r: {type: record_call, stereo: true, retention_days: 30, next: hello}
      hello: {type: play, text: "This call is recorded", next: bye}
      bye: {type: hangup}
  - scenario: rec-keep
    numbers: ["5002"]
    start: r
    nodes:
      r: {type: record_call, next: hello}
      hello: {type: play, text: "This call is recorded", next: bye}
      bye: {type: hangup}
"""


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # A blank in the path: record_session's argument must keep it one argument (switch_split).
    return tmp_path_factory.mktemp("media dir")


@pytest.fixture(scope="module")
def rec(media: Path) -> Iterator[Harness]:
    cfg = Config()
    cfg.media_dir = str(media)
    with running(BUNDLE, config=cfg) as harness:
        yield harness


def rows(harness: Harness, uuid: str) -> tuple[list[CallFileRow], list[OutboxRow]]:
    return harness.store.run(lambda s: (
        list(s.scalars(select(CallFileRow).where(CallFileRow.call_uuid == uuid))),
        list(s.scalars(select(OutboxRow).where(OutboxRow.call_uuid == uuid)))))


def test_the_rest_of_the_call_is_recorded_kept_and_deleted_after_its_retention(rec: Harness, media: Path) -> None:
    placed = rec.call(number="5001")
    assert placed.path == [("r", "next"), ("hello", "next"), ("bye", "hangup")]
    [run] = [a for a in placed.result.apps if a.name == "record_session"]
    assert (run.arg or "").startswith("'") and (run.arg or "").endswith(".wav'")
    path = Path((run.arg or "").strip("'"))
    assert path.parent == media / "recordings" and placed.result.uuid in path.name
    assert placed.result.variables["RECORD_STEREO"] == "true"
    # Written when the channel hung up (the media bug closes): stereo, the whole call from the start.
    with wave.open(str(path)) as w:
        assert (w.getnchannels(), w.getframerate()) == (2, 8000)
        assert w.getnframes() == int(placed.result.variables["record_samples"]) > 0
    [kept], [job] = rows(rec, placed.result.uuid)
    assert (kept.kind, kept.file) == ("recording", path.relative_to(media).as_posix())
    assert kept.expires_at is not None
    assert timedelta(days=29, hours=23) < kept.expires_at - utcnow() <= timedelta(days=30)
    assert (job.kind, job.payload, job.next_attempt_at) == ("delete_file", {"file": kept.file}, kept.expires_at)

    sender = RetentionSender(rec.store, str(media))
    assert not Worker(rec.store, {"delete_file": sender}).run_once()  # not due: 30 days to go
    assert path.is_file()
    later = Worker(rec.store, {"delete_file": sender}, clock=lambda: utcnow() + timedelta(days=30, minutes=1))
    assert later.run_once()
    assert not path.exists()
    [done] = rows(rec, placed.result.uuid)[1]
    assert done.state == "sent" and rows(rec, placed.result.uuid)[0] == []


def test_without_retention_the_recording_is_kept(rec: Harness, media: Path) -> None:
    placed = rec.call(number="5002")
    [kept], jobs = rows(rec, placed.result.uuid)
    assert kept.expires_at is None and jobs == []
    with wave.open(str(media / kept.file)) as w:
        assert w.getnchannels() == 1
    assert "RECORD_STEREO" not in placed.result.variables


def test_the_retention_job_deletes_nothing_outside_the_media_directory(rec: Harness, media: Path,
                                                                        tmp_path: Path) -> None:
    precious = tmp_path / "precious.txt"
    precious.write_text("keep me")
    sender = RetentionSender(rec.store, str(media))
    for name in ("../" * 8 + str(precious).lstrip("/"), str(precious), ""):
        with pytest.raises(Exception, match="refusing to delete"):
            sender({"file": name}, "k")
    assert precious.read_text() == "keep me"
