"""The scoring engine: a checked rule file compiled to closures, and the exact arithmetic of
docs/language.md (decay by whole days, future events ignored, criterion caps, dimension clamp, rounding
`floor(x*100+0.5)/100`, first-match disqualify and route).

`Engine.score` is the hot path (no trace); `Engine.explain` evaluates the same compiled criteria with
a trace of every criterion and event, for `leadrules explain` and failing tests. Nothing from the rule
file is ever executed: conditions become closures over validated syntax, literals stay data.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from dsl import nodes as n

from runtime.core.model import BOOL, DATE, NUMBER, TEXT, TEXT_LIST  # noqa: F401
from runtime.core import kernel as K
from runtime.core.kernel import date_ordinal, domain, norm, norm_list, words_regex
from runtime.core.model import CritSpec, Lead, Result
from runtime.core.plan import Plan, Resolver, lower

__all__ = ["Compiler", "Each", "When", "First", "ResetScope", "Scoped", "Ctx", "Engine", "CritSpec", "Result", "compile_checked",
           "score_dims", "band_dims", "date_ordinal"]



# ---- per-lead evaluation context ---------------------------------------------------------------


class Ctx:
    """One lead at one as-of date: normalized fields and its past events grouped by type."""

    __slots__ = ("f", "evs", "by_type", "asof", "dims", "base", "scoped")

    def __init__(self, f, evs, by_type, asof, base=None):
        self.f = f
        self.evs = evs            # [(type, age, attrs)] for events on or before as-of, input order
        self.by_type = by_type    # type -> [(age, attrs)]
        self.asof = asof
        self.dims = None
        # a dimension with `reset on` sees only the events after its reset (ResetScope): `base` is the
        # lead's whole context, which `days since last` reads (it keeps its meaning after a reset)
        self.base = self if base is None else base
        self.scoped = None        # ResetScope -> its context of this lead, computed once


# Closure shapes: value  v(X, E) -> python value or None (missing)
#                 cond   c(X, E) -> bool
# E is the current event's attribute dict inside a `where`, else None.


class Compiler(Resolver):
    """Values and conditions of the syntax tree as closures; types and constants from the Resolver."""

    # -- values --
    def value(self, v, ev: str | None) -> Callable:
        if isinstance(v, n.Name):
            name = v.name
            if ev and name in self.events.get(ev, {}):
                if self.events[ev][name] == TEXT:
                    return lambda X, E: norm(E.get(name))
                if self.events[ev][name] == TEXT_LIST:
                    return lambda X, E: norm_list(E.get(name))
                return lambda X, E: E.get(name)
            if name not in self.fields and name in self.dims:
                return lambda X, E: X.dims.get(name) if X.dims else None
            return lambda X, E: X.f.get(name)
        if isinstance(v, n.Literal):
            c = self.const(v)
            return lambda X, E: c
        if isinstance(v, n.Call):
            arg = self.value(v.arg, ev)
            if v.func == "domain":
                return lambda X, E: domain(arg(X, E))
            if v.func == "lower":
                return arg  # text is already compared in lower case
            if v.func == "length":
                def length(X, E):
                    s = arg(X, E)
                    return None if s is None else len(s)
                return length
        if isinstance(v, n.Count):
            flt = self.event_filter(v.filter)
            return lambda X, E: sum(1 for _ in flt(X))
        if isinstance(v, n.CountTypes):
            within = v.within.days if v.within else None
            if within is None:
                return lambda X, E: len(X.by_type)
            return lambda X, E: len({t for t, age, _ in X.evs if age <= within})
        if isinstance(v, n.DaysSinceLast):
            # X.base: every event of the lead, a reset or not (docs/language.md, "Resets")
            if v.filter is not None:  # `days since last EVENT where C within N days`: the newest match
                flt = self.event_filter(v.filter)
                return lambda X, E: min((age for age, _ in flt(X.base)), default=None)
            if v.event is None:
                return lambda X, E: min((age for _, age, _a in X.base.evs), default=None)
            et = v.event
            return lambda X, E: min((age for age, _ in X.base.by_type.get(et, ())), default=None)
        if isinstance(v, n.DaysSince):
            fname = v.field

            def days_since(X, E):
                # a date after the as-of day is not yet known: the lead was not created in the future
                d = X.f.get(fname)
                return None if d is None or d > X.asof else X.asof - d
            return days_since
        raise TypeError(f"unsupported value {v!r}")

    # -- event filters: a generator of matching (age, attrs) --
    def event_filter(self, f: n.EventFilter):
        within = f.within.days if f.within else None
        where = self.cond(f.where, f.event) if f.where is not None else None
        et = f.event
        if f.anchor is not None:
            return self.anchored_filter(f, within, where)
        if et is None:
            def gen_any(X):
                for _t, age, attrs in X.evs:
                    if within is not None and age > within:
                        continue
                    yield age, attrs
            return gen_any

        def gen(X):
            for age, attrs in X.by_type.get(et, ()):
                if within is not None and age > within:
                    continue
                if where is not None and not where(X, attrs):
                    continue
                yield age, attrs
        return gen

    def anchored_filter(self, f: n.EventFilter, within, where):
        """`within N days of FIELD`: the events from the field's day to N days after it (kernel.in_window)."""
        et, anchor, in_window, known_age = f.event, f.anchor, K.in_window, K.known_age

        def gen(X):
            a = known_age(X.asof, X.f.get(anchor))
            if a is None:
                return
            evs = X.by_type.get(et, ()) if et is not None else ((age, e) for _t, age, e in X.evs)
            for age, attrs in evs:
                if not in_window(age, within, a, True):
                    continue
                if where is not None and not where(X, attrs):
                    continue
                yield age, attrs
        return gen

    # -- conditions --
    def cond(self, c, ev: str | None = None) -> Callable:
        if isinstance(c, n.Paren):
            return self.cond(c.cond, ev)
        if isinstance(c, n.Not):
            inner = self.cond(c.cond, ev)
            return lambda X, E: not inner(X, E)
        if isinstance(c, n.BoolOp):
            parts = [self.cond(i, ev) for i in c.items]
            if c.op == "and":
                return lambda X, E: all(p(X, E) for p in parts)
            return lambda X, E: any(p(X, E) for p in parts)
        if isinstance(c, n.Compare):
            return self.compare(c, ev)
        if isinstance(c, n.In):
            val = self.value(c.value, ev)
            items = frozenset(self.list_values(c.items))
            if self.vtype(c.value, ev) == NUMBER:
                items = frozenset(float(x) for x in items if isinstance(x, (int, float)))
            if c.negated:
                return lambda X, E: (lambda v: v is not None and v not in items)(val(X, E))
            return lambda X, E: (lambda v: v is not None and v in items)(val(X, E))
        if isinstance(c, n.TextTest):
            return self.text_test(c, ev)
        if isinstance(c, n.Matches):
            val = self.value(c.value, ev)
            rx = re.compile(c.pattern, re.IGNORECASE)
            islist = self.vtype(c.value, ev) == TEXT_LIST
            if islist:
                return lambda X, E: (lambda v: v is not None and any(rx.search(x) for x in v))(val(X, E))
            return lambda X, E: (lambda v: v is not None and rx.search(v) is not None)(val(X, E))
        if isinstance(c, n.Between):
            val, lo, hi = self.value(c.value, ev), self.value(c.low, ev), self.value(c.high, ev)

            def between(X, E):
                v, a, b = val(X, E), lo(X, E), hi(X, E)
                return v is not None and a is not None and b is not None and a <= v <= b
            return between
        if isinstance(c, n.IsMissing):
            val = self.value(c.value, ev)
            if c.missing:
                return lambda X, E: val(X, E) is None
            return lambda X, E: val(X, E) is not None
        if isinstance(c, n.Has):
            flt = self.event_filter(c.filter)
            return lambda X, E: next(flt(X), None) is not None
        raise TypeError(f"unsupported condition {c!r}")

    def compare(self, c: n.Compare, ev):
        left, right = self.value(c.left, ev), self.value(c.right, ev)
        op = c.op
        f = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
             ">": operator.gt, ">=": operator.ge}[op]

        def cmp(X, E):
            a = left(X, E)
            if a is None:
                return False
            b = right(X, E)
            if b is None:
                return False
            return f(a, b)
        return cmp

    def text_test(self, c: n.TextTest, ev):
        val = self.value(c.value, ev)
        islist = self.vtype(c.value, ev) == TEXT_LIST
        op = c.op
        if op in ("contains_any", "contains_all", "contains_any_word"):
            items = tuple(x for x in self.list_values(c.arg) if x is not None)
            items = tuple(x if isinstance(x, str) else str(x) for x in items)
        if op in ("contains_word", "contains_any_word"):
            phrases = items if op == "contains_any_word" else None
            if phrases is None:
                arg = self.value(c.arg, ev)
                if isinstance(c.arg, n.Literal):
                    rx = words_regex([self.const(c.arg) or ""])
                else:
                    return lambda X, E: K.word_match(val(X, E), arg(X, E), islist)
            else:
                rx = words_regex(phrases)
            if islist:
                return lambda X, E: (lambda v: v is not None and any(rx.search(x) for x in v))(val(X, E))
            return lambda X, E: (lambda v: v is not None and rx.search(v) is not None)(val(X, E))
        if op == "contains_any":
            if islist:
                s = frozenset(items)
                return lambda X, E: (lambda v: v is not None and any(x in s for x in v))(val(X, E))
            return lambda X, E: (lambda v: v is not None and any(x in v for x in items))(val(X, E))
        if op == "contains_all":
            if islist:
                s = frozenset(items)
                return lambda X, E: (lambda v: v is not None and s.issubset(v))(val(X, E))
            return lambda X, E: (lambda v: v is not None and all(x in v for x in items))(val(X, E))
        arg = self.value(c.arg, ev)

        def pair(fn):
            def t(X, E):
                v = val(X, E)
                if v is None:
                    return False
                a = arg(X, E)
                if a is None:
                    return False
                return fn(v, a)
            return t
        if op == "contains":
            if islist:
                return pair(lambda v, a: a in v)
            return pair(lambda v, a: a in v)
        if op == "starts_with":
            return pair(lambda v, a: v.startswith(a))
        if op == "ends_with":
            return pair(lambda v, a: v.endswith(a))
        raise TypeError(op)


