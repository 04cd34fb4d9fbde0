"""The typed syntax tree of a rule file.

Every node carries a `Span` (file, 1-based line and column, inclusive end) so that the checker, the
linter, the formatter and the diff can point at the source. Nodes are frozen dataclasses: plain,
cheap to build and compare (`==` ignores spans, so two files that differ only in layout compare
equal, which the formatter's tests rely on).
"""
from __future__ import annotations

import sys
from dataclasses import MISSING, FrozenInstanceError, dataclass, field, fields
from typing import Union

# ---- how a node class is made --------------------------------------------------------------------
# `@_node` makes the class `@dataclass(frozen=True, slots=True)` would (the same fields, __init__
# signature, repr, ==, hash, FrozenInstanceError, pickling, dataclasses.fields/replace/asdict) at a
# fraction of the start-up cost: dataclass compiles six small functions per class (~0.4 ms each class,
# ~20 ms for this module, paid by every `lint`/`test`); here the same functions are generated as one
# source, compiled once and kept in the user's cache (dsl/cache.py) under a hash of that source and of
# Python's version. tests/test_startup.py compares every node class with its dataclass twin.

_PENDING: list[type] = []
_object_setattr = object.__setattr__  # how a frozen node's __init__ sets its fields


def _node(cls: type) -> type:
    if not cls.__dict__.get("__doc__"):  # dataclass would spend an inspect.signature on it
        cls.__doc__ = f"{cls.__name__}({', '.join(cls.__dict__.get('__annotations__', {}))})"
    cls = dataclass(slots=True, init=False, repr=False, eq=False)(cls)  # fields and slots: nothing compiled
    _PENDING.append(cls)
    return cls


def _methods_source(cls: type) -> str:
    """The methods `dataclass(frozen=True, slots=True)` gives `cls`, as one factory function (pickling by
    the same state, a list of the field values, written out per class: a cached syntax tree loads
    faster)."""
    fs = fields(cls)
    for f in fs:
        if f.default_factory is not MISSING or not f.init:
            raise TypeError(f"{cls.__name__}.{f.name}: node fields take a plain default")
    params = ", ".join(f"{f.name}:__t_{f.name}" + ("" if f.default is MISSING else f"=__d_{f.name}") for f in fs)
    body = "".join(f"\n        _object_setattr(self, {f.name!r}, {f.name})" for f in fs) or "\n        pass"
    shown = ", ".join(f"{f.name}={{self.{f.name}!r}}" for f in fs if f.repr)
    cmp = [f.name for f in fs if f.compare]
    hashed = [f.name for f in fs if (f.compare if f.hash is None else f.hash)]
    mine = "".join(f"self.{x}," for x in cmp)
    theirs = "".join(f"other.{x}," for x in cmp)
    names = "".join(f"{f.name!r}," for f in fs)
    setstate = "".join(f"\n        _object_setattr(self, {f.name!r}, state[{i}])" for i, f in enumerate(fs)) or "\n        pass"
    locals_ = "".join(f"\n    __t_{f.name} = __t[{f.name!r}]" for f in fs) + "".join(
        f"\n    __d_{f.name} = __d[{f.name!r}]" for f in fs if f.default is not MISSING)
    return f'''
def __create_fn__(__cls, __t, __d):{locals_}
    def __init__(self, {params}) -> None:{body}
    def __repr__(self):
        return self.__class__.__qualname__ + f"({shown})"
    def __eq__(self, other):
        if other.__class__ is self.__class__:
            return ({mine}) == ({theirs})
        return NotImplemented
    def __hash__(self):
        return hash(({"".join(f"self.{x}," for x in hashed)}))
    def __setattr__(self, name, value):
        if type(self) is __cls or name in ({names}):
            raise FrozenInstanceError(f"cannot assign to field {{name!r}}")
        super(__cls, self).__setattr__(name, value)
    def __delattr__(self, name):
        if type(self) is __cls or name in ({names}):
            raise FrozenInstanceError(f"cannot delete field {{name!r}}")
        super(__cls, self).__delattr__(name)
    def __getstate__(self):
        return [{"".join(f"self.{f.name}," for f in fs)}]
    def __setstate__(self, state):{setstate}
    return __init__, __repr__, __eq__, __hash__, __setattr__, __delattr__, __getstate__, __setstate__
__node_factories.append(__create_fn__)
'''


