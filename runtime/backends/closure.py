"""The scoring engine: a checked rule file compiled to closures, and the exact arithmetic of
LANGUAGE.md (decay by whole days, future events ignored, criterion caps, dimension clamp, rounding
`floor(x*100+0.5)/100`, first-match disqualify and route).

`Engine.score` is the hot path (no trace); `Engine.explain` evaluates the same compiled criteria with
a trace of every criterion and event, for `leadrules explain` and failing tests. Nothing from the rule
file is ever executed: conditions become closures over validated syntax, literals stay data.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import Any, Callable

from dsl import nodes as n
from dsl import printer

from runtime.core.model import Lead

TEXT, NUMBER, DATE, BOOL, TEXT_LIST = "text", "number", "date", "bool", "text list"


def norm(v):
    """Text as the language compares it: trimmed, lower case; empty text is missing (None)."""
    if v is None:
        return None
    if not isinstance(v, str):
        v = str(v)
    v = v.strip().lower()
    return v or None


def round2(x: float) -> float:
    return math.floor(x * 100 + 0.5) / 100


def date_ordinal(text: str) -> int:
    import datetime as dt

    if len(text) == 10:
        return dt.date.fromisoformat(text).toordinal()
    t = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc)
    return t.date().toordinal()


def words_regex(phrases) -> re.Pattern:
    """Whole-word match of one or more phrases; words are runs of letters and digits."""
    alts = []
    for p in phrases:
        ws = [w for w in re.split(r"[\W_]+", p.lower()) if w]
        if ws:
            alts.append(r"[\W_]+".join(re.escape(w) for w in ws))
    if not alts:
        return re.compile(r"(?!x)x")
    return re.compile(r"(?<![^\W_])(?:" + "|".join(alts) + r")(?![^\W_])")


# ---- per-lead evaluation context ---------------------------------------------------------------


class Ctx:
    """One lead at one as-of date: normalized fields and its past events grouped by type."""

    __slots__ = ("f", "evs", "by_type", "asof", "dims")

    def __init__(self, f, evs, by_type, asof):
        self.f = f
        self.evs = evs            # [(type, age, attrs)] for events on or before as-of, input order
        self.by_type = by_type    # type -> [(age, attrs)]
        self.asof = asof
        self.dims = None


# Closure shapes: value  v(X, E) -> python value or None (missing)
#                 cond   c(X, E) -> bool
# E is the current event's attribute dict inside a `where`, else None.


@dataclass
class CritSpec:
    index: int
    dim: str
    name: str
    key: str
    kind: str
    node: n.Criterion
    text: str


class _Compiler:
    def __init__(self, fields: dict[str, str], events: dict[str, dict[str, str]], lists: dict[str, tuple],
                 half_lives: dict[str, float | None], dims=()):
        self.fields = fields
        self.events = events
        self.lists = lists
        # lead dimensions a bare name may mean (inside an account's `lead where`): read from X.dims
        self.dims = frozenset(dims)

    # -- types --
    def vtype(self, v, ev: str | None) -> str:
        if isinstance(v, n.Name):
            if ev and v.name in self.events.get(ev, {}):
                return self.events[ev][v.name]
            if v.name not in self.fields and v.name in self.dims:
                return NUMBER
            return self.fields.get(v.name, TEXT)
        if isinstance(v, n.Literal):
            return v.kind
        if isinstance(v, n.Call):
            return NUMBER if v.func == "length" else TEXT
        return NUMBER

    # -- values --
    def value(self, v, ev: str | None) -> Callable:
        if isinstance(v, n.Name):
            name = v.name
            if ev and name in self.events.get(ev, {}):
                if self.events[ev][name] == TEXT:
                    return lambda X, E: norm(E.get(name))
                if self.events[ev][name] == TEXT_LIST:
                    return lambda X, E: _norm_list(E.get(name))
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
                def domain(X, E):
                    s = arg(X, E)
                    if s is None or "@" not in s:
                        return None
                    return s.rsplit("@", 1)[1].strip() or None
                return domain
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
            if v.event is None:
                return lambda X, E: min((age for _, age, _a in X.evs), default=None)
            et = v.event
            return lambda X, E: min((age for age, _ in X.by_type.get(et, ())), default=None)
        if isinstance(v, n.DaysSince):
            fname = v.field

            def days_since(X, E):
                # a date after the as-of day is not yet known: the lead was not created in the future
                d = X.f.get(fname)
                return None if d is None or d > X.asof else X.asof - d
            return days_since
        raise TypeError(f"unsupported value {v!r}")

    def const(self, lit: n.Literal):
        if lit.kind == "text":
            return norm(lit.value)
        if lit.kind == "date":
            return date_ordinal(str(lit.value))
        return lit.value

    def list_values(self, ref) -> tuple:
        if isinstance(ref, n.Name):
            raw = self.lists[ref.name]
        else:
            raw = tuple(self.const(i) for i in ref.items)
            return raw
        return tuple(norm(x) if isinstance(x, str) else x for x in raw)

    # -- event filters: a generator of matching (age, attrs) --
    def event_filter(self, f: n.EventFilter):
        within = f.within.days if f.within else None
        where = self.cond(f.where, f.event) if f.where is not None else None
        et = f.event
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
        import operator

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
                    def dyn(X, E):
                        v, p = val(X, E), arg(X, E)
                        if v is None or p is None:
                            return False
                        r = words_regex([p])
                        return any(r.search(x) for x in v) if islist else r.search(v) is not None
                    return dyn
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


def _norm_list(v):
    if v is None:
        return None
    out = tuple(x for x in (norm(i) for i in v) if x is not None)
    return out or None


# ---- compiled criteria -------------------------------------------------------------------------


class _Each:
    __slots__ = ("spec", "points", "et", "within", "where", "cap", "half_life", "wcache")

    def __init__(self, spec, comp: _Compiler, half_life):
        c = spec.node
        self.spec = spec
        self.points = c.points
        self.et = c.filter.event
        self.within = c.filter.within.days if c.filter.within else None
        self.where = comp.cond(c.filter.where, self.et) if c.filter.where is not None else None
        self.cap = c.max
        self.half_life = None if c.no_decay else half_life
        self.wcache: dict[int, float] = {}

    def weight(self, age: int) -> float:
        if self.half_life is None:
            return 1.0
        w = self.wcache.get(age)
        if w is None:
            w = self.wcache[age] = 0.5 ** (age / self.half_life)
        return w

    def __call__(self, X):
        """(points after cap, raw total before cap, matched events)."""
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
        raw = total
        cap = self.cap
        if cap is not None:
            if P >= 0:
                if total > cap:
                    total = cap
            elif total < -cap:
                total = -cap
        return total, raw, k

    def trace(self, X):
        rows = []
        for t, age, attrs in X.evs:
            if self.et is not None and t != self.et:
                continue
            if self.within is not None and age > self.within:
                continue
            if self.where is not None and not self.where(X, attrs):
                continue
            w = self.weight(age)
            rows.append({"age_days": age, "weight": w, "points": self.points * w, "attrs": attrs})
        return rows


class _When:
    __slots__ = ("spec", "points", "cond")

    def __init__(self, spec, comp: _Compiler):
        self.spec = spec
        self.points = spec.node.points
        self.cond = comp.cond(spec.node.cond)

    def __call__(self, X):
        if self.cond(X, None):
            return self.points, self.points, 1
        return 0, 0, 0


class _First:
    __slots__ = ("spec", "tiers")

    def __init__(self, spec, comp: _Compiler):
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


# ---- results -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Result:
    id: str
    scores: dict[str, float]
    bands: dict[str, str]
    grade: str
    route: str | None
    queue: str | None
    sla: str | None
    disqualified: str | None
    points: tuple = ()     # per criterion (Engine.criteria order): points after decay and cap
    raw: tuple = ()        # per criterion: before the cap
    fired: tuple = ()      # per criterion: condition held / events matched
    numbered: bool = False
    route_line: int | None = None  # index of the route line taken
    # set by runtime/accounts.py when the file has an accounts block (else None: keys left out)
    account: str | None = None          # the account key; None for a lead that is its own account
    account_scores: dict | None = None
    account_bands: dict | None = None

    def total(self) -> float:
        return round2(sum(self.scores.values()))

    def record(self, criteria: list[CritSpec] | None = None) -> dict:
        """The JSON shape of CLI.md's `score` output."""
        d = {"id": self.id, "scores": self.scores, "bands": self.bands, "grade": self.grade,
             "route": self.route, "queue": self.queue, "sla": self.sla, "disqualified": self.disqualified}
        if self.account_scores is not None:
            d["account"] = self.account
            d["account_scores"] = self.account_scores
            d["account_bands"] = self.account_bands
        if criteria is not None:
            d["criteria"] = {c.key: round2(p) for c, p, f in zip(criteria, self.points, self.fired) if f}
        return d


