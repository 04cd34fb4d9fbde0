"""A checked rule file as generated Python: straight-line `score(lead, asof)` and `score_obj(obj, …)`.

runtime/backends/closure.py interprets the rule file through closures; this backend builds a Python `ast`
module instead (every literal from the rule file is an `ast.Constant`, never pasted source text),
compiles it with `compile()`, and gets a scorer that does what a hand-written one does: one pass over
the lead's events with a branch per event type, locals for fields and accumulators, precompiled
regular expressions and decay tables. It gives exactly the engine's `Result` (points, raw, fired
included); `compile_fast` falls back to the closure engine for the few constructs it does not cover.
"""
from __future__ import annotations

import ast
import datetime as _dt
import itertools
import re
from dataclasses import dataclass
from dataclasses import fields as dc_fields
from typing import Any, Callable

from dsl import nodes as n

from runtime.backends.closure import Engine, compile_checked
from runtime.core.model import BOOL, DATE, NUMBER, TEXT, TEXT_LIST  # noqa: F401
from runtime.core import kernel
from runtime.core.kernel import DECAY_TABLE_SIZE as WEIGHT_TABLE
from runtime.core.plan import Resolver

_fromiso = fromiso = _dt.datetime.fromisoformat


# What the generated module imports from this module (besides runtime.core.kernel's __all__):
# the reader's fast forms of JSON values. Generated code imports nothing else.
__all__ = ["date10", "event_day", "obj_list", "DAYS", "SUFFIXES", "fromiso", "search_memo"]


class Unsupported(Exception):
    """A construct this backend does not generate code for (the closure engine handles it)."""


# ---- helpers the generated module imports ------------------------------------------------------


# Caches of the reader's plain forms, each entry checked once with datetime.fromisoformat as the
# reader does: DAYS holds valid `YYYY-MM-DD` texts (-> ordinal), SUFFIXES the valid time parts that
# follow such a date in a UTC timestamp (`T12:30:00Z` ...; "" for a date alone). A timestamp is valid
# exactly when its date and its time part are (fromisoformat parses them separately).
DAYS: dict[str, int] = {}
SUFFIXES: dict[str, bool] = {"": True}
_CACHE_MAX = 200_000


def date10(s):
    """A `YYYY-MM-DD` text as the reader reads it (its ordinal), or 0 when it is in another form
    (then the reader decides)."""
    if s.__class__ is not str:
        return 0
    d = DAYS.get(s)
    if d is not None:
        return d
    if len(s) != 10 or s[4] != "-" or s[7] != "-":
        return 0
    try:
        d = _fromiso(s).toordinal()
    except ValueError:
        return 0
    if len(DAYS) < _CACHE_MAX:
        DAYS[s] = d
    return d


def event_day(at):
    """An event's `at` in the reader's plain forms (`YYYY-MM-DD`, `YYYY-MM-DDT...Z`): its UTC date's
    ordinal, as the reader computes it; 0 for any other form (the reader decides)."""
    if at.__class__ is not str or len(at) < 10:
        return 0
    d = date10(at[:10])
    if not d:
        return 0
    suffix = at[10:]
    if suffix not in SUFFIXES:
        if suffix[:1] != "T" or suffix[-1:] != "Z":
            return 0
        try:
            _fromiso("2000-01-01" + suffix)
        except ValueError:
            return 0
        if len(SUFFIXES) < _CACHE_MAX:
            SUFFIXES[suffix] = True
    return d


def search_memo(memo: dict, rx, s: str) -> bool:
    """`rx.search(s) is not None`, remembered in `memo` (one per pattern in the generated module): a
    title or an industry takes few distinct values, so each is searched once, not once per lead.
    The memo stops growing at _MEMO_MAX entries (every other value is searched each time)."""
    found = rx.search(s) is not None
    if len(memo) < _MEMO_MAX:
        memo[s] = found
    return found


_MEMO_MAX = 50_000


def obj_list(v):
    """A text list given as a JSON list of texts, read and normalized (kernel.norm_list of what the
    reader makes of it, inlined for speed: tests/test_kernel.py pins it); False when it holds
    anything else (the reader decides)."""
    if v.__class__ is not list:
        return False
    out = []
    for x in v:
        if x is None:
            continue
        if x.__class__ is not str:
            return False
        x = x.strip().lower()
        if x:
            out.append(x)
    return tuple(out) or None


# ---- ast builders ------------------------------------------------------------------------------


def N(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Load())


def St(name: str) -> ast.Name:
    return ast.Name(id=name, ctx=ast.Store())


def C(v) -> ast.expr:
    if isinstance(v, float) and v < 0 or isinstance(v, int) and not isinstance(v, bool) and v < 0:
        return ast.UnaryOp(op=ast.USub(), operand=ast.Constant(-v))
    return ast.Constant(v)


def call(f, *args) -> ast.Call:
    return ast.Call(func=N(f) if isinstance(f, str) else f, args=list(args), keywords=[])


def attr(obj: ast.expr, name: str) -> ast.Attribute:
    return ast.Attribute(value=obj, attr=name, ctx=ast.Load())


def assign(name: str, value: ast.expr) -> ast.Assign:
    return ast.Assign(targets=[St(name)], value=value)


def add_to(name: str, value: ast.expr) -> ast.AugAssign:
    return ast.AugAssign(target=St(name), op=ast.Add(), value=value)


def cmp(a: ast.expr, op: ast.cmpop, b: ast.expr) -> ast.Compare:
    return ast.Compare(left=a, ops=[op], comparators=[b])


def is_none(a):
    return cmp(a, ast.Is(), C(None))


def not_none(a):
    return cmp(a, ast.IsNot(), C(None))


T = ast.Constant(True)
F = ast.Constant(False)


def _is_const(e, v) -> bool:
    return isinstance(e, ast.Constant) and e.value is v


def and_(*xs):
    xs = [x for x in xs if not _is_const(x, True)]
    if any(_is_const(x, False) for x in xs):
        return ast.Constant(False)
    if not xs:
        return ast.Constant(True)
    return xs[0] if len(xs) == 1 else ast.BoolOp(op=ast.And(), values=xs)


def or_(*xs):
    xs = [x for x in xs if not _is_const(x, False)]
    if any(_is_const(x, True) for x in xs):
        return ast.Constant(True)
    if not xs:
        return ast.Constant(False)
    return xs[0] if len(xs) == 1 else ast.BoolOp(op=ast.Or(), values=xs)


def not_(x):
    if _is_const(x, True):
        return ast.Constant(False)
    if _is_const(x, False):
        return ast.Constant(True)
    return ast.UnaryOp(op=ast.Not(), operand=x)


def if_(test, body, orelse=None):
    """An `if` statement; a constant test keeps only the branch that runs (wrapped as `if True`
    only when the caller needs a single statement and the branch has several)."""
    if _is_const(test, True) and len(body) == 1:
        return body[0]
    if _is_const(test, False) and orelse is not None and len(orelse) == 1:
        return orelse[0]
    return ast.If(test=test, body=list(body) or [ast.Pass()], orelse=list(orelse or []))


def guarded(test, body) -> list:
    """`body` under `if test`, or as is when the test is constant."""
    if _is_const(test, True):
        return list(body)
    if _is_const(test, False):
        return []
    return [ast.If(test=test, body=list(body), orelse=[])]


def tuple_(items) -> ast.Tuple:
    return ast.Tuple(elts=list(items), ctx=ast.Load())


