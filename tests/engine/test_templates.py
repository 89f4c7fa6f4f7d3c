"""User templates run sandboxed and bounded."""

from __future__ import annotations

import pytest

from fsivr.engine.templates import TemplateProblem, render


def test_renders_call_variables() -> None:
    text = render("Hi {{ caller }}, you owe {{ amount }}", {"caller": "+48501", "amount": 12})
    assert text == "Hi +48501, you owe 12"
    assert render("{{ missing }}|{{ missing.deeper }}", {}) == "|"


@pytest.mark.parametrize("source, fault", [
    ("{{ ''.__class__.__mro__ }}", "sandbox"),
    ("{{ caller.__class__.__init__.__globals__ }}", "sandbox"),
    ("{{ 'x' * 100000000 }}", "sandbox"),
    ("{{ ('x' * 10000) * 10000 }}", "sandbox"),
    ("{{ 10 ** 100000 }}", "sandbox"),
    ("{{ 'x'.ljust(100000000) }}", "sandbox"),
    ("{{ 'x'|center(100000000) }}", "sandbox"),
    ("{{ 'x'|indent(100000000) }}", "sandbox"),
    ("{{ '%999999999s' % caller }}", "sandbox"),
    ("{{ '{:>999999999}'.format(caller) }}", "sandbox"),
    ("{{ '{:>{}}'.format(caller, 999999999) }}", "sandbox"),
    ("{{ '%999999999s'|format(caller) }}", "sandbox"),
    ("{{ ('x' * 60000).replace('x', 'x' * 60000) }}", "sandbox"),
    ("{% for i in range(100000) %}{{ 'aaaaaaaaaa' }}{% endfor %}", "longer than"),
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}", "loops inside loops"),
    ("{% macro f(n) %}{{ f(n) }}{{ f(n) }}{% endmacro %}{{ f(1) }}", "macro is not allowed"),
    ("{% include 'x' %}", "include is not allowed"),
    ("{{ 1 / 0 }}", "failed"),
])
def test_hostile_templates_are_refused(source: str, fault: str) -> None:
    with pytest.raises(TemplateProblem, match=fault):
        render(source, {"caller": "x"})


def test_ordinary_templates_still_work() -> None:
    out = render("{% for d in digits %}{{ d }}{% if not loop.last %}-{% endif %}{% endfor %} "
                 "{{ '%05.1f'|format(amount) }} {{ name|title|center(12) }} {{ 'ab'.replace('a', 'xy') }}",
                 {"digits": "123", "amount": 3.14159, "name": "anna"})
    assert out == "1-2-3 003.1     Anna     xyb"