# ---- resets --------------------------------------------------------------------------------------


class ResetScope:
    """A dimension's `reset on` lines: the lead's context as that dimension's criteria see it, only the
    events after the latest matching reset event (kernel.reset_age, kernel.reset_keeps)."""

    __slots__ = ("lines",)

    def __init__(self, resets, comp: "Compiler"):
        self.lines = tuple((r.event, comp.cond(r.where, r.event) if r.where is not None else None) for r in resets)

    def is_reset(self, X, t, attrs) -> bool:
        for et, where in self.lines:
            if t == et and (where is None or where(X, attrs)):
                return True
        return False

    def age(self, X):
        """The age of the reset that applies to this lead (None: none has happened by the as-of date)."""
        return K.reset_age(age for t, age, attrs in X.base.evs if self.is_reset(X, t, attrs))

    def split(self, X):
        """(reset age, kept events, voided events) of the lead's events ([(type, age, attrs)])."""
        R = self.age(X)
        kept, voided = [], []
        for ev in X.base.evs:
            t, age, attrs = ev
            keep = K.reset_keeps(age, R, age == R and self.is_reset(X, t, attrs))
            (kept if keep else voided).append(ev)
        return R, kept, voided

    def __call__(self, X) -> "Ctx":
        memo = X.scoped
        if memo is None:
            memo = X.scoped = {}
        Y = memo.get(self)
        if Y is None:
            R, kept, _voided = self.split(X)
            if R is None:
                Y = X
            else:
                by_type: dict[str, list] = {}
                for t, age, attrs in kept:
                    by_type.setdefault(t, []).append((age, attrs))
                Y = Ctx(X.f, kept, by_type, X.asof, X.base)
                Y.dims = X.dims
            memo[self] = Y
        return Y


