"""What calls keep besides their record: voicemail messages, recordings and received faxes (the files
live under the media directory; these rows say whose they are), and the caller history after-call
chains ask about. Every method runs on the store's threadpool (``Store.run``): a call never blocks
the hub on it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from fsivr.store.db import Store
from fsivr.store.models import CallFileRow, CallRow, VoicemailRow
from fsivr.store.phone import caller_spellings
from fsivr.store.types import utcnow


def add_voicemail(session: Session, box: str, caller: str | None, call_uuid: str | None, duration_ms: int,
                  file: str, now: datetime) -> int:
    row = VoicemailRow(box=box, caller=caller, call_uuid=call_uuid, duration_ms=duration_ms, file=file,
                       created_at=now)
    session.add(row)
    session.flush()
    return int(row.id)


def add_call_file(session: Session, call_uuid: str, kind: str, file: str, now: datetime,
                  expires_at: datetime | None) -> int:
    row = CallFileRow(call_uuid=call_uuid, kind=kind, file=file, created_at=now, expires_at=expires_at)
    session.add(row)
    session.flush()
    return int(row.id)


def forget_call_file(session: Session, file: str) -> int:
    """The retention clean-up deleted ``file``: its rows go too."""
    return int(session.execute(delete(CallFileRow).where(CallFileRow.file == file)).rowcount)  # type: ignore[attr-defined]


def called_before(session: Session, caller: str, call_uuid: str) -> bool:
    """Whether another call from ``caller`` is on record (the current one excluded), the number
    compared in E.164: records keep the caller ID as the trunk sent it, and two trunks (or one
    trunk's national and international calls) spell one number differently, so every spelling of
    it is looked for (store/phone.py caller_spellings) — a few probes of ix_calls_caller in one
    statement."""
    spellings = caller_spellings(caller)
    return bool(session.scalar(select(exists().where(CallRow.caller.in_(spellings), CallRow.uuid != call_uuid))))


class Archive:
    """The engine's ``Archive`` port (fsivr/engine/services.py) over a Store."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def voicemail(self, box: str, caller: str | None, call_uuid: str | None, duration_ms: int, file: str) -> int:
        now = utcnow()
        return self.store.run(lambda s: add_voicemail(s, box, caller, call_uuid, duration_ms, file, now))

    def call_file(self, call_uuid: str, kind: str, file: str, expires_at: datetime | None = None) -> int:
        now = utcnow()
        return self.store.run(lambda s: add_call_file(s, call_uuid, kind, file, now, expires_at))

    def first_call(self, caller: str, call_uuid: str) -> bool:
        if not caller:
            return False  # an anonymous caller is nobody we can know again
        return not self.store.run(lambda s: called_before(s, caller, call_uuid))
