"""The contract every node type fulfils.

A node type is one class: it declares its parameters and outcomes (so validation, docs and the
runner all read the same declaration), compiles its parameters once when a scenario is loaded,
and runs against a call, returning the name of the outcome it took.

What a node may touch when it runs:
- its own compiled parameters (``self.p`` and what ``compile`` derived from them);
- the ``Call``: its public fields and methods (identity, ``vars``, media, ``answered``/``gone``,
  ``wait_hangup``, ``listen``, ``handoff`` for goto/exit) — never ``call.conn``, the engine's own;
- ``call.services``: config, prompts, directory (read-only snapshots, never the database), and
  ``data`` (engine/calldata.py: data-table look-ups and the authorize lock-out), the ``notify`` and
  ``archive`` ports (queue a notification; keep a voicemail's or a file's row) — the only database
  work a node asks for, each run off the hub —, ``media`` (where a call's files go), ``parking``
  (engine/slots.py: the parking-lot slots this server holds for calls being parked),
  ``overrides`` (engine/overrides.py: the day/night switches in memory) and ``agents`` (a queue
  agent's status, set in mod_callcenter and the store: fsivr.callcenter.agents);
- fsivr.ringing, for ringing someone.
Whatever it raises becomes an outcome in the runner; it keeps no state between calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from fsivr.engine.call import Call

#: Outcomes every node may take besides its own (spec section 3).
COMMON_OUTCOMES = ("error",)

class ScenarioError(ValueError):
    """A scenario (or one of its nodes) is invalid. The message names the scenario, node and field."""

    def __init__(self, message: str, *, scenario: str | None = None, node: str | None = None,
                 field: str | None = None) -> None:
        self.scenario, self.node, self.field = scenario, node, field
        where = ".".join(p for p in (scenario, node and f"nodes.{node}", field) if p)
        super().__init__(f"{where}: {message}" if where else message)


@dataclass(frozen=True)
class Param:
    """One parameter of a node type.

    ``kind`` is the Python type (or tuple of types) the YAML value must have; ints are accepted where
    floats are. ``between`` is the range a number must lie in, both ends allowed unless
    ``low_open`` (a duration of 0 s means nothing); ``unit`` names what it counts, for messages and
    docs. ``check`` may normalise the value or raise ValueError with a message for the user (for
    rules a range cannot say). ``ref`` names what the value refers to (a prompt, account, ...), so
    validation can check it exists.
    """

    kind: type | tuple[type, ...]
    required: bool = False
    default: Any = None
    doc: str = ""
    choices: tuple[Any, ...] = ()
    ref: str | None = None
    check: Callable[[Any], Any] | None = None
    between: tuple[float, float] | None = None
    low_open: bool = False
    unit: str = ""

    def range_text(self) -> str:
        """The declared range in words ("" without one): what messages and docs/nodes.md say."""
        if self.between is None:
            return ""
        low, high = self.between
        unit = f" {self.unit}" if self.unit else ""
        if self.low_open:
            return f"more than {low} and at most {high}{unit}"
        return f"between {low} and {high}{unit}"

    def check_range(self, value: float) -> None:
        """Raise ValueError (a message for the user) when ``value`` is outside the declared range."""
        if self.between is None:
            return
        low, high = self.between
        if not (low < value <= high if self.low_open else low <= value <= high):
            raise ValueError(f"must be {self.range_text()}")


@dataclass
class Ref:
    """A named thing a compiled node needs to exist (collected for validation)."""

    kind: str
    name: str
    field: str


class Node:
    """Base class of node types. Subclasses set the class attributes and implement ``run``."""

    #: The type name used in scenarios (``type: menu``).
    type: ClassVar[str]
    #: One line for docs and ``fsivr scenario show``.
    summary: ClassVar[str] = ""
    params: ClassVar[Mapping[str, Param]] = {}
    #: Fixed outcome names (besides ``error``); ``next`` is the default continuation.
    outcomes: ClassVar[tuple[str, ...]] = ("next",)
    #: True for menus: each key under ``options`` is also an outcome.
    option_outcomes: ClassVar[bool] = False
    #: True if running the node waits for the caller or for time to pass (plays media, collects
    #: keys, rings someone). A loop in the graph with no waiting node could spin forever.
    waits: ClassVar[bool] = False
    #: Outcomes a waiting node may take without waiting (nothing to ring, caller unknown): a loop
    #: through one of them can spin like a loop of non-waiting nodes. ``error`` always can.
    instant_outcomes: ClassVar[tuple[str, ...]] = ()
    #: True if the node ends the scenario (no outcome is followed).
    terminal: ClassVar[bool] = False
    #: Outcomes after which ending the call is the expected thing (``answered``: the caller has
    #: talked to someone and the other side hung up), so leaving them out is not worth a warning.
    ending_outcomes: ClassVar[tuple[str, ...]] = ()
    #: True if the node needs no live channel, so it may run in a scenario's ``after_call`` chain
    #: (it computes, records or queues a notification). Validation refuses the others there.
    runs_after_call: ClassVar[bool] = False

    def __init__(self, node_id: str, params: dict[str, Any]) -> None:
        self.id = node_id
        self.p = params
        #: Named things this node needs (filled by ``compile``), checked by validation.
        self.refs: list[Ref] = []
        self.compile()

    def compile(self) -> None:
        """Precompute whatever ``run`` needs from ``self.p``; raise ScenarioError for bad values.

        Called once per scenario version, never per call.
        """

    def extra_outcomes(self) -> tuple[str, ...]:
        """Outcomes that depend on the parameters (menu keys)."""
        return ()

    def all_outcomes(self) -> tuple[str, ...]:
        return self.outcomes + self.extra_outcomes() + COMMON_OUTCOMES

    def possible_outcomes(self) -> tuple[str, ...]:
        """The outcomes this node, as configured, can take (besides ``error``): what validation
        expects an edge for. Nodes whose parameters rule an outcome out narrow it."""
        return self.outcomes + self.extra_outcomes()

    def error(self, message: str, field: str | None = None) -> ScenarioError:
        return ScenarioError(message, node=self.id, field=field)

    def run(self, call: Call) -> str:
        """Drive the call through this node and return the outcome taken."""
        raise NotImplementedError