class Scoped:
    """A criterion of a dimension with `reset on`: the criterion, called on the reset-scoped context."""

    __slots__ = ("scope", "inner", "spec")

    def __init__(self, scope: ResetScope, inner):
        self.scope, self.inner, self.spec = scope, inner, inner.spec

    def __call__(self, X):
        return self.inner(self.scope(X))


# ---- compiled criteria -------------------------------------------------------------------------


class Each:
    __slots__ = ("spec", "points", "et", "within", "where", "cap", "half_life", "wcache", "anchor", "per",
                 "events")

    def __init__(self, spec, comp: Compiler, half_life):
        c = spec.node
        self.spec = spec
        self.points = c.points
        self.et = c.filter.event
        self.within = c.filter.within.days if c.filter.within else None
        self.where = comp.cond(c.filter.where, self.et) if c.filter.where is not None else None
        self.cap = c.max
        self.half_life = None if c.no_decay else half_life
        self.wcache: dict[int, float] = {}
        self.anchor = c.filter.anchor   # `within N days of FIELD`
        self.per = c.per                # `+P per ATTR`
        # the matching (age, attrs) of a lead: the shared event filter when the plain loop below
        # does not apply (an anchored window)
        self.events = comp.event_filter(c.filter) if self.anchor is not None else None

    def weight(self, age: int) -> float:
        if self.half_life is None:
            return 1.0
        w = self.wcache.get(age)
        if w is None:
            w = self.wcache[age] = K.decay_weight(age, self.half_life)
        return w

    def matches(self, X):
        """(age, attrs) of every event this criterion counts."""
        if self.events is not None:
            yield from self.events(X)
            return
        within, where = self.within, self.where
        for age, attrs in X.by_type.get(self.et, ()) if self.et is not None else ((a, e) for _t, a, e in X.evs):
            if within is not None and age > within:
                continue
            if where is not None and not where(X, attrs):
                continue
            yield age, attrs

    def __call__(self, X):
        """(points after cap, raw total before cap, matched events)."""
        if self.per is not None or self.events is not None:
            return self.general(X)
        total = 0.0
        k = 0
        within, where, P = self.within, self.where, self.points
        hl = self.half_life
        for age, attrs in X.by_type.get(self.et, ()) if self.et is not None else ((a, e) for _t, a, e in X.evs):
            if within is not None and age > within:
                continue
            if where is not None and not where(X, attrs):
                continue
            k += 1
            total += P if hl is None else P * self.weight(age)
        return K.cap(total, P, self.cap), total, k

    def general(self, X):
        """The same with a window anchored at a date field or points per unit of an attribute
        (kernel.per_unit: an event without a value adds nothing and is not counted)."""
        total = 0.0
        k = 0
        P, per = self.points, self.per
        for age, attrs in self.matches(X):
            w = self.weight(age)
            if per is not None:
                p = K.per_unit(P, attrs.get(per), w)
                if p is None:
                    continue
            else:
                p = P * w if self.half_life is not None else P
            k += 1
            total += p
        return K.cap(total, P, self.cap), total, k

    def trace(self, X):
        rows = []
        for age, attrs in self.matches(X):
            w = self.weight(age)
            if self.per is not None:
                p = K.per_unit(self.points, attrs.get(self.per), w)
                if p is None:
                    continue
            else:
                p = self.points * w
            rows.append({"age_days": age, "weight": w, "points": p, "attrs": attrs})
        return rows


