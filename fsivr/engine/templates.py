"""User-written Jinja templates (SMS, e-mail, set, say), rendered in a sandbox.

Jinja's sandbox blocks access to internals but bounds neither memory nor time: ``'x' * 10**9``,
``'x'.ljust(10**9)``, ``'%999999999s' % x`` or nested loops over ``range(100000)`` are all legal.
So on top of it: every operation that can grow a string or a list is checked before it runs
against the output limit, output is streamed and cut at the limit, and constructs that SMS and
e-mail texts never need (nested loops, macros, includes) are refused when the template is compiled,
which is when a scenario is validated.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Iterator
from functools import lru_cache
from typing import Any

from jinja2 import ChainableUndefined, Template, TemplateError, nodes, sandbox
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_OUTPUT = 64 * 1024
MAX_POWER = 64
#: A format width or precision of six digits or more ("%999999s", "{:>1000000}").
_BIG_WIDTH = re.compile(r"\d{6,}")
#: Constructs a notification text does not need and that make run time unbounded.
_REFUSED = (nodes.Macro, nodes.CallBlock, nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends)
#: str methods whose integer arguments are sizes of the result.
_SIZED_METHODS = frozenset({"ljust", "rjust", "center", "zfill", "expandtabs"})


class TemplateProblem(ValueError):
    """A template failed to compile or render; the message says why."""


def _check_size(size: int, what: str) -> None:
    if size > MAX_OUTPUT:
        raise SecurityError(f"{what} would make {size} characters (at most {MAX_OUTPUT})")


class _Env(SandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**", "%"])

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The stock sandbox returns an Undefined that renders as "" with our lenient Undefined;
        # a template reaching for internals is hostile and should be told so.
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed")

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
                raise SecurityError(f"exponent {right} is too large")
            return operator.pow(left, right)
        if operator_name == "%":
            if isinstance(left, str) and _BIG_WIDTH.search(left):
                raise SecurityError("format widths of six digits or more are not allowed")
            return operator.mod(left, right)
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, (str, list, tuple)) and isinstance(count, int):
                _check_size(len(seq) * count, "repeating a sequence")
        return operator.mul(left, right)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        # The sandbox hands templates a wrapped str.format at attribute access; the width can be
        # in the format string ("{:>999999999}") or an argument ("{:>{}}", 10**9).
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        if _BIG_WIDTH.search(value.__self__):
            raise SecurityError("format widths of six digits or more are not allowed")

        def checked(*args: Any, **kwargs: Any) -> str:
            for arg in (*args, *kwargs.values()):
                if isinstance(arg, int) and not isinstance(arg, bool):
                    _check_size(arg, "str.format")
            return wrapped(*args, **kwargs)

        return checked

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        owner = getattr(__obj, "__self__", None)
        name = getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            if name in _SIZED_METHODS:
                for arg in (*args, *kwargs.values()):
                    if isinstance(arg, int):
                        _check_size(arg, f"str.{name}")
            elif name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
                grows = len(args[1]) - len(args[0])
                if grows > 0:
                    _check_size(len(owner) + owner.count(args[0]) * grows if args[0] else
                                len(owner) * (len(args[1]) + 1), "str.replace")
        return super().call(__context, __obj, *args, **kwargs)


def _bounded(filter_func: Callable[..., Any], *size_args: int) -> Callable[..., Any]:
    """A filter whose listed positional arguments (after the value) are result sizes."""

    def wrapper(value: Any, *args: Any, **kwargs: Any) -> Any:
        for i in size_args:
            if i < len(args) and isinstance(args[i], int):
                _check_size(args[i], filter_func.__name__)
        for key in ("width", "length"):
            if isinstance(kwargs.get(key), int):
                _check_size(kwargs[key], filter_func.__name__)
        if filter_func.__name__ == "do_format" and isinstance(value, str) and _BIG_WIDTH.search(value):
            raise SecurityError("format widths of six digits or more are not allowed")
        return filter_func(value, *args, **kwargs)

    wrapper.__name__ = filter_func.__name__
    return wrapper


_env = _Env(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False)
for _name, _sizes in (("center", (0,)), ("indent", (0,)), ("wordwrap", (0,)), ("truncate", (0,)),
                      ("format", ())):
    _env.filters[_name] = _bounded(_env.filters[_name], *_sizes)


def _refuse_unbounded(tree: nodes.Template) -> None:
    for node in tree.find_all(_REFUSED):
        raise TemplateProblem(f"{type(node).__name__.lower()} is not allowed in templates")
    for loop in tree.find_all(nodes.For):
        for child in loop.body:
            if isinstance(child, nodes.For) or any(True for _ in child.find_all(nodes.For)):
                raise TemplateProblem("loops inside loops are not allowed in templates")


#: Attribute names the sandbox refuses on some object (jinja2.sandbox.is_internal_attribute); any
#: name starting with "_" is refused on every object (is_safe_attribute).
_INTERNAL = frozenset({"mro", *sandbox.UNSAFE_FUNCTION_ATTRIBUTES, *sandbox.UNSAFE_METHOD_ATTRIBUTES,
                       *sandbox.UNSAFE_GENERATOR_ATTRIBUTES, *sandbox.UNSAFE_COROUTINE_ATTRIBUTES,
                       *sandbox.UNSAFE_ASYNC_GENERATOR_ATTRIBUTES})
#: What the call's variables look like when a template is tried at validation: text where a call
#: has text, numbers and flags where it has those (after_call's record), so a template that can
#: never render fails here, with no call to kill.
PROBE_VARIABLES: dict[str, Any] = {
    "caller": "+48501000001", "caller_name": "Caller", "number": "+48221234567", "uuid": "probe",
    "arrived_at": "2026-01-01T00:00:00+00:00", "digits": "1",
    "answered": True, "duration": 60, "talk_seconds": 50, "answered_by": "101", "first_call": True,
    "hangup_cause": "NORMAL_CLEARING", "ended_at": "2026-01-01T00:01:00+00:00",
}


def _internal_name(name: object) -> bool:
    return isinstance(name, str) and (name.startswith("_") or name in _INTERNAL)


def _refuse_internals(tree: nodes.Template) -> None:
    """Attribute access the sandbox would refuse whatever the variables hold (``''.__class__``,
    ``x['__globals__']``, ``x|attr('__class__')``): refused before any call meets it."""
    found: list[str] = []
    for node in tree.find_all((nodes.Getattr, nodes.Getitem, nodes.Filter)):
        if isinstance(node, nodes.Getattr):
            name: object = node.attr
        elif isinstance(node, nodes.Getitem):
            name = node.arg.value if isinstance(node.arg, nodes.Const) else None
        else:
            name = (node.args[0].value if node.name == "attr" and node.args
                    and isinstance(node.args[0], nodes.Const) else None)
        if _internal_name(name) and name not in found:
            found.append(str(name))
    if found:
        # find_all walks outside in: ''.__class__.__mro__ gives __mro__ first; say them as written.
        names = ", ".join(repr(n) for n in reversed(found))
        raise TemplateProblem(f"template refused by the sandbox: it reaches for {names}, outside the call's variables")


def check(source: str) -> None:
    """Find, at validation time, what would make a template fail on every call: syntax errors,
    refused constructs, reaching for internals, and output the sandbox refuses (tried once with
    :data:`PROBE_VARIABLES`, e.g. ``{{ 'x' * 10**9 }}`` or ``{{ range(10**9)|list }}``).

    A failure that depends on what a call holds (``{{ digits|int / 0 }}`` only fails for some) is
    left to the call, where it gives the node's ``error`` outcome."""
    try:
        tree = _env.parse(source)
    except TemplateError as exc:
        raise TemplateProblem(f"template does not compile: {exc}") from None
    _refuse_unbounded(tree)
    _refuse_internals(tree)
    try:
        "".join(_capped(_env.from_string(tree).generate(dict(PROBE_VARIABLES))))
    except TemplateProblem:
        raise
    except (SecurityError, OverflowError, MemoryError, RecursionError) as exc:
        raise TemplateProblem(f"template refused by the sandbox: {exc}") from None
    except Exception:  # data-dependent failures are the call's (see above)
        pass


@lru_cache(maxsize=512)
def _compiled(source: str) -> Template:
    """Templates are checked and compiled once (per scenario version, in practice), not per call."""
    check(source)
    return _env.from_string(source)


def render(source: str, variables: dict[str, Any]) -> str:
    try:
        out = "".join(_capped(_compiled(source).generate(variables)))
    except TemplateProblem:
        raise
    except SecurityError as exc:
        raise TemplateProblem(f"template refused by the sandbox: {exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(f"template failed: {exc}") from None
    except (ArithmeticError, TypeError, ValueError, RecursionError) as exc:
        raise TemplateProblem(f"template failed: {exc}") from None
    return out


def _capped(chunks: Iterator[str]) -> Iterator[str]:
    total = 0
    for chunk in chunks:
        total += len(chunk)
        if total > MAX_OUTPUT:
            raise TemplateProblem(f"template output is longer than {MAX_OUTPUT} characters")
        yield chunk
