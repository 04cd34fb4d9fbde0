"""What each backend cannot run, decided once from the checked rule file.

`limits(checked)` lists, per backend ("python": the generated Python fast path; "sql": the SQL
generator and `--engine duckdb`), the constructs it does not take, each with its line. The closure
engine runs everything. Callers never fall back in silence: `score`/`simulate` say once on stderr
that the closure engine scores the file and why, `compile` names the construct, `--engine duckdb`
refuses up front (exit 2) with the reason.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dsl import nodes as n
from dsl import printer

__all__ = ["Limit", "limits", "python_limits", "sql_limits"]

MAX_GENERATED_GRADES = 4096  # generated code tabulates the route of every possible grade


@dataclass(frozen=True)
class Limit:
    backend: str      # "python" | "sql"
    construct: str    # what the user wrote, as the printer spells it, and why it is not taken
    line: int | None  # in the rule file (None when the construct has no single line)

    def text(self, display: str) -> str:
        where = f"{display}:{self.line}" if self.line else display
        return f"{where}: {self.construct}"


def _inside_where(cond, ev: str | None):
    """(node, what) for every lead-level aggregate used inside an event filter's `where`."""
    def walk(x, inside: bool):
        if isinstance(x, (n.Paren, n.Not)):
            yield from walk(x.cond, inside)
        elif isinstance(x, n.BoolOp):
            for i in x.items:
                yield from walk(i, inside)
        elif isinstance(x, n.Has):
            if inside:
                yield x, f"`{printer.cond(x)}` inside `where`"
            yield from walk_filter(x.filter)
        elif isinstance(x, (n.Count, n.CountTypes, n.DaysSinceLast)):
            if inside:
                yield x, f"`{printer.value(x)}` inside `where`"
            if isinstance(x, n.Count):
                yield from walk_filter(x.filter)
            elif isinstance(x, n.DaysSinceLast) and x.filter is not None:
                yield from walk_filter(x.filter)
        else:
            for name in ("left", "right", "value", "low", "high"):
                v = getattr(x, name, None)
                if v is not None and not isinstance(v, (str, int, float, bool)):
                    yield from walk(v, inside)

    def walk_filter(f: n.EventFilter):
        if f.where is not None:
            yield from walk(f.where, True)

    yield from walk(cond, ev is not None)


def _lead_conditions(rf: n.RuleFile):
    """(condition or event filter, line) of everything a lead is scored by."""
    for d in rf.of(n.Disqualify):
        yield d.cond, d.span.line
    for sc in rf.of(n.Score):
        for c in sc.criteria:
            if c.kind == "when":
                yield c.cond, c.span.line
            elif c.kind == "first":
                for t in c.tiers:
                    if t.cond is not None:
                        yield t.cond, c.span.line
            elif c.filter is not None:
                yield c.filter, c.span.line


def _where_limits(rf: n.RuleFile, backend: str, why: str) -> list[Limit]:
    out = []
    for x, line in _lead_conditions(rf):
        if isinstance(x, n.EventFilter):
            found = _inside_where(x.where, x.event) if x.where is not None else ()
        else:
            found = _inside_where(x, None)
        for node, what in found:
            span = getattr(node, "span", None)
            out.append(Limit(backend, f"{what} {why}", span.line if span and span.line else line))
    return out


def python_limits(checked) -> list[Limit]:
    """What the generated Python does not take (the closure engine scores such a file)."""
    rf = checked.file
    out = _where_limits(rf, "python", "is not compiled to Python")
    total = 1
    for g in rf.of(n.Grade):
        if not g.bands or g.bands[-1].threshold is not None:
            out.append(Limit("python", f"grade block `{g.dim}` without `otherwise` is not compiled to Python",
                             g.span.line))
        total *= max(1, len(g.bands))
    if total > MAX_GENERATED_GRADES:
        out.append(Limit("python", f"{total:,} possible grades (more than {MAX_GENERATED_GRADES:,}) are not "
                                   "compiled to Python", None))
    return out


def sql_limits(checked, *, build: bool = True) -> list[Limit]:
    """What the SQL generator (and so `--engine duckdb`) does not take. `build=False` skips building
    the query to find what only the generator knows (a caller that builds it next catches
    SqlGenError itself: `compile` builds a large query once, not twice)."""
    rf = checked.file
    out = _where_limits(rf, "sql", "is not supported by the SQL backend")
    if out or not build:
        return out
    from runtime.backends import querycache

    text = getattr(rf, "source", None)
    if text is not None and querycache.builds(text):
        return out  # built before, by this code (runtime/backends/querycache.py)
    try:
        import sqlglot  # noqa: F401
    except ImportError:
        return out  # the caller says which extra to install
    from runtime.backends.sql import SqlGenError, build_query

    try:
        build_query(checked, "duckdb", dt.date(2000, 1, 1))
    except SqlGenError as e:
        out.append(Limit("sql", str(e), getattr(e, "line", None)))
    else:
        if text is not None:
            querycache.mark_builds(text)
    return out


def limits(checked) -> dict[str, list[Limit]]:
    """Every backend's limits for this file: {"python": [...], "sql": [...]}."""
    return {"python": python_limits(checked), "sql": sql_limits(checked)}