_CMP = {"=": ast.Eq, "!=": ast.NotEq, "<": ast.Lt, "<=": ast.LtE, ">": ast.Gt, ">=": ast.GtE}


def _lead_conditions(rf: n.RuleFile):
    for d in rf.of(n.Disqualify):
        yield d.cond
    for sc in rf.of(n.Score):
        for c in sc.criteria:
            if c.kind == "when":
                yield c.cond
            elif c.kind == "first":
                yield from (t.cond for t in c.tiers if t.cond is not None)


def _event_filters(rf: n.RuleFile):
    """Every event filter of the scoring (each criteria, has, count), nested ones included."""
    def walk(x):
        if isinstance(x, n.EventFilter):
            yield x
            if x.where is not None:
                yield from walk(x.where)
            return
        if isinstance(x, (n.Has, n.Count)):
            yield from walk(x.filter)
            return
        if isinstance(x, n.DaysSinceLast):
            if x.filter is not None:
                yield from walk(x.filter)
            return
        if isinstance(x, (n.Paren, n.Not)):
            yield from walk(x.cond)
        elif isinstance(x, n.BoolOp):
            for i in x.items:
                yield from walk(i)
        else:
            for name in ("left", "right", "value", "low", "high"):
                v = getattr(x, name, None)
                if isinstance(v, (n.Count, n.DaysSinceLast)):
                    yield from walk(v)

    for c in _lead_conditions(rf):
        yield from walk(c)
    for sc in rf.of(n.Score):
        for c in sc.criteria:
            if c.kind == "each" and c.filter is not None:
                yield from walk(c.filter)


def _atoms(c):
    if isinstance(c, (n.Paren, n.Not)):
        yield from _atoms(c.cond)
    elif isinstance(c, n.BoolOp):
        for i in c.items:
            yield from _atoms(i)
    else:
        yield c


def _plain(atom) -> bool:
    """The test reads only fields (so it can be computed before the event loop)."""
    v = atom.value
    while isinstance(v, n.Call):
        v = v.arg
    arg = getattr(atom, "arg", None)
    return isinstance(v, n.Name) and (arg is None or isinstance(arg, (n.Literal, n.ListLit, n.Name)))


def _atom_key(c) -> str:
    from dsl import printer

    return printer.cond(c)


def _inline_norm(x: ast.expr) -> ast.expr:
    """kernel.norm inlined for the common case (a str): `x.strip().lower() or None` (pinned to the
    kernel by tests/test_kernel.py)."""
    fast = ast.BoolOp(op=ast.Or(), values=[call(attr(call(attr(x, "strip")), "lower")), C(None)])
    return ast.IfExp(test=cmp(attr(x, "__class__"), ast.Is(), N("str")), body=fast, orelse=call("_norm", x))


# Inlined forms of kernel rules (runtime/core/kernel.py), for speed; tests/test_kernel.py compiles
# each and checks it against the kernel function on generated values.


def inline_decay(table: ast.expr, hl) -> ast.expr:
    """kernel.decay_weight(age, hl): the kernel's table (kernel.decay_table) for young events, the
    kernel's formula written out for older ones."""
    return ast.IfExp(test=cmp(N("age"), ast.Lt(), C(WEIGHT_TABLE)),
                     body=ast.Subscript(value=table, slice=N("age"), ctx=ast.Load()),
                     orelse=ast.BinOp(left=C(0.5), op=ast.Pow(),
                                      right=ast.BinOp(left=N("age"), op=ast.Div(), right=C(hl))))


def inline_known_age(day: ast.expr) -> ast.expr:
    """kernel.known_age(asof, day) as an expression over the local `asof`."""
    future = ast.BoolOp(op=ast.Or(), values=[is_none(day), cmp(day, ast.Gt(), N("asof"))])
    return ast.IfExp(test=future, body=C(None), orelse=ast.BinOp(left=N("asof"), op=ast.Sub(), right=day))


def inline_anchored_window(age: ast.expr, within, anchor_age: ast.expr) -> ast.expr:
    """kernel.in_window(age, within, anchor_age, True): 0 <= anchor_age - age <= within, never
    when the anchor is not known (None)."""
    gap = ast.BinOp(left=anchor_age, op=ast.Sub(), right=age)
    return and_(not_none(anchor_age), ast.Compare(left=C(0), ops=[ast.LtE(), ast.LtE()], comparators=[gap, C(within)]))


def inline_cap(name: str, points, limit) -> list[ast.stmt]:
    """kernel.cap on the local `name` (statements)."""
    if limit is None:
        return []
    if points >= 0:
        return [if_(cmp(N(name), ast.Gt(), C(limit)), [assign(name, C(limit))])]
    return [if_(cmp(N(name), ast.Lt(), C(-limit)), [assign(name, C(-limit))])]


def inline_clamp_round(name: str, mx, fl) -> list[ast.stmt]:
    """kernel.clamp_round on the local `name` (statements; `_floor` is math.floor)."""
    rounded = ast.BinOp(left=call("_floor", ast.BinOp(left=ast.BinOp(left=N(name), op=ast.Mult(), right=C(100)),
                                                      op=ast.Add(), right=C(0.5))),
                        op=ast.Div(), right=C(100))
    return [if_(cmp(N(name), ast.Gt(), C(mx)), [assign(name, C(mx))],
                [if_(cmp(N(name), ast.Lt(), C(fl)), [assign(name, C(fl))])]),
            assign(name, rounded)]


class V:
    """A compiled value: an expression that is cheap to repeat (a local or a constant)."""

    __slots__ = ("e", "nullable", "type")

    def __init__(self, e, nullable, type_):
        self.e, self.nullable, self.type = e, nullable, type_


# ---- the generator -----------------------------------------------------------------------------


