"""Reading and writing scenario YAML safely and predictably.

Safe loading only (no object construction), and a stricter reading of plain scalars than PyYAML's
YAML 1.1 default, which silently turns phone-system data into something else: ``+48221234567``
into the integer 48221234567 (the plus is lost), ``0221234567`` into an octal number, ``no`` (a
menu key or a name) into False, ``2026-12-25`` into a date that JSON cannot store. Here, as in
YAML 1.2's core schema, only ``true``/``false`` are booleans, only plain decimal numbers are
numbers, and dates stay text. Duplicate keys are errors, since the second one silently winning is
how a node loses an outcome.

Aliases (``&anchor`` / ``*alias``, and ``<<: *defaults`` merges) are allowed, but the document
they expand to is bounded (MAX_ALIAS_VALUES): everything after loading (bundle checks, JSON columns)
walks the expanded data, so a few hundred bytes of nested aliases ("billion laughs") would
otherwise take minutes and gigabytes. A recursive alias is an error.

A file is bounded too, and refused as early as can be: its size before it is read
(MAX_FILE_BYTES), the number of values while it is parsed (MAX_VALUES, counted as the parser meets
them). libyaml parses when PyYAML has it (it does in the wheels), several times faster than the
pure-Python parser; what a value means is decided by the same Python resolver either way.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

try:
    from yaml.cyaml import CParser
except ImportError:  # pragma: no cover - PyYAML without libyaml
    CParser = None

#: Path of a value inside the document (mapping keys and list indexes) -> its 1-based line.
Lines = dict[tuple[str | int, ...], int]

_MERGE = "tag:yaml.org,2002:merge"
#: Most values (scalars, lists, mappings, keys) aliases may add to a document, counted each time
#: they are used, beyond the values written out in it: an alias bomb is what this stops, a small
#: file expanding to millions.
MAX_ALIAS_VALUES = 200_000
#: Most values written out in one document, counted while it is parsed (so a huge document stops
#: early). A hosted PBX's whole-PBX export (10,000 accounts and 2,000 scenarios: ~250,000 values,
#: bench/scale.py) must import back, so this is well above it.
MAX_VALUES = 1_000_000
#: Largest scenario or bundle file: bounds how long parsing one can take (seconds per megabyte),
#: with room for a hosted PBX's whole-PBX export.
MAX_FILE_BYTES = 16 * 1024 * 1024


class _TooManyValues(Exception):
    pass


class YamlError(ValueError):
    """Unreadable YAML; the message names the file and line."""

    def __init__(self, message: str, filename: str | None = None, line: int | None = None) -> None:
        self.filename, self.line = filename, line
        where = ":".join(str(p) for p in (filename, line) if p is not None)
        super().__init__(f"{where}: {message}" if where else message)


class _StrictConstructor(SafeConstructor):
    """SafeConstructor that refuses duplicate keys."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        if isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == _MERGE:
                    continue
                key = self.construct_object(key_node, deep=True)
                # Keys become text (JSON, menu keys): 1 and "1" are the same key, and one would
                # silently win.
                same = str(key) if isinstance(key, int) and not isinstance(key, bool) else key
                try:
                    first = seen.get(same)
                except TypeError:
                    raise ConstructorError("while constructing a mapping", node.start_mark,
                                           "found an unhashable key", key_node.start_mark) from None
                if first is not None:
                    raise ConstructorError(
                        None, None, f"duplicate key {key!r} (first on line {first})", key_node.start_mark)
                seen[same] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


class _StrictResolver(Resolver):
    """YAML 1.2-like implicit scalars (the table below), and a count of the values parsed.

    Both parsers ask the resolver for the tag of every untagged value they compose, so counting
    here stops a huge document while it is being parsed. (Explicitly tagged values are not counted
    here, but each costs several bytes more, so MAX_FILE_BYTES bounds them; _check_expansion counts
    everything once parsing is done.)"""

    def __init__(self) -> None:
        super().__init__()
        self.values_seen = 0

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        self.values_seen += 1
        if self.values_seen > MAX_VALUES:
            raise _TooManyValues
        return super().resolve(kind, value, implicit)