def _compiled(src: str):
    """`src` compiled, from the user's cache when it holds this exact source for this Python."""
    import marshal

    from dsl import cache

    name = "nodes-" + cache.key(src, sys.version, _compiled.__code__.co_code) + ".code"  # (and this function)
    data = cache.read(name)
    if data is not None:
        try:
            code = marshal.loads(data)
            if type(code) is type(_compiled.__code__):
                return code
        except Exception:  # a damaged entry: compile it again
            pass
    code = compile(src, "<dsl.nodes: generated methods>", "exec", dont_inherit=True)  # no __future__ of ours
    cache.write(name, marshal.dumps(code))
    cache.prune("nodes-", 8)  # (the methods of older versions of this module)
    return code


def _finish() -> None:
    """Give every class declared with `@_node` since the last call its methods."""
    classes = list(_PENDING)
    _PENDING.clear()
    factories: list = []
    env = globals()  # the methods' globals, as dataclass's: their annotations name this module's types
    env["__node_factories"] = factories
    try:
        exec(_compiled("".join(_methods_source(c) for c in classes)), env)
    finally:
        for k in ("__node_factories", "__create_fn__"):
            env.pop(k, None)
    for cls, make in zip(classes, factories):
        fs = fields(cls)
        for fn in make(cls, {f.name: f.type for f in fs}, {f.name: f.default for f in fs if f.default is not MISSING}):
            fn.__qualname__ = f"{cls.__qualname__}.{fn.__name__}"
            setattr(cls, fn.__name__, fn)


@_node
class Span:
    """Where a node sits in its file. Lines and columns are 1-based; the end is inclusive."""

    file: str = "<string>"
    line: int = 0
    col: int = 0
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


_finish()
NOSPAN = Span()


def _span() -> Span:
    return field(default=NOSPAN, compare=False, repr=False)


# ---- values ------------------------------------------------------------------------------------


@_node
class Name:
    """A bare name: a field, an event attribute, a list, or (in accounts) a dimension."""

    name: str
    span: Span = _span()


@_node
class Literal:
    """A string, number (int or float), date (ISO text kept in `value`) or bool."""

    value: object
    kind: str  # "text" | "number" | "date" | "bool"
    span: Span = _span()


@_node
class Call:
    func: str  # "domain" | "lower" | "length"
    arg: "Value"
    span: Span = _span()


@_node
class EventFilter:
    """`EVENT [where C] [within N days [of FIELD]]`; `event` is None for any event type, "lead" in
    accounts. `anchor`: the date field a window is counted from (`within 7 days of created_at`: the
    events from that day to 7 days after it); None: the window ends at the as-of date."""

    event: str | None
    where: "Cond | None" = None
    within: "Duration | None" = None
    span: Span = _span()
    anchor: str | None = None
    anchor_span: Span = _span()


@_node
class Count:
    filter: EventFilter
    span: Span = _span()


@_node
class CountTypes:
    within: "Duration | None" = None
    span: Span = _span()


@_node
class DaysSinceLast:
    """`days since last EVENT [where C] [within N days [of F]]`: `filter` is None without `where`
    and `within` (so `days since last x` compares equal however it was built); `events()` is the
    filter either way."""

    event: str | None  # None: any event
    span: Span = _span()
    filter: "EventFilter | None" = None

    def events(self) -> "EventFilter":
        return self.filter if self.filter is not None else EventFilter(self.event, span=self.span)


@_node
class DaysSince:
    field: str
    span: Span = _span()


Value = Union[Name, Literal, Call, Count, CountTypes, DaysSinceLast, DaysSince]


@_node
class ListLit:
    items: tuple[Literal, ...]
    span: Span = _span()


ListRef = Union[ListLit, Name]


# ---- conditions --------------------------------------------------------------------------------


@_node
class Compare:
    op: str  # = != < <= > >=
    left: Value
    right: Value
    span: Span = _span()


@_node
class In:
    value: Value
    items: ListRef
    negated: bool = False
    span: Span = _span()


@_node
class TextTest:
    """contains / contains any / contains all / contains word / contains any word / starts with /
    ends with. `arg` is a Value for the single forms and a ListRef for the any/all forms."""

    op: str  # contains, contains_any, contains_all, contains_word, contains_any_word, starts_with, ends_with
    value: Value
    arg: object
    span: Span = _span()


@_node
class Matches:
    value: Value
    pattern: str
    span: Span = _span()
    pattern_span: Span = _span()


@_node
class Between:
    value: Value
    low: Value
    high: Value
    span: Span = _span()


@_node
class IsMissing:
    value: Value
    missing: bool  # True: `is missing`, False: `is present`
    span: Span = _span()


