"""User-written Jinja templates (SMS, e-mail, set, say), rendered in a sandbox.

The sandbox blocks attribute access to internals; on top of it we cap what arithmetic can build
(``'x' * 10**9`` is legal Jinja) and the size of the output, so a hostile template costs an error,
not the server's memory.
"""

from __future__ import annotations

import operator
from typing import Any

from jinja2 import ChainableUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment, SecurityError

MAX_OUTPUT = 64 * 1024
MAX_POWER = 64
MAX_REPEAT = 10_000


class TemplateProblem(ValueError):
    """A template failed to compile or render; the message says why."""


class _Env(SandboxedEnvironment):
    intercepted_binops = frozenset(["*", "**"])

    def unsafe_undefined(self, obj: Any, attribute: str) -> Any:
        # The stock sandbox returns an Undefined that renders as "" with our lenient Undefined;
        # a template reaching for internals is hostile and should be told so.
        raise SecurityError(f"access to attribute {attribute!r} of a {type(obj).__name__} is not allowed")

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, (int, float)) and abs(right) > MAX_POWER:
                raise SecurityError(f"exponent {right} is too large")
            return operator.pow(left, right)
        if isinstance(left, (str, list, tuple)) or isinstance(right, (str, list, tuple)):
            count = right if isinstance(left, (str, list, tuple)) else left
            if isinstance(count, int) and count > MAX_REPEAT:
                raise SecurityError(f"repeating a sequence {count} times is not allowed")
        return operator.mul(left, right)


_env = _Env(undefined=ChainableUndefined, autoescape=False, keep_trailing_newline=False)


def check(source: str) -> None:
    """Compile a template to find syntax errors at validation time."""
    try:
        _env.from_string(source)
    except TemplateError as exc:
        raise TemplateProblem(f"template does not compile: {exc}") from None


def render(source: str, variables: dict[str, Any]) -> str:
    try:
        out = _env.from_string(source).render(variables)
    except SecurityError as exc:
        raise TemplateProblem(f"template refused by the sandbox: {exc}") from None
    except TemplateError as exc:
        raise TemplateProblem(f"template failed: {exc}") from None
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise TemplateProblem(f"template failed: {exc}") from None
    if len(out) > MAX_OUTPUT:
        raise TemplateProblem(f"template output is longer than {MAX_OUTPUT} characters")
    return out