class _Gen:
    def __init__(self, checked, base):
        self.checked = checked
        self.base = base   # the closure engine: its criteria order, grade blocks and routes
        self.fields: dict[str, str] = dict(checked.fields)
        self.events: dict[str, dict[str, str]] = {k: dict(v) for k, v in checked.events.items()}
        self.comp = Resolver(self.fields, self.events, checked.lists)
        self.consts: list[ast.stmt] = []      # module-level constants
        self.const_keys: dict[Any, str] = {}
        self.lead_fields: dict[str, None] = {}
        self.derived: list[ast.stmt] = []     # lead-level values computed once, after the fields
        self.derived_keys: dict[str, str] = {}
        # event loop: per type (None = any type) a list of statements; attributes per type
        self.loop_any: list[ast.stmt] = []
        self.loop_by_type: dict[str, list[ast.stmt]] = {}
        self.attrs_by_type: dict[str, dict[str, None]] = {}
        self.init: list[ast.stmt] = []        # accumulator initialisation
        self.post: list[ast.stmt] = []        # after the loop (caps)
        self.agg_keys: dict[str, str] = {}
        self.weight_locals: dict[tuple, str] = {}
        self.needs_types = False
        self.types_within: dict[tuple, str] = {}   # (within, reset scope) -> the set of types seen
        self.counter = itertools.count()
        self.flag_dims: frozenset = frozenset()  # dimension names usable in a condition (account filters)
        self.account = None  # (key expression, [flag expressions]) when the file has an accounts block
        self.atom_uses: dict[str, int] = {}
        self.ev_atom_uses: dict[tuple, int] = {}
        for f in _event_filters(checked.file):
            if f.where is not None and f.event is not None:
                for atom in _atoms(f.where):
                    if not isinstance(atom, n.Has):
                        k_ = (f.event, _atom_key(atom))
                        self.ev_atom_uses[k_] = self.ev_atom_uses.get(k_, 0) + 1
        self.ev_derived: dict[str, list[ast.stmt]] = {}
        self.ev_derived_keys: dict[tuple, str] = {}
        # `reset on` (docs/language.md, "Resets"): per dimension with resets, its lines; while its
        # criteria compile, `scope` is its index and each aggregate they add counts only the events
        # kernel.reset_keeps keeps. `ra<i>` (the reset's age) comes from a first pass over the events.
        self.resets: list[tuple] = []
        self.scope: int | None = None
        self.any_scopes: set[int] = set()   # scopes with an any-event aggregate: `rs<i>`, their reset events
        for c in _lead_conditions(checked.file):
            for atom in _atoms(c):
                if isinstance(atom, (n.TextTest, n.Matches)) and _plain(atom):
                    k_ = _atom_key(atom)
                    self.atom_uses[k_] = self.atom_uses.get(k_, 0) + 1

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def const(self, key, make) -> ast.Name:
        if key not in self.const_keys:
            name = f"K{len(self.const_keys)}"
            self.const_keys[key] = name
            self.consts.append(assign(name, make()))
        return N(self.const_keys[key])

    # -- values ------------------------------------------------------------------------------
    def value(self, v, ev: str | None) -> V:
        if isinstance(v, n.Name):
            if ev is not None and v.name in self.events.get(ev, {}):
                self.attrs_by_type.setdefault(ev, {})[v.name] = None
                return V(N("e_" + v.name), True, self.events[ev][v.name])
            if v.name not in self.fields:
                if v.name in self.flag_dims:  # an account filter's `engagement >= 50`: the rounded score
                    return V(N("s_" + v.name), False, NUMBER)
                raise Unsupported(f"unknown name {v.name}")
            self.lead_fields[v.name] = None
            return V(N("f_" + v.name), True, self.fields[v.name])
        if isinstance(v, n.Literal):
            c = self.comp.const(v)
            return V(C(c), c is None, self.comp.vtype(v, ev))
        if isinstance(v, n.Call):
            arg = self.value(v.arg, ev)
            if v.func == "lower":
                return arg
            if v.func == "length":
                e = ast.IfExp(test=is_none(arg.e), body=C(None), orelse=call("len", arg.e))
                return self.derive(f"length {ast.dump(arg.e)}", e, True, NUMBER, ev)
            if v.func == "domain":
                return self.derive(f"domain {ast.dump(arg.e)}", call("_domain", arg.e), True, TEXT, ev)
            raise Unsupported(v.func)
        if isinstance(v, n.Count):
            if ev is not None:
                raise Unsupported("count inside where")
            return V(N(self.count(v.filter)), False, NUMBER)
        if isinstance(v, n.CountTypes):
            if ev is not None:
                raise Unsupported("count event types inside where")
            return V(self.count_types(v.within.days if v.within else None), False, NUMBER)
        if isinstance(v, n.DaysSinceLast):
            if ev is not None:
                raise Unsupported("days since last inside where")
            if v.filter is not None:  # `days since last EVENT where C within N days`: the newest match
                return V(N(self.last_of(v.filter)), True, NUMBER)
            return V(N(self.last(v.event)), True, NUMBER)
        if isinstance(v, n.DaysSince):
            f = self.value(n.Name(v.field), ev)
            # a date after the as-of day is not yet known (kernel.known_age): None, like a missing date
            return self.derive(f"days since {v.field}", self.known_age(f), True, NUMBER, ev)
        raise Unsupported(type(v).__name__)

    def derive(self, key, e, nullable, typ, ev) -> V:
        if ev is not None:
            return V(e, nullable, typ)  # inside an event: computed where it is used
        if key not in self.derived_keys:
            name = f"d{len(self.derived_keys)}"
            self.derived_keys[key] = name
            self.derived.append(assign(name, e))
        return V(N(self.derived_keys[key]), nullable, typ)

    # -- resets ------------------------------------------------------------------------------------
    def is_reset(self, i: int, et: str) -> ast.expr:
        """Inside the branch of event type `et`: is the event one of scope i's reset events?"""
        return or_(*[T if where is None else self.cond(where, et) for ret, where in self.resets[i] if ret == et])

    def keep(self, et: str | None) -> ast.expr:
        """kernel.reset_keeps for the current event, in the current scope (True outside any): `age`
        is the event's, `ra<i>` the reset's."""
        if self.scope is None:
            return T
        ra = N(f"ra{self.scope}")
        if et is None:
            # any type: the reset pass kept the ids of the reset events (`rs<i>`), as the type's
            # attributes are not read outside its branch
            self.any_scopes.add(self.scope)
            is_reset = ast.Compare(left=call("id", N("e_")), ops=[ast.In()], comparators=[N(f"rs{self.scope}")])
        else:
            is_reset = self.is_reset(self.scope, et)
        return or_(is_none(ra), cmp(N("age"), ast.Lt(), ra), and_(cmp(N("age"), ast.Eq(), ra), is_reset))

    def reset_pass(self) -> list[ast.stmt]:
        """`ra<i> = kernel.reset_age(...)` for every scope: one pass over the lead's events before the
        main one."""
        if not self.resets:
            return []
        body: list[ast.stmt] = [assign(f"ra{i}", C(None)) for i in range(len(self.resets))]
        body += [assign(f"rs{i}", call("set")) for i in sorted(self.any_scopes)]
        loop: list[ast.stmt] = [assign("age", ast.BinOp(left=N("asof"), op=ast.Sub(), right=attr(N("e_"), "day"))),
                                if_(cmp(N("age"), ast.Lt(), C(0)), [ast.Continue()]),
                                assign("t", attr(N("e_"), "type"))]
        import copy

        types = list(dict.fromkeys(et for lines in self.resets for et, _w in lines))
        # the tests first: compiling them registers the attributes they read
        tests = {(i, et): self.is_reset(i, et) for et in types for i in range(len(self.resets))
                 if any(ret == et for ret, _w in self.resets[i])}
        chain: list[ast.stmt] | None = None
        for et in reversed(types):
            branch: list[ast.stmt] = []
            if self.attrs_by_type.get(et):
                branch.append(assign("a_", attr(N("e_"), "attrs")))
                branch += self.attr_values(et, N("a_"))
            branch += copy.deepcopy(self.ev_derived.get(et, []))
            for (i, t_), test in tests.items():
                if t_ == et:
                    ra = N(f"ra{i}")
                    latest = if_(or_(is_none(ra), cmp(N("age"), ast.Lt(), ra)), [assign(f"ra{i}", N("age"))])
                    add = [ast.Expr(value=call(attr(N(f"rs{i}"), "add"), call("id", N("e_"))))] \
                        if i in self.any_scopes else []
                    branch.append(if_(test, [latest] + add))
            chain = [if_(cmp(N("t"), ast.Eq(), C(et)), branch, chain or [])]
        loop += chain or []
        body.append(ast.For(target=St("e_"), iter=attr(N("lead"), "events"), body=loop, orelse=[]))
        return body

    def known_age(self, f: V) -> ast.expr:
        """kernel.known_age of a date value, inlined (tests/test_kernel.py pins it)."""
        return inline_known_age(f.e)

    # -- event aggregates ----------------------------------------------------------------------
    def event_test(self, f: n.EventFilter, apply_where: bool):
        parts = [self.keep(f.event)]
        if f.within is not None and f.anchor is not None:
            # `within N days of FIELD`: the field's known age, once per lead, then kernel.in_window
            d = self.value(n.Name(f.anchor), None)
            a = self.derive(f"days since {f.anchor}", self.known_age(d), True, NUMBER, None)
            parts.append(inline_anchored_window(N("age"), f.within.days, a.e))
        elif f.within is not None:
            parts.append(cmp(N("age"), ast.LtE(), C(f.within.days)))
        if f.where is not None and apply_where:
            parts.append(self.cond(f.where, f.event))
        return and_(*parts)

    def loop_for(self, et: str | None) -> list:
        if et is None:
            return self.loop_any
        if et not in self.events:
            raise Unsupported(f"unknown event {et}")
        return self.loop_by_type.setdefault(et, [])

    def count(self, f: n.EventFilter) -> str:
        from dsl import printer

        key = "count " + printer.event_filter(f) + ("" if self.scope is None else f" reset{self.scope}")
        if key not in self.agg_keys:
            name = self.fresh("n")
            self.agg_keys[key] = name
            self.init.append(assign(name, C(0)))
            # the reference engine ignores `where` on `count/has event` (any type); so do we
            test = self.event_test(f, apply_where=f.event is not None)
            self.loop_for(f.event).extend(guarded(test, [add_to(name, C(1))]))
        return self.agg_keys[key]

    def has(self, f: n.EventFilter) -> ast.expr:
        return cmp(N(self.count(f)), ast.Gt(), C(0))

    def count_types(self, within) -> ast.expr:
        name = self.types_within.get((within, self.scope))
        if name is None:
            name = self.types_within[(within, self.scope)] = self.fresh("ts")
            self.init.append(assign(name, call("set")))
            add = ast.Expr(value=call(attr(N(name), "add"), N("t")))
            test = [self.keep(None)] + ([] if within is None else [cmp(N("age"), ast.LtE(), C(within))])
            self.loop_any.extend(guarded(and_(*test), [add]))
        return call("len", N(name))

    def last(self, et: str | None) -> str:
        key = f"last {et}"  # `days since last` keeps its meaning after a reset: never scoped
        if key not in self.agg_keys:
            name = self.fresh("m")
            self.agg_keys[key] = name
            self.init.append(assign(name, C(None)))
            self.loop_for(et).append(if_(or_(is_none(N(name)), cmp(N("age"), ast.Lt(), N(name))),
                                         [assign(name, N("age"))]))
        return self.agg_keys[key]

    def last_of(self, f: n.EventFilter) -> str:
        from dsl import printer

        key = "last " + printer.event_filter(f)
        if key not in self.agg_keys:
            name = self.fresh("m")
            self.agg_keys[key] = name
            self.init.append(assign(name, C(None)))
            # like `days since last`, never scoped by a reset: recency reads every event of the lead
            scope, self.scope = self.scope, None
            try:
                test = self.event_test(f, apply_where=True)
            finally:
                self.scope = scope
            newer = or_(is_none(N(name)), cmp(N("age"), ast.Lt(), N(name)))
            self.loop_for(f.event).extend(guarded(and_(test, newer),
                                                  [assign(name, N("age"))]))
        return self.agg_keys[key]

    def weight(self, hl) -> ast.expr:
        """The decay weight of the current event (computed once per event and half-life)."""
        table = self.const(("weights", hl), lambda: call("_decay_table", C(hl)))
        return inline_decay(table, hl)

    # -- conditions ----------------------------------------------------------------------------
    def cond(self, c, ev: str | None = None) -> ast.expr:
        if ev is not None and not isinstance(c, (n.Paren, n.Not, n.BoolOp, n.Has)) \
                and self.ev_atom_uses.get((ev, _atom_key(c)), 0) > 1:
            # a test on the event that several criteria ask (is it a pricing page?): once per event
            key = (ev, _atom_key(c))
            if key not in self.ev_derived_keys:
                e = self.cond_uncached(c, ev)
                name = f"g{len(self.ev_derived_keys)}"
                self.ev_derived_keys[key] = name
                self.ev_derived.setdefault(ev, []).append(assign(name, e))
            return N(self.ev_derived_keys[key])
        if ev is None and isinstance(c, (n.TextTest, n.Matches)) and self.atom_uses.get(_atom_key(c), 0) > 1:
            # a text test several criteria ask (a title's seniority words): computed once per lead
            key = "atom " + _atom_key(c)
            if key not in self.derived_keys:
                e = self.cond_uncached(c, ev)
                name = f"h{len(self.derived_keys)}"
                self.derived_keys[key] = name
                self.derived.append(assign(name, e))
            return N(self.derived_keys[key])
        return self.cond_uncached(c, ev)

    def cond_uncached(self, c, ev: str | None = None) -> ast.expr:
        if isinstance(c, n.Paren):
            return self.cond(c.cond, ev)
        if isinstance(c, n.Not):
            return not_(self.cond(c.cond, ev))
        if isinstance(c, n.BoolOp):
            parts = [self.cond(i, ev) for i in c.items]
            return and_(*parts) if c.op == "and" else or_(*parts)
        if isinstance(c, n.Compare):
            a, b = self.value(c.left, ev), self.value(c.right, ev)
            if _is_const(a.e, None) or _is_const(b.e, None):
                return F
            if c.op == "=" and isinstance(b.e, ast.Constant) and a.type in (TEXT, NUMBER, DATE):
                return cmp(a.e, ast.Eq(), b.e)  # None == "x" is False: no guard needed
            return self.guard([a, b], cmp(a.e, _CMP[c.op](), b.e))
        if isinstance(c, n.In):
            v = self.value(c.value, ev)
            items = frozenset(self.comp.list_values(c.items))
            if self.comp.vtype(c.value, ev) == NUMBER:
                items = frozenset(float(x) for x in items if isinstance(x, (int, float)))
            srt = tuple(sorted(items, key=repr))
            s = self.const(("set", srt), lambda: call("frozenset", tuple_(C(x) for x in srt)))
            if not c.negated and None not in items and v.type in (TEXT, NUMBER, DATE):
                return cmp(v.e, ast.In(), s)  # None is not in the set: no guard needed
            return self.guard([v], cmp(v.e, ast.NotIn() if c.negated else ast.In(), s))
        if isinstance(c, n.TextTest):
            return self.text_test(c, ev)
        if isinstance(c, n.Matches):
            v = self.value(c.value, ev)
            rx = self.const(("re", c.pattern), lambda: call(attr(N("_re"), "compile"), C(c.pattern), C(int(re.IGNORECASE))))
            return self.guard([v], self.search(rx, v))
        if isinstance(c, n.Between):
            v, lo, hi = self.value(c.value, ev), self.value(c.low, ev), self.value(c.high, ev)
            if any(_is_const(x.e, None) for x in (v, lo, hi)):
                return F
            return self.guard([v, lo, hi], ast.Compare(left=lo.e, ops=[ast.LtE(), ast.LtE()], comparators=[v.e, hi.e]))
        if isinstance(c, n.IsMissing):
            v = self.value(c.value, ev)
            if not v.nullable:
                return F if c.missing else T
            return is_none(v.e) if c.missing else not_none(v.e)
        if isinstance(c, n.Has):
            if ev is not None:
                raise Unsupported("has inside where")
            return self.has(c.filter)
        raise Unsupported(type(c).__name__)

    def guard(self, vals: list[V], pred) -> ast.expr:
        return and_(*[not_none(v.e) for v in vals if v.nullable], pred)

    def search(self, rx: ast.expr, v: V, memo: bool = False) -> ast.expr:
        if v.type == TEXT_LIST:
            gen = ast.GeneratorExp(elt=call(attr(rx, "search"), N("x_")),
                                   generators=[ast.comprehension(target=St("x_"), iter=v.e, ifs=[], is_async=0)])
            return call("any", gen)
        if not memo:  # (`matches` patterns: often on a value of its own per lead, an e-mail address)
            return not_none(call(attr(rx, "search"), v.e))
        # words searched in a text: through a memo of the values seen (search_memo); the
        # expression `m_ if (m_ := M.get(x)) is not None else _search_memo(M, rx, x)` (x is not None:
        # the caller guards it)
        memo = self.const(("memo", rx.id), lambda: ast.Dict(keys=[], values=[]))
        got = ast.NamedExpr(target=St("m_"), value=call(attr(memo, "get"), v.e))
        return ast.IfExp(test=not_none(got), body=N("m_"), orelse=call("_search_memo", memo, rx, v.e))

    def text_test(self, c: n.TextTest, ev) -> ast.expr:
        v = self.value(c.value, ev)
        islist = v.type == TEXT_LIST
        op = c.op
        if op in ("contains_any", "contains_all", "contains_any_word"):
            items = tuple(x for x in self.comp.list_values(c.arg) if x is not None)
            items = tuple(x if isinstance(x, str) else str(x) for x in items)
        if op in ("contains_word", "contains_any_word"):
            if op == "contains_word":
                if not isinstance(c.arg, n.Literal):
                    a = self.value(c.arg, ev)
                    return call("_word_match", v.e, a.e, C(islist))
                phrases = (self.comp.const(c.arg) or "",)
            else:
                phrases = items
            rx = self.const(("words", phrases), lambda: call("_words_regex", tuple_(C(p) for p in phrases)))
            return self.guard([v], self.search(rx, v, memo=True))
        if op == "contains_any":
            if islist:
                s = self.const(("set", tuple(sorted(set(items)))), lambda: call("frozenset", tuple_(C(x) for x in sorted(set(items)))))
                return self.guard([v], not_(call(attr(s, "isdisjoint"), v.e)))
            return self.guard([v], or_(*[cmp(C(x), ast.In(), v.e) for x in items]))
        if op == "contains_all":
            if islist:
                s = self.const(("set", tuple(sorted(set(items)))), lambda: call("frozenset", tuple_(C(x) for x in sorted(set(items)))))
                return self.guard([v], call(attr(s, "issubset"), v.e))
            return self.guard([v], and_(*[cmp(C(x), ast.In(), v.e) for x in items]))
        a = self.value(c.arg, ev)
        if _is_const(a.e, None):
            return F
        if op == "contains":
            return self.guard([v, a], cmp(a.e, ast.In(), v.e))
        if op == "starts_with":
            return self.guard([v, a], call(attr(v.e, "startswith"), a.e))
        if op == "ends_with":
            return self.guard([v, a], call(attr(v.e, "endswith"), a.e))
        raise Unsupported(op)

    # -- criteria ------------------------------------------------------------------------------
    def criterion(self, i: int, c: n.Criterion, half_life) -> list[ast.stmt]:
        """Statements that set p{i} (points), r{i} (raw) and k{i} (fired) after the event loop."""
        p, r, k = f"p{i}", f"r{i}", f"k{i}"
        if c.kind == "when":
            test = self.cond(c.cond)
            return [if_(test, [assign(p, C(c.points)), assign(k, T)], [assign(p, C(0)), assign(k, F)]),
                    assign(r, N(p))]
        if c.kind == "first":
            node: list[ast.stmt] = [assign(p, C(0)), assign(k, F)]
            for t in reversed(c.tiers):
                body = [assign(p, C(t.points)), assign(k, T)]
                node = body if t.cond is None else [if_(self.cond(t.cond), body, node)]
            return node + [assign(r, N(p))]
        # each: accumulate in the event loop, cap afterwards
        f = c.filter
        if f.event == "lead":
            raise Unsupported("account criteria")
        hl = None if c.no_decay else half_life
        cnt = self.fresh("q")
        self.init += [assign(p, C(0.0)), assign(cnt, C(0))]
        test = self.event_test(f, apply_where=True)
        if c.per is not None:
            # `+P per ATTR` (kernel.per_unit): (P × value) × weight; an event without a value adds nothing
            amount = self.value(n.Name(c.per), f.event).e
            test = and_(test, not_none(amount))
            contrib = ast.BinOp(left=C(c.points), op=ast.Mult(), right=amount)
            if hl is not None:
                contrib = ast.BinOp(left=contrib, op=ast.Mult(), right=self.weight_local(hl, f.event))
        elif hl is None:
            contrib = C(c.points)
        elif c.points == 1 and isinstance(c.points, int):
            contrib = self.weight_local(hl, f.event)  # 1 * w is w, exactly
        else:
            contrib = ast.BinOp(left=C(c.points), op=ast.Mult(), right=self.weight_local(hl, f.event))
        self.loop_for(f.event).extend(guarded(test, [add_to(p, contrib), add_to(cnt, C(1))]))
        out = [assign(r, N(p)), assign(k, cmp(N(cnt), ast.Gt(), C(0)))]
        out += inline_cap(p, c.points, c.max)
        return out

    def weight_local(self, hl, et) -> ast.expr:
        key = (hl, et)
        if key not in self.weight_locals:
            self.weight_locals[key] = f"w{len(self.weight_locals)}"
        return N(self.weight_locals[key])

    # -- the module ----------------------------------------------------------------------------
    def module(self, id_field: str = "id") -> ast.Module:
        """The module: `score(lead, asof)` over a runtime.core.model.Lead, and `score_obj(obj, asof, line)`
        over the JSON object of a leads-file line, which gives the same Result for the rows the
        reader would accept as they are (or None, and the caller goes the long way round).
        `struct_module()`, called after it, gives `score_struct`."""
        plan = self.base.plan
        # an accounts block is scored after the leads (runtime/backends/accounts.py): this module scores the lead
        crit_stmts: list[ast.stmt] = []
        dim_parts = []
        for d in plan.dimensions:
            if d.resets:
                self.resets.append(tuple((r.event, r.where) for r in d.resets))
                self.scope = len(self.resets) - 1
            try:
                for c in d.criteria:
                    crit_stmts += self.criterion(c.index, c.node, d.half_life)
            finally:
                self.scope = None
            dim_parts.append((d.name, d.max, d.floor, [c.index for c in d.criteria]))
        self.ncrit = len(plan.criteria)
        self.account = self.account_parts()
        disq = [(reason, self.cond(cond)) for reason, cond, _line in plan.disqualify]
        tail = self.tail(disq, crit_stmts, dim_parts)

        body = [assign("lid_", attr(N("lead"), "id")), assign("num_", attr(N("lead"), "numbered"))]
        reset_pass = self.reset_pass()  # (after the criteria: it normalizes the attributes they use)
        body += self.fields_from_lead() + self.derived + self.init + reset_pass + self.loop_over_lead() + tail
        fn = _function("score", ["lead", "asof"], body)

        # The two functions share the statements they have in common: compile(), ast.unparse and
        # fix_missing_locations only read a tree, and a deep copy of a 10,000-criterion body costs
        # more than generating it.
        if self.resets:
            # a reset needs every event before the first is counted: such a file scores a JSON object
            # the long way round (the reader, then score(lead)), which gives the same Result
            body2 = [ast.Return(value=C(None))]
        else:
            body2 = self.fields_from_obj(id_field) + list(self.derived) + list(self.init)
            body2 += self.loop_over_obj() + list(tail)
        fn2 = _function("score_obj", ["obj", "asof", "line", "idf"], body2)
        fn2.args.defaults = [C(id_field)]
        self.struct_args = (id_field, tail)  # for struct_module, only when a JSON Lines file is scored
        doc = ast.Expr(value=C("Generated by leadrules from a rule file: score(lead, asof) -> Result, and "
                               "score_obj(obj, asof, line) -> Result | None for a lead read as a JSON object."))
        mod = ast.Module(body=[doc] + self.imports() + self.consts + [fn, fn2], type_ignores=[])
        return ast.fix_missing_locations(mod)

    def struct_module(self) -> ast.Module:
        """After module(): `score_struct(obj, asof, line)`, score_obj over a row decoded by msgspec
        into a struct (runtime.io.fastjson.row_reader): the decoder makes no dict per row and per
        event, the checks and the scoring are score_obj's. Apart, so that only a run that reads JSON
        Lines pays for generating it."""
        id_field, tail = self.struct_args
        if self.resets:
            body = [ast.Return(value=C(None))]
        else:
            body = self.fields_from_obj(id_field, struct=True) + list(self.derived) + list(self.init)
            body += self.loop_over_obj(struct=True) + list(tail)
        fn = _function("score_struct", ["obj", "asof", "line"], body)
        return ast.fix_missing_locations(ast.Module(body=self.imports() + self.consts + [fn], type_ignores=[]))

    @staticmethod
    def imports() -> list[ast.stmt]:
        return [
            ast.ImportFrom(module="math", names=[ast.alias("floor", "_floor")], level=0),
            ast.Import(names=[ast.alias("re", "_re")]),
            ast.ImportFrom(module="runtime.core.model", names=[ast.alias("Result", "_Result")], level=0),
            ast.ImportFrom(module="runtime.core.kernel", names=[ast.alias(x, "_" + x) for x in kernel.__all__],
                           level=0),
            ast.ImportFrom(module="runtime.backends.pygen", names=[ast.alias(x, "_" + x) for x in __all__], level=0),
        ]

    def account_parts(self):
        """With an accounts block: the lead's account key and its flags (one per `lead where C` of
        the block, runtime.backends.accounts.AccountModel.filter_nodes order) as expressions, so that
        runtime/backends/accounts.py groups generated Results without building the lead again. None
        without a block, or when the key or a flag is not generated (the accounts module computes them)."""
        model = self.base.accounts
        if model is None:
            return None
        if self.fields.get(model.key_field) != TEXT:
            return None
        snapshot = (dict(self.lead_fields), list(self.derived), dict(self.derived_keys), list(self.init),
                    {k: list(v) for k, v in self.loop_by_type.items()}, list(self.loop_any), dict(self.agg_keys))
        try:
            key = self.value(n.Name(model.key_field), None).e
            if model.key_domain:  # computed once, with the criteria's domain(...) of the same field
                key = self.derive(f"domain {ast.dump(key)}", call("_domain", key), True, TEXT, None).e
            self.flag_dims = frozenset(d.name for d in self.base.plan.dimensions)
            flags = [C(1) if f.where is None else ast.IfExp(test=self.cond(f.where), body=C(1), orelse=C(0))
                     for f in model.filter_nodes]
        except Unsupported:
            (self.lead_fields, self.derived, self.derived_keys, self.init, self.loop_by_type, self.loop_any,
             self.agg_keys) = snapshot
            return None
        finally:
            self.flag_dims = frozenset()
        return key, flags

    # -- score(lead, asof): fields and events of a runtime.core.model.Lead ----------------------------
    def fields_from_lead(self) -> list[ast.stmt]:
        """The lead's fields as the engine's context normalizes them (only the ones used)."""
        body: list[ast.stmt] = [assign("F_", attr(N("lead"), "fields"))]
        for fname in self.lead_fields:
            t = self.fields[fname]
            get = call(attr(N("F_"), "get"), C(fname))
            if t == TEXT:
                body.append(assign("x_", get))
                body.append(assign("f_" + fname, _inline_norm(N("x_"))))
            elif t == TEXT_LIST:
                body.append(assign("f_" + fname, call("_norm_list", get)))
            else:
                body.append(assign("f_" + fname, get))
        return body

    def attr_values(self, et: str, source: ast.expr | None) -> list[ast.stmt]:
        """The used attributes of the event, normalized; from `source.get(a)`, or (source None) from
        the raw values `r_<a>` that score_obj has already checked."""
        out: list[ast.stmt] = []
        for a in self.attrs_by_type.get(et, {}):
            t = self.events[et][a]
            get = call(attr(source, "get"), C(a)) if source is not None else N("r_" + a)
            if t == TEXT:
                out.append(assign("x_", get))
                out.append(assign("e_" + a, _inline_norm(N("x_"))))
            elif t == TEXT_LIST:
                out.append(assign("e_" + a, call("_norm_list", get)))
            else:
                out.append(assign("e_" + a, get))
        return out

    def weights_for(self, et) -> list[ast.stmt]:
        return [assign(name, self.weight(hl)) for (hl, wet), name in self.weight_locals.items() if wet == et]

    def loop_over_lead(self) -> list[ast.stmt]:
        if not (self.loop_any or self.loop_by_type):
            return []
        loop: list[ast.stmt] = [assign("age", ast.BinOp(left=N("asof"), op=ast.Sub(), right=attr(N("e_"), "day"))),
                                if_(cmp(N("age"), ast.Lt(), C(0)), [ast.Continue()])]
        if self.loop_by_type or self.types_within:
            loop.append(assign("t", attr(N("e_"), "type")))
        loop += self.weights_for(None) + self.loop_any
        chain = None
        for et in reversed(list(self.loop_by_type)):
            branch: list[ast.stmt] = []
            if self.attrs_by_type.get(et):
                branch.append(assign("a_", attr(N("e_"), "attrs")))
                branch += self.attr_values(et, N("a_"))
            branch += self.ev_derived.get(et, [])
            branch += self.weights_for(et) + self.loop_by_type[et]
            chain = [if_(cmp(N("t"), ast.Eq(), C(et)), branch, chain or [])]
        loop += chain or []
        return [ast.For(target=St("e_"), iter=attr(N("lead"), "events"), body=loop, orelse=[])]

    # -- score_obj(obj, asof, line): a JSON object as runtime/io/readers.py would read it -----------
    def fields_from_obj(self, id_field: str, struct: bool = False) -> list[ast.stmt]:
        """Every declared field checked for the reader's plain forms (else `return None`: the reader
        decides, and reports a bad row if it is one); the ones used normalized as the engine does.
        `struct`: `obj` is a runtime.io.fastjson row struct (attributes `f_<field>`, `id_`, `events_`)
        instead of a dict; the checks are the same."""
        fail = ast.Return(value=C(None))
        if struct:
            def get(key):
                return attr(N("obj"), "events_" if key == "events" else "f_" + key)
            body: list[ast.stmt] = [assign("lid_", attr(N("obj"), "id_"))]
        else:
            def get(key):
                return call("get_", C(key))
            body = [assign("get_", attr(N("obj"), "get")), assign("lid_", call("get_", N("idf")))]
        # the id: text (blank = none), else numbered by its line
        body.append(if_(cmp(attr(N("lid_"), "__class__"), ast.Is(), N("str")),
                        [if_(or_(not_(N("lid_")), call(attr(N("lid_"), "isspace"))), [assign("lid_", C(None))])],
                        [if_(not_none(N("lid_")), [fail])]))
        body.append(if_(is_none(N("lid_")), [assign("lid_", call("str", N("line"))), assign("num_", T)],
                        [assign("num_", F)]))
        for fname, t in self.fields.items():
            used = fname in self.lead_fields
            x = N("x_")
            body.append(assign("x_", get(fname)))
            target = "f_" + fname
            if t == TEXT:
                if used:
                    body.append(if_(cmp(attr(x, "__class__"), ast.Is(), N("str")),
                                    [assign(target, ast.BoolOp(op=ast.Or(), values=[
                                        call(attr(call(attr(x, "strip")), "lower")), C(None)]))],
                                    [if_(is_none(x), [assign(target, C(None))], [fail])]))
                else:
                    body.append(if_(and_(not_none(x), cmp(attr(x, "__class__"), ast.IsNot(), N("str"))), [fail]))
            elif t == NUMBER:
                bad = and_(not_none(x), cmp(attr(x, "__class__"), ast.IsNot(), N("int")),
                           or_(cmp(attr(x, "__class__"), ast.IsNot(), N("float")),
                               cmp(ast.BinOp(left=x, op=ast.Sub(), right=x), ast.NotEq(), C(0.0))))
                body.append(if_(bad, [fail]))
                if used:
                    body.append(assign(target, x))
            elif t == DATE:
                conv = [assign("x_", call("_date10", x)), if_(not_(x), [fail])]
                body.append(if_(not_none(x), conv, [assign("x_", C(None))] if used else None))
                if used:
                    body.append(assign(target, x))
            elif t == BOOL:
                body.append(if_(and_(not_none(x), cmp(x, ast.IsNot(), T), cmp(x, ast.IsNot(), F)), [fail]))
                if used:
                    body.append(assign(target, x))
            else:  # text list
                conv = [assign("x_", call("_obj_list", x)), if_(cmp(x, ast.Is(), F), [fail])]
                body.append(if_(not_none(x), conv))
                if used:
                    body.append(assign(target, x))
        if self.events:
            body.append(assign("evs_", get("events")))
            body.append(if_(is_none(N("evs_")), [assign("evs_", tuple_([]))],
                            [if_(cmp(attr(N("evs_"), "__class__"), ast.IsNot(), N("list")), [fail])]))
        return body

    def loop_over_obj(self, struct: bool = False) -> list[ast.stmt]:
        if not self.events:
            return []
        fail = ast.Return(value=C(None))
        if struct:  # every event is an event struct (runtime.io.fastjson): `e_type`, `e_at`, `a_<attribute>`
            def eget(key):
                return attr(N("e_"), {"type": "e_type", "at": "e_at"}.get(key, "a_" + key))
            head = [assign("t", eget("type"))]
        else:
            def eget(key):
                return call(attr(N("e_"), "get"), C(key))
            head = [if_(cmp(attr(N("e_"), "__class__"), ast.IsNot(), N("dict")), [fail]), assign("t", eget("type"))]
        chain: list[ast.stmt] = [fail]  # an event type the rule file does not declare: the reader decides
        for et in reversed(list(self.events)):
            branch: list[ast.stmt] = []
            # every declared attribute in a plain form: text as text, numbers as numbers
            for a, at in self.events[et].items():
                if a in ("type", "at"):
                    continue
                x = N("r_" + a)
                branch.append(assign("r_" + a, eget(a)))
                if at == TEXT:
                    bad = and_(not_none(x), cmp(attr(x, "__class__"), ast.IsNot(), N("str")))
                elif at == NUMBER:
                    bad = and_(not_none(x), cmp(attr(x, "__class__"), ast.IsNot(), N("int")),
                               or_(cmp(attr(x, "__class__"), ast.IsNot(), N("float")),
                                   cmp(ast.BinOp(left=x, op=ast.Sub(), right=x), ast.NotEq(), C(0.0))))
                else:
                    bad = not_none(x)  # dates, bools and lists in events: the reader coerces them
                branch.append(if_(bad, [fail]))
            at = N("at_")
            # `YYYY-MM-DDTHH:MM:SSZ` (the common export form) in one slice: the characters at 4, 7, 10,
            # 13, 16 and 19 are `--T::Z` exactly when the text has that shape and 20 to 22 characters
            plain = and_(cmp(attr(at, "__class__"), ast.Is(), N("str")),
                         cmp(ast.Subscript(value=at, slice=ast.Slice(lower=C(4), upper=None, step=C(3)), ctx=ast.Load()),
                             ast.Eq(), C("--T::Z")), cmp(call("len", at), ast.Eq(), C(20)))
            inline = ast.Try(body=[assign("age", call(attr(call("_fromiso", at), "toordinal")))],
                             handlers=[ast.ExceptHandler(type=N("ValueError"), name=None, body=[fail])],
                             orelse=[], finalbody=[])
            fast = if_(plain, [inline], [assign("age", call("_event_day", at)), if_(not_(N("age")), [fail])])
            branch += [assign("at_", eget("at")), fast,
                       assign("age", ast.BinOp(left=N("asof"), op=ast.Sub(), right=N("age"))),
                       if_(cmp(N("age"), ast.Lt(), C(0)), [ast.Continue()])]
            # statements shared between branches, not copied (see module())
            branch += self.weights_for(None) + self.loop_any
            if et in self.loop_by_type:
                branch += self.attr_values(et, None)
                branch += list(self.ev_derived.get(et, []))
                branch += self.weights_for(et) + self.loop_by_type[et]
            chain = [if_(cmp(N("t"), ast.Eq(), C(et)), branch, chain)]
        return [ast.For(target=St("e_"), iter=N("evs_"), body=head + chain, orelse=[])]

    # -- after the events: disqualify, criteria, scores, bands, grade, route ---------------------
    def tail(self, disq, crit_stmts, dim_parts) -> list[ast.stmt]:
        body: list[ast.stmt] = []
        ncrit = self.ncrit
        route_for = self.base.route_for
        zeros = tuple_([C(0)] * ncrit)
        falses = tuple_([F] * ncrit)
        acct_kw: list = []
        if self.account is not None:
            key, flags = self.account
            body.append(assign("ak_", key))
            acct_kw = [ast.keyword(arg="account", value=N("ak_")),
                       ast.keyword(arg="flags", value=tuple_([C(0)] * len(flags)))]
        for reason, test in disq:
            route, queue, sla, li = route_for(None, True)
            res = call("_Result", N("lid_"), ast.Dict(keys=[], values=[]), ast.Dict(keys=[], values=[]),
                       C("disqualified"), C(route), C(queue), C(sla), C(reason), zeros, zeros, falses,
                       N("num_"), C(li))
            res.keywords = list(acct_kw)
            body.append(if_(test, [ast.Return(value=res)]))

        body += crit_stmts
        # dimension scores: sum in file order, clamp, round
        score_keys, score_vals = [], []
        for dim, mx, fl, idx in dim_parts:
            # sum() adds left to right from 0, exactly as `0 + p0 + p1 + ...` does, but as one flat call:
            # a chain of 10,000 `+` nodes is 10,000 levels deep for compile(), ast.unparse and deepcopy
            total: ast.expr = call("sum", ast.Tuple(elts=[N(f"p{j}") for j in idx], ctx=ast.Load())) if idx else C(0)
            sname = f"s_{dim}"
            body.append(assign(sname, total))
            body += inline_clamp_round(sname, mx, fl)
            score_keys.append(C(dim))
            score_vals.append(N(sname))
        # bands and grade
        band_keys, band_vals, grade_parts = [], [], []
        for dim, bands in self.base.grade_blocks:
            bname = f"b_{dim}"
            if not bands or bands[-1][1] is not None:
                raise Unsupported("grade block without otherwise")
            node: list[ast.stmt] | None = None
            for name, th in reversed(bands):
                if th is None:
                    node = [assign(bname, C(name))]
                else:
                    node = [if_(cmp(N(f"s_{dim}"), ast.GtE(), C(th)), [assign(bname, C(name))], node or [])]
            body += node or []
            band_keys.append(C(dim))
            band_vals.append(N(bname))
            grade_parts.append(N(bname))
        grade: ast.expr = grade_parts[0] if grade_parts else C("")
        for gp in grade_parts[1:]:
            grade = ast.BinOp(left=grade, op=ast.Add(), right=gp)
        body.append(assign("grade", grade))
        # routes: every possible grade, looked up
        choices = [[b for b, _ in bands] for _d, bands in self.base.grade_blocks]
        combos = 1
        for ch in choices:
            combos *= len(ch)
        if combos > 4096:
            raise Unsupported("too many grades")
        keys, vals, seen = [], [], set()
        for combo in itertools.product(*choices):
            g = "".join(combo)
            if g in seen:
                continue
            seen.add(g)
            route, queue, sla, li = route_for(g, False)
            keys.append(C(g))
            vals.append(tuple_([C(route), C(queue), C(sla), C(li)]))
        routes = self.const(("routes",), lambda: ast.Dict(keys=keys, values=vals))
        body.append(ast.Assign(targets=[ast.Tuple(elts=[St("route"), St("queue"), St("sla"), St("li")], ctx=ast.Store())],
                               value=ast.Subscript(value=routes, slice=N("grade"), ctx=ast.Load())))
        res = call("_Result", N("lid_"), ast.Dict(keys=score_keys, values=score_vals),
                   ast.Dict(keys=band_keys, values=band_vals), N("grade"), N("route"), N("queue"), N("sla"), C(None),
                   tuple_([N(f"p{j}") for j in range(ncrit)]), tuple_([N(f"r{j}") for j in range(ncrit)]),
                   tuple_([N(f"k{j}") for j in range(ncrit)]), N("num_"), N("li"))
        if self.account is not None:
            # the flags of a scored lead (a disqualified one counts for none: zeros above)
            res.keywords = [ast.keyword(arg="account", value=N("ak_")),
                            ast.keyword(arg="flags", value=tuple_(self.account[1]))]
        body.append(ast.Return(value=res))
        return body


