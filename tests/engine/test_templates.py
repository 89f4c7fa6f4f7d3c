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
    ("{{ 10 ** 100000 }}", "sandbox"),
    ("{% for i in range(100000) %}{{ 'aaaaaaaaaa' }}{% endfor %}", "longer than"),
    ("{{ 1 / 0 }}", "failed"),
])
def test_hostile_templates_are_refused(source: str, fault: str) -> None:
    with pytest.raises(TemplateProblem, match=fault):
        render(source, {"caller": "x"})
