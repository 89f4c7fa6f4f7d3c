"""The retention clean-up: files kept with call records (recordings) are deleted when their time is up.

A scheduled job is an outbox row like any notification (kind ``delete_file``), due at the expiry
(``not_before``), so it survives restarts and is done once by whichever worker claims it. The file
name in the payload is relative to the media directory and is resolved inside it: a row cannot make
a worker delete anything else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fsivr.store.archive import forget_call_file
from fsivr.store.db import Store
from fsivr.worker.errors import PermanentFailure

KIND = "delete_file"


class RetentionSender:
    """The outbox handler of kind ``delete_file``: payload ``{"file": <relative to media_dir>}``."""

    kind = KIND

    def __init__(self, store: Store, media_dir: str) -> None:
        self.store = store
        self.root = Path(media_dir).resolve()

    def __call__(self, payload: dict[str, Any], key: str) -> str:
        relative = str(payload.get("file") or "")
        path = (self.root / relative).resolve()
        if not relative or self.root not in path.parents:
            raise PermanentFailure(f"refusing to delete {relative!r}: not a file under {self.root}")
        existed = path.is_file()
        path.unlink(missing_ok=True)  # already gone (deleted by hand): the job is done all the same
        with self.store.session() as session:
            rows = forget_call_file(session, relative)
        return f"{'deleted' if existed else 'was already gone:'} {relative} ({rows} record row(s))"
