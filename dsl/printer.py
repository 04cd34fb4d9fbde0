"""Canonical text of expressions: conditions, values, criteria heads.

Used wherever a construct is shown back to a person (explain, diff, test failures) and by the
formatter, so a condition always reads the same way everywhere. Strings are re-escaped and
parentheses are put back where the tree needs them, so the printed text parses back to the same tree.
"""
from __future__ import annotations

from decimal import Decimal

from dsl import nodes as n

_TEXT_OPS = {
    "contains": "contains", "contains_any": "contains any", "contains_all": "contains all",
    "contains_word": "contains word", "contains_any_word": "contains any word",
    "starts_with": "starts with", "ends_with": "ends with",
}

KEYWORDS = frozenset("""
ruleset version owners fields events list disqualify when score max floor grade otherwise accounts by
route test simulation each where within no decay first of and or not in contains any all word starts
ends with matches between is missing present has count event types days since last domain lower
length as lead expect fires does fire share at most least disqualified sales qualify nurture suppress
account day week weeks hour hours ago true false null text number date bool criterion leads per
""".split()) | {"half-life"}


def quote(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def ident(name: str) -> str:
    return f"`{name}`" if name in KEYWORDS else name


def num(x) -> str:
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int):
        return str(x)
    f = float(x)
    if f.is_integer():
        return str(int(f))
    r = repr(f)
    # repr may use an exponent (1e-05), which the language has no syntax for.
    return format(Decimal(r), "f") if "e" in r or "E" in r else r


def points(x) -> str:
    s = num(x)
    return s if s.startswith("-") else "+" + s


def literal(lit: n.Literal) -> str:
    if lit.kind == "text":
        return quote(lit.value)
    if lit.kind == "bool":
        return "true" if lit.value else "false"
    if lit.kind == "date":
        return str(lit.value)
    return num(lit.value)


def list_ref(ref) -> str:
    if isinstance(ref, n.Name):
        return ident(ref.name)
    return "[" + ", ".join(literal(i) for i in ref.items) + "]"


def duration(d: n.Duration) -> str:
    return f"{num(d.amount)} {d.unit}{'' if d.amount == 1 else 's'}"


def event_filter(f: n.EventFilter) -> str:
    s = "event" if f.event is None else ("lead" if f.event == "lead" else ident(f.event))
    if f.where is not None:
        w = cond(f.where)
        # `within` after a where-condition belongs to the innermost has/count that can take one.
        s += " where " + (f"({w})" if f.within is not None and _takes_within(f.where) else w)
    if f.within is not None:
        s += " within " + duration(f.within)
        if f.anchor is not None:
            s += " of " + ident(f.anchor)
    return s


def value(v) -> str:
    if isinstance(v, n.Name):
        return ident(v.name)
    if isinstance(v, n.Literal):
        return literal(v)
    if isinstance(v, n.Call):
        return f"{v.func}({value(v.arg)})"
    if isinstance(v, n.Count):
        return "count " + event_filter(v.filter)
    if isinstance(v, n.CountTypes):
        return "count event types" + (f" within {duration(v.within)}" if v.within else "")
    if isinstance(v, n.DaysSinceLast):
        return "days since last " + event_filter(v.events())
    if isinstance(v, n.DaysSince):
        return "days since " + ident(v.field)
    raise TypeError(f"not a value: {v!r}")


def cond(c) -> str:
    if isinstance(c, n.Compare):
        return f"{value(c.left)} {c.op} {value(c.right)}"
    if isinstance(c, n.In):
        return f"{value(c.value)} {'not in' if c.negated else 'in'} {list_ref(c.items)}"
    if isinstance(c, n.TextTest):
        arg = list_ref(c.arg) if c.op in ("contains_any", "contains_all", "contains_any_word") else value(c.arg)
        return f"{value(c.value)} {_TEXT_OPS[c.op]} {arg}"
    if isinstance(c, n.Matches):
        return f"{value(c.value)} matches {quote(c.pattern)}"
    if isinstance(c, n.Between):
        return f"{value(c.value)} between {value(c.low)} and {value(c.high)}"
    if isinstance(c, n.IsMissing):
        return f"{value(c.value)} is {'missing' if c.missing else 'present'}"
    if isinstance(c, n.Has):
        return "has " + event_filter(c.filter)
    if isinstance(c, n.Not):
        inner = cond(c.cond)
        return "not " + (f"({inner})" if isinstance(c.cond, n.BoolOp) else inner)
    if isinstance(c, n.BoolOp):
        return f" {c.op} ".join(_bool_item(c, k) for k in range(len(c.items)))
    if isinstance(c, n.Paren):
        return "(" + cond(c.cond) + ")"
    raise TypeError(f"not a condition: {c!r}")