@_node
class Has:
    filter: EventFilter
    span: Span = _span()


@_node
class Not:
    cond: "Cond"
    span: Span = _span()


@_node
class BoolOp:
    op: str  # "and" | "or"
    items: tuple["Cond", ...]
    span: Span = _span()


@_node
class Paren:
    """Kept so that the formatter can print the user's parentheses back."""

    cond: "Cond"
    span: Span = _span()


Cond = Union[Compare, In, TextTest, Matches, Between, IsMissing, Has, Not, BoolOp, Paren]


# ---- declarations ------------------------------------------------------------------------------


@_node
class Duration:
    amount: float
    unit: str  # "day" | "week" | "hour"
    span: Span = _span()

    @property
    def days(self) -> float:
        return self.amount * {"day": 1, "week": 7, "hour": 1 / 24}[self.unit]

    def text(self) -> str:
        n = _num(self.amount)
        return f"{n} {self.unit}{'' if self.amount == 1 else 's'}"


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else repr(float(x))


@_node
class Ruleset:
    name: str
    version: object
    span: Span = _span()


@_node
class Owners:
    owners: tuple[str, ...]
    span: Span = _span()


@_node
class FieldDecl:
    """`name: type [from "Column"]` (a field, or an event attribute)."""

    name: str
    type: str
    span: Span = _span()
    source: str | None = None      # the column (or JSON key) it is read from; None: its own name


@_node
class ColumnDecl:
    """`id from "Record ID"` in fields; `lead_id|type|at from "..."` in events: the column that
    holds the lead id (events: the event's lead id, its type, its time)."""

    role: str
    column: str
    span: Span = _span()


@_node
class Fields:
    fields: tuple[FieldDecl, ...]
    span: Span = _span()
    columns: tuple[ColumnDecl, ...] = ()


@_node
class EventDecl:
    name: str
    attrs: tuple[FieldDecl, ...]
    span: Span = _span()
    source: str | None = None      # the type as the file writes it ("Form Submission"); None: `name`


EVENT_COLUMNS = ("lead_id", "type", "at")  # the roles a ColumnDecl may name in `events { }`


@_node
class Events:
    events: tuple[EventDecl, ...]
    span: Span = _span()
    columns: tuple[ColumnDecl, ...] = ()


@_node
class ListDecl:
    name: str
    items: ListLit
    span: Span = _span()


@_node
class Disqualify:
    reason: str
    cond: Cond
    span: Span = _span()


@_node
class Tier:
    points: float
    cond: Cond | None  # None: `otherwise`
    span: Span = _span()


@_node
class Criterion:
    """One scoring line. kind: "when" (cond), "each" (filter, no_decay), "first" (tiers)."""

    name: str
    kind: str
    points: float = 0
    cond: Cond | None = None
    filter: EventFilter | None = None
    no_decay: bool = False
    tiers: tuple[Tier, ...] = ()
    max: float | None = None
    span: Span = _span()
    name_span: Span = _span()
    max_span: Span = _span()
    per: str | None = None       # `+P per ATTR each EVENT`: P for every unit of the event's attribute
    per_span: Span = _span()
    # `+P per count EVENT [where C] [within N days]`: kind "each" with no_decay (P for every event
    # the count counts); the flag keeps the way it was written, for the printer and explain
    per_count: bool = False


@_node
class Reset:
    """`reset on EVENT [where COND]` in a score block: the dimension's event criteria count only the
    events after the latest matching event on or before the as-of date (docs/language.md, "Resets")."""

    event: str
    where: "Cond | None" = None
    span: Span = _span()
    event_span: Span = _span()


@_node
class Score:
    dim: str
    label: str
    max: float
    floor: float
    half_life: Duration | None
    criteria: tuple[Criterion, ...]
    span: Span = _span()
    dim_span: Span = _span()
    resets: tuple[Reset, ...] = ()   # `reset on …` lines, in file order


@_node
class Band:
    name: str
    threshold: float | None  # None: `otherwise`
    span: Span = _span()


@_node
class Grade:
    dim: str
    bands: tuple[Band, ...]
    span: Span = _span()
    dim_span: Span = _span()


@_node
class Accounts:
    key: Value
    scores: tuple[Score, ...]
    grades: tuple[Grade, ...]
    span: Span = _span()


@_node
class Pattern:
    kind: str  # "grade" | "disqualified" | "otherwise"
    text: str = ""
    span: Span = _span()