class When:
    __slots__ = ("spec", "points", "cond")

    def __init__(self, spec, comp: Compiler):
        self.spec = spec
        self.points = spec.node.points
        self.cond = comp.cond(spec.node.cond)

    def __call__(self, X):
        if self.cond(X, None):
            return self.points, self.points, 1
        return 0, 0, 0


class First:
    __slots__ = ("spec", "tiers")

    def __init__(self, spec, comp: Compiler):
        self.spec = spec
        self.tiers = [(t.points, comp.cond(t.cond) if t.cond is not None else None) for t in spec.node.tiers]

    def __call__(self, X):
        for p, c in self.tiers:
            if c is None or c(X, None):
                return p, p, 1
        return 0, 0, 0

    def which(self, X) -> int | None:
        for i, (p, c) in enumerate(self.tiers):
            if c is None or c(X, None):
                return i
        return None


@dataclass
class Engine:
    """A compiled rule file. Build with `compile_checked` (or runtime.backends.pygen.compile_fast,
    whose `score` and `score_obj` are generated code)."""

    checked: Any
    plan: Plan
    criteria: list[CritSpec]
    dims: list[tuple[str, float, float, list]]          # (dim, max, floor, [crit objects])
    disq: list[tuple[str, Callable]]
    grade_blocks: list[tuple[str, list[tuple[str, float | None]]]]
    route_lines: list[n.RouteLine]
    field_types: dict[str, str]
    event_types: frozenset
    # the generated scorer of a JSON object (pygen), None for the closure engine
    score_obj: Callable | None = None
    # score_obj over a row decoded into a runtime.io.fastjson struct (generated code only)
    score_struct: Callable | None = None
    # the compiled accounts block (runtime.backends.accounts.AccountModel), None without one
    accounts: Any = None
    # do its Results carry the account key and `where` flags (generated code: runtime/backends/pygen.py)?
    account_flags: bool = False
    # why the generated fast path does not take this file (runtime.backends.capability), if it does not
    limits: tuple = ()
    route_cache: dict = field(default_factory=dict)

    # -- preparing a lead --
    def context(self, lead: Lead, asof: int) -> Ctx:
        f = {}
        ft = self.field_types
        for k, v in lead.fields.items():
            t = ft.get(k)
            if t is None or v is None:
                continue
            if t == TEXT:
                v = norm(v)
            elif t == TEXT_LIST:
                v = norm_list(v)
            if v is not None:
                f[k] = v
        evs = []
        by_type: dict[str, list] = {}
        for e in lead.events:
            age = asof - e.day
            if age < 0:
                continue  # has not happened yet at the as-of date
            evs.append((e.type, age, e.attrs))
            lst = by_type.get(e.type)
            if lst is None:
                by_type[e.type] = [(age, e.attrs)]
            else:
                lst.append((age, e.attrs))
        return Ctx(f, evs, by_type, asof)

    # -- scoring --
    def score(self, lead: Lead, asof: int) -> Result:
        X = self.context(lead, asof)
        for reason, cond in self.disq:
            if cond(X, None):
                route, queue, sla, li = self.route_for(None, True)
                k = len(self.criteria)
                return Result(lead.id, {}, {}, "disqualified", route, queue, sla, reason,
                              (0,) * k, (0,) * k, (False,) * k, lead.numbered, li)
        scores, points, raws, fired = score_dims(self.dims, X)
        bands = band_dims(self.grade_blocks, scores)
        grade = "".join(bands.values())
        route, queue, sla, li = self.route_for(grade, False)
        return Result(lead.id, scores, bands, grade, route, queue, sla, None, tuple(points), tuple(raws),
                      tuple(fired), lead.numbered, li)

    def route_for(self, grade: str | None, disq: bool):
        """(route, queue, sla, line index) of a lead's grade. Lines that name an account band are
        skipped: runtime/backends/accounts.py routes again once the account is scored."""
        key = (grade, disq)
        hit = self.route_cache.get(key)
        if hit is None:
            hit = self.route_cache[key] = self.plan.routes.outcome(grade, disq)
        return hit

    def reset_days(self, lead: Lead, asof: int) -> dict[str, int]:
        """The day (date ordinal) of the reset that applies to the lead at `asof`, per dimension with
        `reset on` that has one (docs/language.md, "Resets")."""
        X = self.context(lead, asof)
        out = {}
        for dim, _mx, _fl, objs in self.dims:
            scope = next((c.scope for c in objs if isinstance(c, Scoped)), None)
            if scope is not None:
                R = scope.age(X)
                if R is not None:
                    out[dim] = asof - R
        return out

    # -- explaining --
    def explain(self, lead: Lead, asof: int) -> dict:
        """Everything that went into one lead's result, as plain data (see runtime/analysis/explain.py)."""
        X = self.context(lead, asof)
        res = self.score(lead, asof)
        disq = []
        for reason, cond in self.disq:
            held = bool(cond(X, None))
            disq.append({"reason": reason, "matched": held})
            if held:
                break
        crits = []
        if res.disqualified is None:
            i = 0
            for dim, mx, fl, objs in self.dims:
                for c in objs:
                    spec = c.spec
                    row = {"dim": dim, "name": spec.name, "kind": spec.kind, "rule": spec.text,
                           "fired": res.fired[i], "raw": res.raw[i], "points": res.points[i],
                           "cap": spec.node.max, "capped": res.raw[i] != res.points[i]}
                    Xc = X
                    if isinstance(c, Scoped):
                        Xc, c = c.scope(X), c.inner
                    if isinstance(c, Each):
                        row["events"] = c.trace(Xc)
                        row["decay_half_life"] = c.half_life
                    if isinstance(c, First):
                        row["tier"] = c.which(Xc)
                    crits.append(row)
                    i += 1
        dims = []
        for dim, mx, fl, objs in self.dims:
            raw_sum = sum(r["points"] for r in crits if r["dim"] == dim)
            row = {"dim": dim, "sum": raw_sum, "max": mx, "floor": fl,
                   "score": res.scores.get(dim), "band": res.bands.get(dim)}
            scope = next((c.scope for c in objs if isinstance(c, Scoped)), None)
            if scope is not None:
                R, _kept, voided = scope.split(X)
                # the reset's date and the events it voided, oldest first (runtime/analysis/explain.py)
                row["reset"] = None if R is None else {
                    "date": K.ordinal_text(asof - R), "age_days": R,
                    "voided": [{"type": t, "date": K.ordinal_text(asof - age), "age_days": age, "attrs": attrs}
                               for t, age, attrs in sorted(voided, key=lambda e: -e[1])]}
            dims.append(row)
        return {"id": res.id, "result": res, "disqualify": disq, "criteria": crits, "dimensions": dims,
                "as_of": asof, "events": len(lead.events), "past_events": len(X.evs)}


