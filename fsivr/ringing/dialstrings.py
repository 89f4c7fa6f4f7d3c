"""Ring strategies as FreeSWITCH dial strings: ``,`` rings together, ``|`` one after another
(switch_ivr_originate.c), random_weighted draws the order from the weights."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from fsivr.ringing.targets import Leg

#: The ring strategies a dial node or a group may use.
STRATEGIES = ("simultaneous", "sequential", "random_weighted")
#: Where random_weighted draws from (a test may seed it: the server runs in the test's process).
rng: random.Random = random.SystemRandom()


def weighted_order(legs: Sequence[Leg], rng: random.Random) -> list[Leg]:
    """A random order in which each leg comes first with probability weight / total weight.

    Efraimidis-Spirakis weighted sampling without replacement: each leg draws u^(1/w) and the
    largest key goes first; P(first) = w_i / Σw exactly. Weight 0 (or less) = only after everyone
    with a positive weight, in random order.
    """
    positive = [(rng.random() ** (1.0 / leg.weight), leg) for leg in legs if leg.weight > 0]
    zero = [leg for leg in legs if leg.weight <= 0]
    rng.shuffle(zero)
    return [leg for _, leg in sorted(positive, key=lambda kv: kv[0], reverse=True)] + zero


def ordered(legs: Sequence[Leg], strategy: str, rng: random.Random) -> list[Leg]:
    return weighted_order(legs, rng) if strategy == "random_weighted" else list(legs)


def _vars(values: dict[str, Any]) -> str:
    # Values are numbers and safe names only (checked where they are made), so no quoting is
    # needed inside {} / [] (which split on ',').
    return ",".join(f"{k}={v}" for k, v in values.items())


def dial_string(legs: Sequence[Leg], strategy: str) -> str:
    """The ``bridge`` argument for legs already in ring order.

    simultaneous: ``{...}user/101,user/102`` — all ring, the first to answer wins and FreeSWITCH
    cancels the rest. sequential / random_weighted:
    ``{...}[leg_timeout=15]user/101|[leg_timeout=20]user/102`` — failover: each ``|`` group is its
    own originate attempt with its own timer (switch_ivr_originate.c, the ``for (r = 0; r < or_argc``
    loop), so every member rings for its own leg_timeout.

    Global variables: ``originate_timeout`` (else 60 s) = the longest leg, so it never cuts a leg
    short; ``originate_continue_on_timeout`` so that a member whose time runs out at the same
    second as the originate timer does not end the whole chain (on NO_ANSWER the remaining ``|``
    groups are skipped otherwise, docs/freeswitch-notes.md §3); ``ignore_early_media`` keeps one
    trunk's early media ("the subscriber is not available…") from ending a simultaneous ring and
    reaching the caller; ``instant_ringback`` makes the caller hear ringback (the channel's
    ringback variables) at once. A leg's own ``leg_timeout`` is written only when it differs from
    originate_timeout, or in a ``|`` chain, or with ``leg_delay_start`` (it counts from the start of
    the originate, so a delayed leg gets delay + its ring time; check_per_channel_timeouts).
    """
    if not legs:
        raise ValueError("nothing to ring")
    longest = max(leg.timeout + leg.delay for leg in legs)
    sequential = strategy != "simultaneous"
    head: dict[str, Any] = {"ignore_early_media": "true", "instant_ringback": "true", "originate_timeout": longest}
    if sequential:
        head["originate_continue_on_timeout"] = "true"
    parts = []
    for leg in legs:
        per_leg: dict[str, Any] = {}
        if sequential or leg.delay or leg.timeout + leg.delay != longest:
            per_leg["leg_timeout"] = leg.timeout + leg.delay
        if leg.delay:
            per_leg["leg_delay_start"] = leg.delay
        per_leg.update(leg.variables)
        parts.append((f"[{_vars(per_leg)}]" if per_leg else "") + leg.endpoint)
    return "{" + _vars(head) + "}" + ("|" if sequential else ",").join(parts)
