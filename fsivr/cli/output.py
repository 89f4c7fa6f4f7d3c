"""How every command reports an error: one line on standard error, prefixed ``fsivr:``."""

from __future__ import annotations

import sys


def err(message: str) -> None:
    print(f"fsivr: {message}", file=sys.stderr)