def _function(name: str, args: list[str], body: list[ast.stmt]) -> ast.FunctionDef:
    return ast.FunctionDef(name=name, args=ast.arguments(posonlyargs=[], args=[ast.arg(a) for a in args],
                                                         kwonlyargs=[], kw_defaults=[], defaults=[]),
                           body=body, decorator_list=[], returns=None, type_params=[])


def generate(checked, base=None) -> ast.Module:
    """The generated module's syntax tree. A file with runtime.backends.capability.python_limits
    raises `Unsupported` naming them."""
    from runtime.backends.capability import python_limits

    lim = python_limits(checked)
    if lim:
        raise Unsupported("; ".join(x.text(getattr(checked.file, "path", "rules")) for x in lim))
    base = base or compile_checked(checked)
    return _Gen(checked, base).module()


def python_source(checked, as_of=None) -> str:
    """The generated module as Python source text (`leadrules compile --target python`). With
    `as_of` (a date), `score`'s `asof` argument defaults to that day's ordinal."""
    mod = generate(checked)
    if as_of is not None:
        fn = next(s for s in mod.body if isinstance(s, ast.FunctionDef))
        fn.args.defaults = [C(as_of.toordinal())]
        mod.body.insert(mod.body.index(fn), ast.Expr(value=C(f"as of {as_of.isoformat()}: score(lead) uses this day")))
    header = ("# Generated by `leadrules compile --target python`; do not edit.\n"
              f"# Rule file: ruleset {_ruleset_name(checked)!r}. Run it with the leadrules package installed:\n"
              "#   score(lead: runtime.core.model.Lead, asof: int date ordinal) -> runtime.backends.closure.Result\n"
              "#   score_obj(obj: dict from a JSON line, asof, line: int, idf='id') -> Result, or None when the\n"
              "#     object is not in the plain form (runtime.io.readers then reads it, or reports a bad row)\n")
    if checked.file.first(n.Accounts) is not None:
        header += ("# This module scores each lead; the accounts block (account scores, bands, and the route lines\n"
                   "# that name an account band) is applied afterwards by runtime.backends.accounts.score_leads.\n")
    return header + ast.unparse(ast.fix_missing_locations(mod)) + "\n"