def grade_matches(pattern: str, grade: str) -> bool:
    """A grade pattern (route lines, test expectations): `*` stands for any run of characters
    (and then `?` for any one; `[` is itself); without `*` the grade must be equal. Defined
    here, in the front end, because the checker needs it (is a pattern reachable?); the runtime
    kernel (runtime/core/kernel.py) exports it."""
    if "*" not in pattern:
        return grade == pattern
    from fnmatch import fnmatchcase

    return fnmatchcase(grade, pattern.replace("[", "[[]"))


@_node
class Action:
    kind: str  # "sales" | "qualify" | "nurture" | "suppress"
    queue: str | None = None
    sla: Duration | None = None
    span: Span = _span()


@_node
class RouteLine:
    patterns: tuple[Pattern, ...]
    action: Action
    account_band: str | None = None
    span: Span = _span()


@_node
class Route:
    lines: tuple[RouteLine, ...]
    span: Span = _span()


@_node
class TestEvent:
    type: str
    attrs: tuple[tuple[str, object], ...]
    at: str | None = None          # ISO date/time text
    days_ago: float | None = None  # `N days ago` (weeks converted)
    ago_text: Duration | None = None
    span: Span = _span()


@_node
class Expect:
    """kind: grade | route | disqualified | not_disqualified | fires | not_fires | account |
    score (op, dim, value) | score_between (dim, low, high)."""

    kind: str
    arg: object = None
    queue: str | None = None
    op: str | None = None
    low: float | None = None
    high: float | None = None
    span: Span = _span()
    arg_span: Span = _span()


@_node
class Test:
    name: str
    as_of: str | None
    lead: tuple[tuple[str, object], ...]
    events: tuple[TestEvent, ...]
    expects: tuple[Expect, ...]
    span: Span = _span()
    lead_span: Span = _span()


@_node
class ShareExpect:
    subject: str  # "route" | "grade" | "disqualified" | "account"
    arg: str | None
    queue: str | None
    low: float | None   # percent
    high: float | None  # percent
    bound: str          # "between" | "at_most" | "at_least"
    span: Span = _span()


@_node
class FlowExpect:
    """`expect new leads in route ACTION ["QUEUE"] per day BOUND`: checked by `simulate --from/--to` on
    the leads entering that route (queue) per day, in every period of the range."""

    subject: str        # "route"
    arg: str            # the route action
    queue: str | None
    low: float | None   # leads per day
    high: float | None
    bound: str          # "between" | "at_most" | "at_least"
    span: Span = _span()


@_node
class Simulation:
    name: str
    leads: str | None
    events: str | None
    as_of: str | None
    expects: tuple[ShareExpect, ...]
    span: Span = _span()
    flows: tuple[FlowExpect, ...] = ()   # over-time guardrails (simulate --from/--to)


Item = Union[Ruleset, Owners, Fields, Events, ListDecl, Disqualify, Score, Grade, Accounts, Route,
             Test, Simulation]


@_node
class Comment:
    text: str   # including the leading '#'
    line: int
    col: int


@_node
class RuleFile:
    """A parsed file: its items in source order, and every comment (for the formatter)."""

    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
    path: str = field(default="<string>", compare=False)
    source: str = field(default="", compare=False, repr=False)

    def of(self, kind: type) -> list:
        return [i for i in self.items if isinstance(i, kind)]

    def first(self, kind: type):
        for i in self.items:
            if isinstance(i, kind):
                return i
        return None


_finish()


def walk(node):
    """Every syntax node under `node` (itself included): conditions, values, event filters. Generic
    over the dataclass fields, so a new kind of node is walked without a change here."""
    from dataclasses import fields as _fields

    stack = [node]
    while stack:
        x = stack.pop()
        if isinstance(x, tuple):
            stack.extend(x)
            continue
        if x is None or not hasattr(x, "__dataclass_fields__") or isinstance(x, Span):
            continue
        yield x
        for f in _fields(x):
            if not f.name.endswith("span"):
                stack.append(getattr(x, f.name))


def counts_events(s: Score) -> bool:
    """Does any criterion of the dimension count events (`each`, `has`, `count`, `count event types`)?
    These are what a `reset on` applies to; `days since last` is not (docs/language.md, "Resets")."""
    for k in s.criteria:
        if k.kind == "each":
            return True
        roots = [k.cond] if k.kind == "when" else [t.cond for t in k.tiers]
        if any(isinstance(x, (Has, Count, CountTypes)) for r in roots for x in walk(r)):
            return True
    return False
