"""Failed authorizations per caller number, for the authorize node's lock-out.

Each function runs inside ``Store.run`` (a threadpool thread) and costs one statement on the
``(caller, failed_at)`` index. The count is of the store's rows, so every ``fsivr serve``
sharing the database sees the same failures.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from fsivr.store.models import AuthFailureRow

_T = AuthFailureRow.__table__


def failures_since(session: Session, caller: str, since: datetime) -> int:
    query = select(func.count()).select_from(_T).where(_T.c.caller == caller, _T.c.failed_at >= since)
    return int(session.execute(query).scalar_one())


def record_failure(session: Session, caller: str, at: datetime) -> None:
    session.execute(insert(AuthFailureRow), [{"caller": caller, "failed_at": at}])


def clear(session: Session, caller: str, before: datetime) -> None:
    """A caller who got in starts afresh; rows older than ``before`` (outside every window) go
    too, so the table does not grow without bound."""
    session.execute(delete(AuthFailureRow).where((_T.c.caller == caller) | (_T.c.failed_at < before)))
