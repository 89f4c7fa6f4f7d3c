"""Node types by type name. Node modules register themselves with ``@register``."""

from __future__ import annotations

from typing import TypeVar

from fsivr.engine.node import Node

_TYPES: dict[str, type[Node]] = {}

N = TypeVar("N", bound=type[Node])


def register(cls: N) -> N:
    name = cls.type
    if name in _TYPES and _TYPES[name] is not cls:
        raise RuntimeError(f"node type {name!r} registered twice ({_TYPES[name].__module__}, {cls.__module__})")
    _TYPES[name] = cls
    return cls


def node_type(name: str) -> type[Node] | None:
    load_builtin_nodes()
    return _TYPES.get(name)


def node_types() -> dict[str, type[Node]]:
    load_builtin_nodes()
    return dict(_TYPES)


def load_builtin_nodes() -> None:
    """Import fsivr.nodes, whose modules register the built-in types (the engine never names them)."""
    import fsivr.nodes  # noqa: F401