class StrictLoader(Reader, Scanner, Parser, Composer, _StrictConstructor, _StrictResolver):
    """The pure-Python loader: SafeLoader with YAML 1.2-like scalars and no duplicate keys."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _StrictConstructor.__init__(self)
        _StrictResolver.__init__(self)


_StrictResolver.yaml_implicit_resolvers = {}
for _tag, _regexp, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^-?(?:0|[1-9][0-9]*)$", "-0123456789"),
    # Exponents need a sign, as in YAML 1.1, so that every string PyYAML's dumper leaves unquoted
    # reads back as a string here.
    ("tag:yaml.org,2002:float", r"^-?(?:0|[1-9][0-9]*)\.[0-9]*(?:[eE][-+][0-9]+)?$", "-0123456789"),
    ("tag:yaml.org,2002:float", r"^-?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$", "-."),
    (_MERGE, r"^(?:<<)$", "<"),
):
    _StrictResolver.add_implicit_resolver(_tag, re.compile(_regexp), list(_first))

if CParser is not None:
    class _StrictCLoader(CParser, _StrictConstructor, _StrictResolver):
        """The same loader with libyaml scanning and composing: several times faster on large files
        (the resolver and constructor, which decide what a value means, are the Python ones above)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _StrictConstructor.__init__(self)
            _StrictResolver.__init__(self)

    _LOADER: type[StrictLoader] | type[_StrictCLoader] = _StrictCLoader
else:  # PyYAML built without libyaml
    _LOADER = StrictLoader


def read_limited(path: str | Path) -> str:
    """A file's text, refused unread beyond MAX_FILE_BYTES (OSError, UnicodeDecodeError otherwise)."""
    with open(path, "rb") as f:
        # Reading one byte more than the limit tells a file at the limit from a larger one, for
        # anything open() can open (a pipe has no size to ask for).
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise YamlError(f"the file is larger than {MAX_FILE_BYTES} bytes, the limit for a scenario or bundle "
                        "file (MAX_FILE_BYTES); split it into several files", str(path))
    return data.decode("utf-8")


def load_yaml(text: str, filename: str | None = None) -> tuple[Any, Lines]:
    """Parse one YAML document; return the data and where each of its values is."""
    if len(text) > MAX_FILE_BYTES:
        raise YamlError(f"the text is longer than {MAX_FILE_BYTES} characters, the limit for a scenario or bundle "
                        "(MAX_FILE_BYTES); split it into several files", filename)
    loader = _LOADER(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expansion(node, filename)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise YamlError("nested too deeply", filename) from None
    except _TooManyValues:
        raise YamlError(f"the document has more than {MAX_VALUES} values, the limit for a scenario or bundle "
                        "(MAX_VALUES); split it into several files", filename) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = " ".join(p for p in (exc.context, exc.problem) if p)
        raise YamlError(problem or str(exc), filename, mark.line + 1 if mark else None) from None
    except yaml.YAMLError as exc:
        raise YamlError(str(exc), filename) from None
    finally:
        loader.dispose()
    lines: Lines = {}
    if node is not None:
        _index(node, (), lines, set())
    return data, lines


def _children(node: Node) -> list[Node]:
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, SequenceNode):
        return list(node.value)
    return []


def _check_expansion(root: Node, filename: str | None) -> None:
    """Refuse a document whose aliases add more than MAX_ALIAS_VALUES values, or refer to themselves.

    Each distinct node is sized once (memo by id), so this takes time in proportion to the
    file, not to what it expands to."""
    written: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) not in written:
            written.add(id(node))
            stack.extend(_children(node))
    limit = MAX_ALIAS_VALUES + len(written)
    sizes: dict[int, int] = {}
    open_nodes: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in open_nodes:
            raise YamlError("an alias refers to a value that contains it (recursive anchor)", filename,
                            node.start_mark.line + 1)
        open_nodes.add(key)
        total = 1
        for child in _children(node):
            total += size(child)
            if total > limit:
                raise YamlError(f"the document expands to more than {MAX_ALIAS_VALUES} values through aliases "
                                "(&anchor / *alias); write the values out instead", filename,
                                node.start_mark.line + 1)
        open_nodes.discard(key)
        sizes[key] = total
        return total

    size(root)


def _index(node: Node, path: tuple[str | int, ...], lines: Lines, seen: set[int]) -> None:
    """Record the line of every value, walking each node once: a value reached again through an
    alias keeps the lines of its first path (later paths fall back to the alias's own key line)."""
    lines.setdefault(path, node.start_mark.line + 1)
    if id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
                sub = (*path, str(key_node.value))
                lines.setdefault(sub, key_node.start_mark.line + 1)
                _index(value_node, sub, lines, seen)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            _index(item, (*path, i), lines, seen)


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # Multi-line text (TTS prompts, templates) reads better as a block.
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _str_presenter)


def dump_yaml(data: Any) -> str:
    """YAML that :func:`load_yaml` reads back to ``data`` (keys in the given order)."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False,
                     width=100)