@dataclass
class Engine:
    """A compiled rule file. Build with `compile_checked`."""

    checked: Any
    criteria: list[CritSpec]
    dims: list[tuple[str, float, float, list]]          # (dim, max, floor, [crit objects])
    disq: list[tuple[str, Callable]]
    grade_blocks: list[tuple[str, list[tuple[str, float | None]]]]
    route_lines: list[n.RouteLine]
    field_types: dict[str, str]
    event_types: frozenset
    _route_cache: dict = field(default_factory=dict)

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
                v = _norm_list(v)
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
        key = (grade, disq)
        hit = self._route_cache.get(key)
        if hit is None:
            hit = (None, None, None, None)
            for i, line in enumerate(self.route_lines):
                if line.account_band is not None:
                    continue  # account lines: runtime/accounts.py routes again once the account is scored
                if any(_pattern_matches(p, grade, disq) for p in line.patterns):
                    a = line.action
                    hit = (a.kind, a.queue, a.sla.text() if a.sla else None, i)
                    break
            self._route_cache[key] = hit
        return hit

    # -- explaining --
    def explain(self, lead: Lead, asof: int) -> dict:
        """Everything that went into one lead's result, as plain data (see runtime/explain.py)."""
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
                    if isinstance(c, _Each):
                        row["events"] = c.trace(X)
                        row["decay_half_life"] = c.half_life
                    if isinstance(c, _First):
                        row["tier"] = c.which(X)
                    crits.append(row)
                    i += 1
        dims = []
        for dim, mx, fl, objs in self.dims:
            raw_sum = sum(r["points"] for r in crits if r["dim"] == dim)
            dims.append({"dim": dim, "sum": raw_sum, "max": mx, "floor": fl,
                         "score": res.scores.get(dim), "band": res.bands.get(dim)})
        return {"id": res.id, "result": res, "disqualify": disq, "criteria": crits, "dimensions": dims,
                "as_of": asof, "events": len(lead.events), "past_events": len(X.evs)}


