"""lookup: find the caller (or a collected or template value) in a data table and set call variables
from the row's columns — e.g. a debt amount, or the employee who last answered this caller.

Tables are imported with ``fsivr table import`` (CSV/XLSX); ``contacts`` is the directory's (from the
memory cache: a callback or campaign greets the callee by name), ``last_agent`` is built in, kept from
call records (who last answered this caller, within ``within_days``). A look-up is one
primary-key query, run off the hub (``call.services.data``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from fsivr.engine import templates
from fsivr.engine.call import Call
from fsivr.engine.node import Node, Param
from fsivr.engine.registry import register
from fsivr.store.names import DIALABLE_NAME
from fsivr.store.tables import CONTACTS, CONTACTS_COLUMNS, LAST_AGENT, LAST_AGENT_COLUMNS

VAR = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def _table(value: str) -> str:
    if not DIALABLE_NAME.match(value):
        raise ValueError(f"{value!r} is not a table name (letters, digits and _ . + -)")
    return value


def _key(value: str) -> str:
    try:
        templates.check(value)
    except templates.TemplateProblem as exc:
        raise ValueError(str(exc)) from None
    return value


def _fields(value: Any) -> dict[str, str]:
    """``[debt, name]`` (variables named as the columns) or ``{amount: debt}`` (variable: column)."""
    pairs = value.items() if isinstance(value, dict) else ((v, v) for v in value)
    out: dict[str, str] = {}
    for var, column in pairs:
        var, column = str(var), str(column)
        if not VAR.match(var):
            raise ValueError(f"variable name {var!r} must be letters, digits and _ (not starting with a digit)")
        out[var] = column
    if not out:
        raise ValueError("name at least one column")
    return out


@register
class Lookup(Node):
    type = "lookup"
    summary = "look the caller (or a collected value) up in a data table and set variables from the row"
    params = {
        "table": Param(str, required=True, check=_table,
                       doc=f"a table imported with `fsivr table import`, {LAST_AGENT} (who last answered this "
                           f"caller: agent, employee, answered_at), or {CONTACTS} (the directory's contacts: name, "
                           "owner, backup_owner; in a callback or campaign call key it by '{{ number }}', the "
                           "number dialled)"),
        "key": Param(str, default="{{ caller }}", check=_key,
                     doc="template of the value to look up (default the caller's number; e.g. '{{ digits }}'); "
                         "phone numbers match in any spelling"),
        "fields": Param((list, dict), check=_fields,
                        doc="columns to set as call variables: [debt, name], or {variable: column}; "
                            "default every column"),
        "within_days": Param(int, default=30, between=(1, 3650), unit="days",
                             doc=f"{LAST_AGENT}: only an answer this recent counts"),
    }
    outcomes = ("found", "not_found")
    runs_after_call = True

    def compile(self) -> None:
        self.fields: dict[str, str] | None = _fields(self.p["fields"]) if self.p["fields"] else None
        builtin = {LAST_AGENT: LAST_AGENT_COLUMNS, CONTACTS: CONTACTS_COLUMNS}.get(self.p["table"])
        if builtin is not None and self.fields is not None:
            unknown = sorted(set(self.fields.values()) - set(builtin))
            if unknown:
                raise self.error(f"{self.p['table']} has no column(s) {', '.join(unknown)} "
                                 f"(it has {', '.join(builtin)})", "fields")

    def run(self, call: Call) -> str:
        key = templates.render(self.p["key"], call.vars).strip()
        call.step_detail["table"] = self.p["table"]
        if not key:
            return "not_found"
        data = call.services.data
        if self.p["table"] == LAST_AGENT:
            since = call.now() - timedelta(days=self.p["within_days"])
            row = data.last_agent(key, since)
        elif self.p["table"] == CONTACTS:
            # The directory cache (in memory, refreshed by the server): no query per call.
            contact = call.services.directory.contact_for(key)
            row = None if contact is None else {
                "name": contact.name or "", "owner": contact.owner or "", "backup_owner": contact.backup_owner or "",
                "number": contact.number}
        else:
            row = data.lookup(self.p["table"], key)
        if row is None:
            return "not_found"
        # Default: every column whose name can be a variable name (templates read them by name).
        wanted = self.fields or {c: c for c in row if VAR.match(c)}
        for var, column in wanted.items():
            call.vars[var] = row.get(column, "")
        return "found"