def score_dims(dims, X) -> tuple[dict, list, list, list]:
    """Every dimension's score: each criterion called on `X` (a lead's context, or an account's flag
    counts), summed in file order, clamped and rounded (runtime/core/kernel.py). Returns (scores,
    points, raw, fired) with points/raw/fired per criterion in order. Shared by lead and account
    scoring."""
    points, raws, fired = [], [], []
    scores = {}
    clamp_round = K.clamp_round
    for dim, mx, fl, crits in dims:
        s = 0
        for c in crits:
            p, raw, k = c(X)
            points.append(p)
            raws.append(raw)
            fired.append(k > 0)
            s += p
        scores[dim] = clamp_round(s, mx, fl)
    return scores, points, raws, fired


def band_dims(grade_blocks, scores: dict) -> dict:
    """Each graded dimension's band (kernel.band); a dimension no band takes has none."""
    bands = {}
    for dim, bl in grade_blocks:
        b = K.band(scores[dim], bl)
        if b is not None:
            bands[dim] = b
    return bands


def compile_checked(checked, plan: Plan | None = None) -> Engine:
    """Compile a `dsl.checker.Checked` without errors (and its plan, lowered here if not given) into
    an `Engine`."""
    plan = plan or lower(checked)
    comp = Compiler(checked.fields, checked.events, checked.lists)
    criteria: list[CritSpec] = []
    dims = []
    for d in plan.dimensions:
        objs = []
        scope = ResetScope(d.resets, comp) if d.resets else None
        for c in d.criteria:
            spec = c.spec()
            criteria.append(spec)
            if c.kind == "each":
                obj = Each(spec, comp, d.half_life)
            elif c.kind == "when":
                obj = When(spec, comp)
            else:
                obj = First(spec, comp)
            objs.append(obj if scope is None else Scoped(scope, obj))
        dims.append((d.name, d.max, d.floor, objs))
    disq = [(reason, comp.cond(cond)) for reason, cond, _line in plan.disqualify]
    grade_blocks = [(g.dim, list(g.bands)) for g in plan.grades]
    route = checked.file.first(n.Route)
    engine = Engine(checked, plan, criteria, dims, disq, grade_blocks, list(route.lines) if route else [],
                    dict(checked.fields), frozenset(checked.events))
    if plan.accounts is not None:
        from runtime.backends.accounts import AccountModel

        engine.accounts = AccountModel(engine, plan.accounts.node)
    return engine


def condition_test(engine: Engine, cond, event: str | None = None) -> Callable[..., bool]:
    """One condition of the engine's rule file (a node of its checked tree; inside an event's `where`
    when `event` is given) as a function `(lead, asof, attrs=None) -> bool`, evaluated exactly as the
    engine evaluates it. For analyses that ask what a single condition says of a value
    (runtime/analysis/signals.py: which criterion scores a signal)."""
    checked = engine.checked
    f = Compiler(engine.field_types, checked.events, checked.lists).cond(cond, event)

    def test(lead: Lead, asof: int, attrs: dict | None = None) -> bool:
        return bool(f(engine.context(lead, asof), attrs))
    return test
