"""The typed syntax tree of a rule file.

Every node carries a `Span` (file, 1-based line and column, inclusive end) so that the checker, the
linter, the formatter and the diff can point at the source. Nodes are frozen dataclasses: plain,
cheap to build and compare (`==` ignores spans, so two files that differ only in layout compare
equal, which the formatter's tests rely on).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union


@dataclass(frozen=True, slots=True)
class Span:
    """Where a node sits in its file. Lines and columns are 1-based; the end is inclusive."""

    file: str = "<string>"
    line: int = 0
    col: int = 0
    end_line: int = 0
    end_col: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


NOSPAN = Span()


def _span() -> Span:
    return field(default=NOSPAN, compare=False, repr=False)


# ---- values ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    """A bare name: a field, an event attribute, a list, or (in accounts) a dimension."""

    name: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, number (int or float), date (ISO text kept in `value`) or bool."""

    value: object
    kind: str  # "text" | "number" | "date" | "bool"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Call:
    func: str  # "domain" | "lower" | "length"
    arg: "Value"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Count:
    filter: EventFilter
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class CountTypes:
    within: "Duration | None" = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class DaysSinceLast:
    """`days since last EVENT [where C] [within N days [of F]]`: `filter` is None without `where`
    and `within` (so `days since last x` compares equal however it was built); `events()` is the
    filter either way."""

    event: str | None  # None: any event
    span: Span = _span()
    filter: "EventFilter | None" = None

    def events(self) -> "EventFilter":
        return self.filter if self.filter is not None else EventFilter(self.event, span=self.span)


@dataclass(frozen=True, slots=True)
class DaysSince:
    field: str
    span: Span = _span()


Value = Union[Name, Literal, Call, Count, CountTypes, DaysSinceLast, DaysSince]


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[Literal, ...]
    span: Span = _span()


ListRef = Union[ListLit, Name]


# ---- conditions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # = != < <= > >=
    left: Value
    right: Value
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class In:
    value: Value
    items: ListRef
    negated: bool = False
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TextTest:
    """contains / contains any / contains all / contains word / contains any word / starts with /
    ends with. `arg` is a Value for the single forms and a ListRef for the any/all forms."""

    op: str  # contains, contains_any, contains_all, contains_word, contains_any_word, starts_with, ends_with
    value: Value
    arg: object
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Matches:
    value: Value
    pattern: str
    span: Span = _span()
    pattern_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Between:
    value: Value
    low: Value
    high: Value
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class IsMissing:
    value: Value
    missing: bool  # True: `is missing`, False: `is present`
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Has:
    filter: EventFilter
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Not:
    cond: "Cond"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    items: tuple["Cond", ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Paren:
    """Kept so that the formatter can print the user's parentheses back."""

    cond: "Cond"
    span: Span = _span()


Cond = Union[Compare, In, TextTest, Matches, Between, IsMissing, Has, Not, BoolOp, Paren]


# ---- declarations ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Ruleset:
    name: str
    version: object
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Owners:
    owners: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class FieldDecl:
    """`name: type [from "Column"]` (a field, or an event attribute)."""

    name: str
    type: str
    span: Span = _span()
    source: str | None = None      # the column (or JSON key) it is read from; None: its own name


@dataclass(frozen=True, slots=True)
class ColumnDecl:
    """`id from "Record ID"` in fields; `lead_id|type|at from "..."` in events: the column that
    holds the lead id (events: the event's lead id, its type, its time)."""

    role: str
    column: str
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Fields:
    fields: tuple[FieldDecl, ...]
    span: Span = _span()
    columns: tuple[ColumnDecl, ...] = ()


@dataclass(frozen=True, slots=True)
class EventDecl:
    name: str
    attrs: tuple[FieldDecl, ...]
    span: Span = _span()
    source: str | None = None      # the type as the file writes it ("Form Submission"); None: `name`


EVENT_COLUMNS = ("lead_id", "type", "at")  # the roles a ColumnDecl may name in `events { }`


@dataclass(frozen=True, slots=True)
class Events:
    events: tuple[EventDecl, ...]
    span: Span = _span()
    columns: tuple[ColumnDecl, ...] = ()


@dataclass(frozen=True, slots=True)
class ListDecl:
    name: str
    items: ListLit
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Disqualify:
    reason: str
    cond: Cond
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Tier:
    points: float
    cond: Cond | None  # None: `otherwise`
    span: Span = _span()


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Reset:
    """`reset on EVENT [where COND]` in a score block: the dimension's event criteria count only the
    events after the latest matching event on or before the as-of date (docs/language.md, "Resets")."""

    event: str
    where: "Cond | None" = None
    span: Span = _span()
    event_span: Span = _span()


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Band:
    name: str
    threshold: float | None  # None: `otherwise`
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Grade:
    dim: str
    bands: tuple[Band, ...]
    span: Span = _span()
    dim_span: Span = _span()


@dataclass(frozen=True, slots=True)
class Accounts:
    key: Value
    scores: tuple[Score, ...]
    grades: tuple[Grade, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Action:
    kind: str  # "sales" | "qualify" | "nurture" | "suppress"
    queue: str | None = None
    sla: Duration | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class RouteLine:
    patterns: tuple[Pattern, ...]
    action: Action
    account_band: str | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class Route:
    lines: tuple[RouteLine, ...]
    span: Span = _span()


@dataclass(frozen=True, slots=True)
class TestEvent:
    type: str
    attrs: tuple[tuple[str, object], ...]
    at: str | None = None          # ISO date/time text
    days_ago: float | None = None  # `N days ago` (weeks converted)
    ago_text: Duration | None = None
    span: Span = _span()


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Test:
    name: str
    as_of: str | None
    lead: tuple[tuple[str, object], ...]
    events: tuple[TestEvent, ...]
    expects: tuple[Expect, ...]
    span: Span = _span()
    lead_span: Span = _span()


@dataclass(frozen=True, slots=True)
class ShareExpect:
    subject: str  # "route" | "grade" | "disqualified" | "account"
    arg: str | None
    queue: str | None
    low: float | None   # percent
    high: float | None  # percent
    bound: str          # "between" | "at_most" | "at_least"
    span: Span = _span()


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
class Comment:
    text: str   # including the leading '#'
    line: int
    col: int


@dataclass(frozen=True, slots=True)
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
