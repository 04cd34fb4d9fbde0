"""A `test` block's lead as the engine sees it: its values coerced to the declared types and its
events dated relative to the test's as-of day. Used by the test runner (runtime/analysis/testing.py)
and by the dbt generator's unit tests (runtime/backends/dbt.py).
"""
from __future__ import annotations

import datetime as dt  # noqa: F401

from dsl import nodes as n

from runtime.core.kernel import date_ordinal
from runtime.core.model import Event, Lead

__all__ = ["build_lead"]


def _coerce(value, typ: str):
    """A test's literal as the declared type (the checker has already vetted it)."""
    if value is None:
        return None
    if isinstance(value, n.Literal):
        value = value.value
    if typ == "text":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value)
    if typ == "number":
        if isinstance(value, str):
            s = value.strip()
            return int(s) if s.lstrip("+-").isdigit() else float(s)
        return value
    if typ == "date":
        return date_ordinal(str(value))
    if typ == "bool":
        if isinstance(value, str):
            return value.strip().lower() in ("true", "yes", "1")
        return bool(value)
    if typ == "text list":
        if isinstance(value, str):
            return tuple(x.strip() for x in value.split(";") if x.strip())
        return tuple(_coerce(x, "text") for x in value)
    return value


def build_lead(test: n.Test, fields: dict[str, str], events: dict[str, dict[str, str]], asof: int) -> Lead:
    vals = {}
    lead_id = test.name
    for key, value in test.lead:
        if key == "id":
            lead_id = str(value)
            continue
        if key in fields:
            vals[key] = _coerce(value, fields[key])
    evs = []
    for te in test.events:
        if te.at is not None:
            day = date_ordinal(str(te.at))
        elif te.days_ago is not None:
            day = asof - int(te.days_ago)
        else:
            day = asof
        types = events.get(te.type, {})
        attrs = {k: _coerce(v, types.get(k, "text")) for k, v in te.attrs}
        evs.append(Event(te.type, day, attrs, te.at or ""))
    return Lead(lead_id, vals, evs)