# The parser keeps no parentheses (`( C )` is inlined), so they are put back where the tree needs them:
# `not` over and/or, or under and, an and/or nested in another (as written), and a condition ending
# in an open `where` before `and`/`or` (a `where` takes all that follows it).
def _bool_item(c: n.BoolOp, k: int) -> str:
    item = c.items[k]
    s = cond(item)
    if isinstance(item, n.BoolOp) and (c.op == "and" or item.op == "or"):
        return f"({s})"
    if k < len(c.items) - 1 and _open_where(item):
        return f"({s})"
    return s


def _right_value(c):
    """The value a condition's text ends with, if it ends with one."""
    if isinstance(c, n.Compare):
        return c.right
    if isinstance(c, n.Between):
        return c.high
    if isinstance(c, n.TextTest) and c.op not in ("contains_any", "contains_all", "contains_any_word"):
        return c.arg
    return None


def _last_cond(c):
    """The condition a condition's text ends with (None when it ends in a bracket)."""
    if isinstance(c, n.Not):
        return None if isinstance(c.cond, n.BoolOp) else c.cond
    if isinstance(c, n.BoolOp):
        last = c.items[-1]
        return None if isinstance(last, n.BoolOp) and (c.op == "and" or last.op == "or") else last
    return None


def _open_where(c) -> bool:
    """Does the text end in `where C` with nothing after it (so a following and/or would join C)?"""
    if isinstance(c, n.Has):
        return c.filter.where is not None and c.filter.within is None
    inner = _last_cond(c)
    if inner is not None:
        return _open_where(inner)
    v = _right_value(c)
    f = _filter_of(v)
    return f is not None and f.where is not None and f.within is None


def _filter_of(v):
    """The event filter a value's text ends with (`count …`, `days since last …`), if any."""
    if isinstance(v, n.Count):
        return v.filter
    if isinstance(v, n.DaysSinceLast):
        return v.events()
    return None


def _takes_within(c) -> bool:
    """Does the text end in a has/count without `within` (so a following `within` would be its)?"""
    if isinstance(c, n.Has):
        return c.filter.within is None
    inner = _last_cond(c)
    if inner is not None:
        return _takes_within(inner)
    v = _right_value(c)
    f = _filter_of(v)
    return (f is not None and f.within is None) or (isinstance(v, n.CountTypes) and v.within is None)


def reset(r: n.Reset) -> str:
    """`reset on sales_rejected where reason = "no budget"`."""
    return "reset on " + ident(r.event) + (" where " + cond(r.where) if r.where is not None else "")


def criterion_rule(c: n.Criterion) -> str:
    """The criterion without its name: `+25 when company_size >= 1000`, `+3 each email_click max 15`."""
    if c.kind == "when":
        s = f"{points(c.points)} when {cond(c.cond)}"
    elif c.per_count:
        s = f"{points(c.points)} per count {event_filter(c.filter)}"
    elif c.kind == "each":
        f = c.filter
        per = f" per {ident(c.per)}" if c.per is not None else ""
        s = f"{points(c.points)}{per} each {event_filter(f)}"
        if c.no_decay:
            s += " no decay"
    else:
        tiers = "; ".join(f"{points(t.points)} " + ("otherwise" if t.cond is None else f"when {cond(t.cond)}")
                          for t in c.tiers)
        s = "first of { " + tiers + " }"
    if c.max is not None:
        s += f" max {num(c.max)}"
    return s