def _ruleset_name(checked) -> str:
    rs = checked.file.first(n.Ruleset)
    return rs.name if rs else "?"


def compile_fast(checked, plan=None):
    """An `Engine` whose `score` and `score_obj` are generated code; the closure engine, with its
    `limits` saying why, when runtime.backends.capability.python_limits names constructs the
    generator does not take. Same `criteria`, `dims`, `grade_blocks`, `route_lines`, `checked`,
    `explain` as `runtime.backends.closure.compile_checked`."""
    from runtime.backends.capability import python_limits

    base = compile_checked(checked, plan)
    lim = python_limits(checked)
    if lim:
        base.limits = tuple(lim)
        return base
    gen = _Gen(checked, base)
    mod = gen.module()
    where = f"<leadrules {getattr(checked.file, 'path', 'rules')}>"
    ns: dict[str, Any] = {"__name__": "leadrules_generated"}
    exec(compile(mod, where, "exec"), ns)  # our own syntax tree; rule-file text only appears as constants
    kept = {f.name: getattr(base, f.name) for f in dc_fields(Engine)}
    kept["score_obj"] = ns["score_obj"]
    kept["account_flags"] = gen.account is not None
    engine = FastEngine(**kept, score=ns["score"], generated=mod)
    made: list = []

    def score_struct(obj, asof, line):
        """Generated on first use (lint, test and explain never read JSON Lines rows), then in place."""
        if not made:
            ns2: dict[str, Any] = {"__name__": "leadrules_generated_struct"}
            exec(compile(gen.struct_module(), where, "exec"), ns2)
            made.append(ns2["score_struct"])
            engine.score_struct = made[0]
        return made[0](obj, asof, line)

    engine.score_struct = score_struct
    return engine


@dataclass
class FastEngine(Engine):
    """An Engine whose hot path, `score(lead, asof)` (and `score_obj`), is generated code."""

    score: Callable = None            # the generated score(lead, asof)
    generated: ast.Module | None = None