def score_dims(dims, X) -> tuple[dict, list, list, list]:
    """LANGUAGE.md steps 1-4 for every dimension: each criterion called on `X` (a lead's context, or an
    account's flag counts), summed, clamped to [floor, max], rounded. Returns (scores, points, raw, fired)
    with points/raw/fired per criterion in order. Shared by lead and account scoring."""
    points, raws, fired = [], [], []
    scores = {}
    for dim, mx, fl, crits in dims:
        s = 0
        for c in crits:
            p, raw, k = c(X)
            points.append(p)
            raws.append(raw)
            fired.append(k > 0)
            s += p
        if s > mx:
            s = mx
        elif s < fl:
            s = fl
        scores[dim] = round2(s)
    return scores, points, raws, fired


def band_dims(grade_blocks, scores: dict) -> dict:
    """Each graded dimension's band: the first, top-down, whose threshold the rounded score reaches."""
    bands = {}
    for dim, bl in grade_blocks:
        sc = scores[dim]
        for name, th in bl:
            if th is None or sc >= th:
                bands[dim] = name
                break
    return bands


def _pattern_matches(p: n.Pattern, grade: str | None, disq: bool) -> bool:
    if p.kind == "otherwise":
        return True
    if p.kind == "disqualified":
        return disq
    if disq or grade is None:
        return False
    return fnmatchcase(grade, p.text.replace("[", "[[]")) if "*" in p.text else grade == p.text


def compile_checked(checked) -> Engine:
    """Compile a `dsl.checker.Checked` without errors into an `Engine`."""
    rf: n.RuleFile = checked.file
    comp = _Compiler(checked.fields, checked.events, checked.lists, {})
    criteria: list[CritSpec] = []
    dims = []
    names: dict[str, int] = {}
    for sc in rf.of(n.Score):
        for c in sc.criteria:
            names[c.name] = names.get(c.name, 0) + 1
    for sc in rf.of(n.Score):
        hl = sc.half_life.days if sc.half_life else None
        objs = []
        for c in sc.criteria:
            key = c.name if names[c.name] == 1 else f"{sc.dim}.{c.name}"
            spec = CritSpec(len(criteria), sc.dim, c.name, key, c.kind, c, printer.criterion_rule(c))
            criteria.append(spec)
            if c.kind == "each":
                objs.append(_Each(spec, comp, hl))
            elif c.kind == "when":
                objs.append(_When(spec, comp))
            else:
                objs.append(_First(spec, comp))
        dims.append((sc.dim, sc.max, sc.floor, objs))
    disq = [(d.reason, comp.cond(d.cond)) for d in rf.of(n.Disqualify)]
    grade_blocks = [(g.dim, [(b.name, b.threshold) for b in g.bands]) for g in rf.of(n.Grade)]
    route = rf.first(n.Route)
    lines = list(route.lines) if route else []
    return Engine(checked, criteria, dims, disq, grade_blocks, lines, dict(checked.fields),
                  frozenset(checked.events))


def condition_test(engine: Engine, cond, event: str | None = None) -> Callable[..., bool]:
    """One condition of the engine's rule file (a node of its checked tree; inside an event's `where`
    when `event` is given) as a function `(lead, asof, attrs=None) -> bool`, evaluated exactly as the
    engine evaluates it. For analyses that ask what a single condition says of a value
    (runtime/analysis/signals.py: which criterion scores a signal)."""
    checked = engine.checked
    f = _Compiler(engine.field_types, checked.events, checked.lists, {}).cond(cond, event)

    def test(lead: Lead, asof: int, attrs: dict | None = None) -> bool:
        return bool(f(engine.context(lead, asof), attrs))
    return test
