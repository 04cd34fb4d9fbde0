"""Plain runtime records shared by readers, the engine and the reports.

These sit on the hot path, so they are slotted dataclasses, not pydantic models. A `Schema` is the
part of a rule file a reader needs: declared field types and event attribute types.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dsl import nodes as n

from runtime.core.kernel import round2

# Field and attribute type names, exactly as written in a rule file.
TEXT, NUMBER, DATE, BOOL, TEXT_LIST = "text", "number", "date", "bool", "text list"
TYPES = (TEXT, NUMBER, DATE, BOOL, TEXT_LIST)


@dataclass(frozen=True, slots=True)
class Schema:
    fields: dict[str, str]                 # field name -> type name
    events: dict[str, dict[str, str]]      # event type -> {attribute -> type name}
    id_field: str = "id"                   # the column that holds the lead id
    # where the input's columns come from (`from "Column"` in the rule file; docs/input.md): only
    # what the rule file says; anything else is read from the column with its own name
    sources: dict[str, str] = field(default_factory=dict)              # field -> column
    event_columns: dict[str, str] = field(default_factory=dict)        # lead_id|type|at -> column
    event_sources: dict[str, str] = field(default_factory=dict)        # event -> its type as written
    attr_sources: dict[str, dict[str, str]] = field(default_factory=dict)  # event -> attribute -> column
    strict_events: bool = False            # an event of an undeclared type is a bad row (else ignored)


@dataclass(slots=True)
class Event:
    type: str
    day: int                 # proleptic ordinal (date.toordinal()) of the event's UTC date
    attrs: dict[str, Any]    # declared attributes, coerced; absent ones are simply not there
    at: str = ""             # the time stamp as read, for reports


@dataclass(slots=True)
class Lead:
    id: str
    fields: dict[str, Any]   # declared fields, coerced (text: str, number: int|float, date: ordinal
                             # int, bool: bool, text list: tuple[str, ...]); missing -> absent or None
    events: list[Event] = field(default_factory=list)
    line: int = 0            # 1-based line (JSONL) or row (CSV, header excluded) in the input
    numbered: bool = False   # True when the input had no id and `id` is the position


@dataclass(slots=True)
class BadRow:
    line: int
    reason: str
    raw: str                 # the whole row as read (a JSONL line, or a CSV row re-encoded)
    source: str = ""         # file name
    column: int | None = None  # JSON Lines: the 1-based column of the value (or syntax error) at fault


@dataclass
class CritSpec:
    index: int
    dim: str
    name: str
    key: str
    kind: str
    node: n.Criterion
    text: str


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
    # set by runtime/backends/accounts.py when the file has an accounts block (else None: keys left out)
    account: str | None = None          # the account key; None for a lead that is its own account
    account_scores: dict | None = None
    account_bands: dict | None = None
    # the record's `reasons` when the engine computed them (the SQL query); else from `points`
    reasons: str | None = None

    def total(self) -> float:
        return round2(sum(self.scores.values()))

    def record(self, criteria: list[CritSpec] | None = None) -> dict:
        """The JSON shape of docs/cli.md's `score` output."""
        d = {"id": self.id, "scores": self.scores, "bands": self.bands, "grade": self.grade,
             "route": self.route, "queue": self.queue, "sla": self.sla, "disqualified": self.disqualified}
        if self.account_scores is not None:
            d["account"] = self.account
            d["account_scores"] = self.account_scores
            d["account_bands"] = self.account_bands
        if criteria is not None:
            d["criteria"] = {c.key: round2(p) for c, p, f in zip(criteria, self.points, self.fired) if f}
        return d
