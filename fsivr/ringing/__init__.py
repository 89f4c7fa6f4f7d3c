"""Ringing people: whom a node rings (``targets``), in which order (``dialstrings``), how the ring
is run over the call's socket (``ring``), and what FreeSWITCH's result means (``causes``).

Shared by every node that rings someone (dial, forward, group, extension, menu with
allow_extension, responsible_manager, any_manager); a node module only decides *whom* to ring and
reaches ringing through the names below. Layering: nodes → ringing → engine (ringing knows the
``Call`` and the directory, never a node type).
"""

from fsivr.ringing.causes import ANSWERED, BUSY, FAILED, NO_ANSWER, RING_OUTCOMES
from fsivr.ringing.dialstrings import STRATEGIES
from fsivr.ringing.ring import (
    RING_SECONDS,
    caller_id_check,
    registered,
    remember_employees,
    resolver_for,
    ring,
    ring_extension,
    with_timeout,
)
from fsivr.ringing.targets import Leg, Target, parse_target

__all__ = ["ANSWERED", "BUSY", "FAILED", "NO_ANSWER", "RING_OUTCOMES", "RING_SECONDS", "STRATEGIES", "Leg",
           "Target", "caller_id_check", "parse_target", "registered", "remember_employees", "resolver_for",
           "ring", "ring_extension", "with_timeout"]
