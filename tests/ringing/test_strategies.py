"""Ring strategies: simultaneous, sequential, random_weighted — the last one statistically."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator

import pytest

from fsivr.ringing import dialstrings
from fsivr.ringing.dialstrings import dial_string, weighted_order
from fsivr.ringing.targets import Leg
from fsivr.testing.harness import Harness

WEIGHTS = {"sip:101": 4, "sip:102": 1, "sip:103": 1}  # group "lottery"
TOTAL = sum(WEIGHTS.values())
#: χ² with 2 degrees of freedom at p = 0.001.
CHI2_DF2_P001 = 13.82


def chi_square(counts: Counter[str], n: int) -> float:
    return sum((counts[k] - n * w / TOTAL) ** 2 / (n * w / TOTAL) for k, w in WEIGHTS.items())


@pytest.fixture
def seeded() -> Iterator[None]:
    # The server runs in this process: a seeded generator makes the draw reproducible, so the
    # statistical test cannot flake (production uses SystemRandom).
    saved = dialstrings.rng
    dialstrings.rng = random.Random(20261122)
    try:
        yield
    finally:
        dialstrings.rng = saved


def test_random_weighted_first_pick_follows_the_weights_over_real_calls(pbx: Harness, seeded: None) -> None:
    """240 calls to the `lottery` group (weights 4:1:1): who rings first each time.

    Tolerance: each member's share of first picks within ±0.08 of weight/total (about 3 sigma of a
    binomial with n = 240), and Pearson's χ² below 13.82 (df 2, p = 0.001). The seed is fixed, so
    the result is the same on every run.
    """
    n = 240
    firsts: Counter[str] = Counter()
    for _ in range(n):
        placed = pbx.call(number="1012")
        run = placed.result.bridges[0]
        assert run.dial_string.count("|") == 2  # all three, one after another
        firsts[run.legs[0].target] += 1
        assert placed.outcomes["g"] == "answered"
    for target, weight in WEIGHTS.items():
        assert abs(firsts[target] / n - weight / TOTAL) < 0.08, firsts
    assert chi_square(firsts, n) < CHI2_DF2_P001, firsts


def test_weighted_order_many_draws() -> None:
    """60 000 draws: first-pick shares within ±0.01 of weight/total (> 5 sigma), χ² bound as above."""
    rng = random.Random(7)
    legs = [Leg(f"user/{t[4:]}", 10, t, weight=w) for t, w in WEIGHTS.items()]
    n = 60_000
    firsts = Counter(weighted_order(legs, rng)[0].label for _ in range(n))
    for target, weight in WEIGHTS.items():
        assert abs(firsts[target] / n - weight / TOTAL) < 0.01
    assert chi_square(firsts, n) < CHI2_DF2_P001
    # every order is a permutation of all members
    assert sorted(leg.label for leg in weighted_order(legs, rng)) == sorted(WEIGHTS)


def test_weight_zero_rings_only_after_everyone_else() -> None:
    rng = random.Random(3)
    legs = [Leg("user/a", 10, "a", weight=0), Leg("user/b", 10, "b", weight=1), Leg("user/c", 10, "c", weight=5)]
    for _ in range(200):
        assert weighted_order(legs, rng)[-1].label == "a"


def test_dial_strings_per_strategy() -> None:
    legs = [Leg("user/101", 20, "a"), Leg("user/102", 15, "b")]
    assert dial_string(legs, "simultaneous") == (
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=20}user/101,[leg_timeout=15]user/102")
    assert dial_string(legs, "sequential") == (
        "{ignore_early_media=true,instant_ringback=true,originate_timeout=20,originate_continue_on_timeout=true}"
        "[leg_timeout=20]user/101|[leg_timeout=15]user/102")


def test_simultaneous_rings_everyone_at_once(pbx: Harness) -> None:
    placed = pbx.call(number="1010")
    run = placed.result.bridges[0]
    assert {leg.group for leg in run.legs} == {0}
    assert run.legs[0].started == run.legs[1].started


def test_dial_node_random_weighted_uses_the_weights_param(pbx: Harness, seeded: None) -> None:
    yaml = """
scenarios:
  - scenario: weighted-dial
    numbers: ["1060"]
    start: d
    nodes:
      d: {type: dial, strategy: random_weighted, targets: [sip:101, sip:102], weights: [1, 0], answered: bye}
      bye: {type: hangup}
"""
    pbx.import_yaml(yaml)
    for _ in range(5):
        placed = pbx.call(number="1060")
        assert placed.result.bridges[0].dial_string.endswith("user/101|[leg_timeout=20]user/102")
