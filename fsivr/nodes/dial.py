"""dial: ring SIP accounts, employees, groups or external numbers, with a strategy."""

from __future__ import annotations

import logging
from typing import Any

from fsivr import ringing
from fsivr.engine import templates
from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param, Ref
from fsivr.engine.registry import register

log = logging.getLogger("fsivr.nodes.dial")


def _targets(value: list[Any]) -> list[Any]:
    if not value:
        raise ValueError("needs at least one target, e.g. [sip:101, group:sales, '+48600100200']")
    return value


@register
class Dial(Node):
    type = "dial"
    summary = "ring SIP accounts, employees, groups or external numbers"
    params = {
        "targets": Param(list, required=True, check=_targets, ref="target",
                         doc="sip:USER, ext:NNN (or a bare short number), group:NAME, +48... / tel:NUMBER, "
                             "gateway:NAME/NUMBER, or a template giving one of those when the call rings "
                             "('{{ agent }}' after a lookup of last_agent); or {target: ..., ring_timeout: N, "
                             "weight: N}"),
        "strategy": Param(str, default="simultaneous", choices=ringing.STRATEGIES,
                          doc="simultaneous (all at once), sequential (in order), random_weighted "
                              "(order drawn per call from the weights, then in order)"),
        "ring_timeout": Param(int, default=20, between=ringing.RING_SECONDS, unit="seconds",
                              doc="seconds each target rings"),
        "weights": Param(list, doc="random_weighted: one weight per target (default 1 each)"),
        "caller_id": Param(str, check=ringing.caller_id_check, doc="caller ID shown on external numbers"),
        "gateway": Param(str, ref="gateway", doc="gateway for external numbers (default: the default gateway)"),
    }
    outcomes = ringing.RING_OUTCOMES
    waits = True
    instant_outcomes = ("failed",)  # nothing dialable, or every leg refused at once (unregistered)
    # The caller talked to someone; when the other side hangs up, ending the call is expected.
    ending_outcomes = ("answered",)

    def compile(self) -> None:
        weights = self.p["weights"]
        if weights is not None and len(weights) != len(self.p["targets"]):
            raise self.error(f"gives {len(weights)} weights for {len(self.p['targets'])} targets", "weights")
        # (target — or a template, rendered per call —, ring_timeout or None = the node's, weight)
        self.targets: list[tuple[ringing.Target | str, int | None, int]] = []
        for i, item in enumerate(self.p["targets"]):
            field = f"targets.{i}"
            timeout, weight = None, 1
            if isinstance(item, dict):
                extra = set(item) - {"target", "ring_timeout", "weight"}
                if extra or "target" not in item:
                    raise self.error("a target mapping has target, ring_timeout and weight", field)
                timeout, weight = item.get("ring_timeout"), item.get("weight", 1)
                item = item["target"]
            if weights is not None:
                weight = weights[i]
            if not isinstance(weight, int) or isinstance(weight, bool) or weight < 0:
                raise self.error(f"weight must be a whole number ≥ 0, got {weight!r}", field)
            if timeout is not None:
                try:
                    self.params["ring_timeout"].check_range(int(timeout))
                except (TypeError, ValueError) as exc:
                    raise self.error(f"ring_timeout {exc}", field) from None
            timeout = None if timeout is None else int(timeout)
            if "{{" in str(item) or "{%" in str(item):
                # Known only when the call rings (e.g. the employee who last answered this caller):
                # the syntax of what it renders is checked then, the template's now.
                try:
                    templates.check(str(item))
                except templates.TemplateProblem as exc:
                    raise self.error(str(exc), field) from None
                self.targets.append((str(item), timeout, weight))
                continue
            try:
                target = ringing.parse_target(str(item))
            except ValueError as exc:
                raise self.error(str(exc), field) from None
            self.targets.append((target, timeout, weight))
            self.refs.append(Ref("target", target.text, field))

    def run(self, call: Call) -> str:
        resolver = ringing.resolver_for(call, gateway=self.p["gateway"], caller_id=self.p["caller_id"])
        legs: list[ringing.Leg] = []
        seen: set[str] = set()
        for item, timeout, weight in self.targets:
            target = self._render(call, item) if isinstance(item, str) else item
            if target is None:
                continue
            found = resolver.legs(target, timeout or self.p["ring_timeout"], weight)
            if target.kind == "group" and timeout is not None:
                found = ringing.with_timeout(found, timeout)
            for leg in found:
                if leg.endpoint not in seen:  # someone both listed and in a listed group rings once
                    seen.add(leg.endpoint)
                    legs.append(leg)
        resolver.report(call, self.id)
        ringing.remember_employees(call, legs)
        return ringing.ring(call, legs, self.p["strategy"]).outcome

    def _render(self, call: Call, template: str) -> ringing.Target | None:
        """A template target for this call; one that renders to nothing dialable is skipped (and
        noted in the step), like a listed account that no longer exists."""
        text = templates.render(template, call.vars).strip()
        try:
            return ringing.parse_target(text) if text else None
        except ValueError as exc:
            call.step_detail.setdefault("skipped", []).append(f"{template} → {text!r}: {exc}")
            log.warning("call %s: dial %s: target %s gave %r: %s", call.uuid, self.id, template, text, exc)
            return None
