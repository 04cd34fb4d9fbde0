"""The scoring plan: a checked rule file lowered once into immutable records that every backend reads.

`lower(checked)` gives a `Plan`: the dimensions with their criteria (points, cap, effective half-life,
the key a report names them by), the disqualify reasons, the grade blocks, the route table, the
account plan and the provenance of the file. `Resolver` is the one place where a value's type and a
literal's folded constant are decided (the closure engine, generated Python and SQL all ask it).
Conditions stay syntax (dsl/nodes.py): each backend compiles them its own way.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
from dataclasses import dataclass

from dsl import nodes as n
from dsl import printer

from runtime.core import kernel as K
from runtime.core.model import NUMBER, TEXT, CritSpec

__all__ = ["Resolver", "Plan", "Dimension", "Criterion", "GradeBlock", "RouteLine", "RouteTable",
           "AccountPlan", "Provenance", "lower", "rules_sha256"]

MAX_GRADES = 4096  # beyond this many possible grades, route choice is not tabulated


# ---- typing and constant folding ----------------------------------------------------------------


class Resolver:
    """A value's type and a literal's constant, as every backend sees them."""

    def __init__(self, fields: dict[str, str], events: dict[str, dict[str, str]], lists: dict[str, tuple],
                 dims=()):
        self.fields = fields
        self.events = events
        self.lists = lists
        # lead dimensions a bare name may mean (inside an account's `lead where`)
        self.dims = frozenset(dims)

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

    def const(self, lit: n.Literal):
        """A literal folded to the value it is compared as: text normalized, a date as its ordinal."""
        if lit.kind == "text":
            return K.norm(lit.value)
        if lit.kind == "date":
            return K.date_ordinal(str(lit.value))
        return lit.value

    def list_values(self, ref) -> tuple:
        """The items of a named list or a list literal, folded like constants."""
        if isinstance(ref, n.Name):
            return tuple(K.norm(x) if isinstance(x, str) else x for x in self.lists[ref.name])
        return tuple(self.const(i) for i in ref.items)


# ---- the plan -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Criterion:
    index: int                 # position among all criteria of its scope, file order
    dim: str
    name: str
    key: str                   # the name, or `dim.name` when two dimensions use the same name
    kind: str                  # "when" | "each" | "first"
    points: float
    max: float | None          # the cap (`max M`), None without one
    half_life: float | None    # effective decay for `each` (None: no decay)
    node: n.Criterion
    text: str                  # the rule as printed (reports)
    line: int

    def spec(self) -> CritSpec:
        return CritSpec(self.index, self.dim, self.name, self.key, self.kind, self.node, self.text)


@dataclass(frozen=True)
class Dimension:
    name: str
    label: str
    max: float
    floor: float
    half_life: float | None
    criteria: tuple[Criterion, ...]
    # `reset on EVENT [where COND]` lines: the event criteria count only the events after the latest
    # matching one (kernel.reset_age, kernel.reset_keeps; docs/language.md, "Resets")
    resets: tuple[n.Reset, ...] = ()


@dataclass(frozen=True)
class GradeBlock:
    dim: str
    bands: tuple[tuple[str, float | None], ...]   # (name, threshold) top-down; None: otherwise

    def band(self, score):
        return K.band(score, self.bands)


@dataclass(frozen=True)
class RouteLine:
    index: int
    patterns: tuple[tuple[str, str], ...]   # (kind, text)
    account_band: str | None
    action: str
    queue: str | None
    sla: str | None
    line: int


@dataclass(frozen=True)
class RouteTable:
    lines: tuple[RouteLine, ...]

    def choose(self, grade: str | None, disqualified: bool, account_bands=None) -> RouteLine | None:
        i = K.route_choice([(ln.patterns, ln.account_band) for ln in self.lines], grade, disqualified,
                           account_bands)
        return None if i is None else self.lines[i]

    def outcome(self, grade: str | None, disqualified: bool, account_bands=None) -> tuple:
        """(route, queue, sla, line index), all None when no line takes the lead."""
        ln = self.choose(grade, disqualified, account_bands)
        return (None, None, None, None) if ln is None else (ln.action, ln.queue, ln.sla, ln.index)


@dataclass(frozen=True)
class AccountPlan:
    key_field: str
    key_domain: bool           # the key is domain(field)
    key_text: str
    dimensions: tuple[Dimension, ...]
    grades: tuple[GradeBlock, ...]
    node: n.Accounts


class Provenance:
    """What every scored record says about the rules that produced it (docs/output.md).

    `rules_sha256` is computed on first use: it formats the file (three more parses), which `lint`,
    `test` and `explain` never print, and they start faster without it."""

    __slots__ = ("ruleset", "version", "_source", "_sha")

    def __init__(self, ruleset: str, version: object, rules_sha256: str | None = None, *,
                 source: tuple[str, str] | None = None):
        """`source` (text, path): the hash is `rules_sha256(text, path)`, computed when first read."""
        self.ruleset, self.version, self._source, self._sha = ruleset, version, source, rules_sha256

    @property
    def rules_sha256(self) -> str | None:
        if self._source is not None:
            self._sha = rules_sha256(*self._source)
            self._source = None
        return self._sha

    def _key(self):
        return (self.ruleset, self.version, self.rules_sha256)

    def __eq__(self, other):
        return isinstance(other, Provenance) and self._key() == other._key()

    def __hash__(self):
        return hash(self._key())

    def __repr__(self):
        return f"Provenance(ruleset={self.ruleset!r}, version={self.version!r}, rules_sha256={self.rules_sha256!r})"


@dataclass(frozen=True)
class Plan:
    provenance: Provenance
    fields: dict
    events: dict
    dimensions: tuple[Dimension, ...]
    disqualify: tuple[tuple[str, n.Cond, int], ...]   # (reason, condition, line)
    grades: tuple[GradeBlock, ...]
    routes: RouteTable
    accounts: AccountPlan | None
    resolver: Resolver

    @property
    def criteria(self) -> tuple[Criterion, ...]:
        return tuple(c for d in self.dimensions for c in d.criteria)

    def possible_grades(self) -> list[str] | None:
        """Every grade a lead can get, or None when there are more than MAX_GRADES."""
        choices = [[b for b, _ in g.bands] for g in self.grades]
        total = 1
        for ch in choices:
            total *= max(1, len(ch))
        if total > MAX_GRADES:
            return None
        return list(dict.fromkeys("".join(c) for c in itertools.product(*choices)))


def _dimensions(scores) -> tuple[Dimension, ...]:
    names: dict[str, int] = {}
    for sc in scores:
        for c in sc.criteria:
            names[c.name] = names.get(c.name, 0) + 1
    out, i = [], 0
    for sc in scores:
        hl = sc.half_life.days if sc.half_life else None
        crits = []
        for c in sc.criteria:
            key = c.name if names[c.name] == 1 else f"{sc.dim}.{c.name}"
            crits.append(Criterion(i, sc.dim, c.name, key, c.kind, c.points, c.max,
                                   None if (c.kind != "each" or c.no_decay) else hl, c,
                                   printer.criterion_rule(c), c.span.line))
            i += 1
        out.append(Dimension(sc.dim, sc.label, sc.max, sc.floor, hl, tuple(crits), tuple(sc.resets)))
    return tuple(out)


def _grades(blocks) -> tuple[GradeBlock, ...]:
    return tuple(GradeBlock(g.dim, tuple((b.name, b.threshold) for b in g.bands)) for g in blocks)


def canonical_text(text: str, path: str = "<string>") -> str:
    """The rule file's meaning as text: its comments and blank lines removed, then laid out by `fmt`
    (dsl/formatter.py). Two files that differ only in layout or comments give the same text (a
    string never spans lines, so dropping blank lines changes no meaning)."""
    from dsl.formatter import format_text
    from dsl.parser import parse

    lines = text.split("\n")
    for c in parse(text, path).comments:  # a comment runs to the end of its line
        ln = lines[c.line - 1]
        lines[c.line - 1] = ln[: c.col - 1].rstrip() if ln[c.col - 1:].startswith(c.text) else ln
    bare = "\n".join(ln for ln in lines if ln.strip())
    return "\n".join(ln for ln in format_text(bare, path).split("\n") if ln.strip()) + "\n"


@functools.lru_cache(maxsize=8)  # (a command may ask for one file's hash more than once)
def rules_sha256(text: str, path: str = "<string>") -> str | None:
    """SHA-256 (hex) of `canonical_text`: layout and comments do not change it, any change of
    meaning does. None when the text does not parse or format."""
    from dsl import cache
    from dsl.diagnostics import RuleError
    from dsl.formatter import FormatError

    # kept in the user cache (dsl/cache.py) by the text and the code that formats it: formatting
    # parses the file three times, ~0.1 s of every `score`
    try:
        import lark

        name = "sha-" + cache.key(text, cache.code_key("dsl", "runtime/core/plan.py", extra=(lark.__version__,)))
        hit = cache.read(name)
    except (OSError, ImportError):
        name, hit = None, None
    if hit is not None:
        got = hit.decode("ascii", "replace")
        return got if len(got) == 64 else None
    try:
        canonical = canonical_text(text, path)
    except (FormatError, RuleError):
        canonical = None
    sha = None if canonical is None else hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    if name is not None:
        cache.write(name, (sha or "-").encode("ascii"))
        cache.prune("sha-", 256)
    return sha


def lower(checked, text: str | None = None) -> Plan:
    """Lower a checked rule file without errors into its `Plan`. `text` (the file's source; by
    default the one it was parsed from) gives the provenance its `rules_sha256`."""
    rf: n.RuleFile = checked.file
    if text is None:
        text = rf.source or None
    rs = rf.first(n.Ruleset)
    prov = Provenance(rs.name if rs else "", rs.version if rs else None,
                      source=(text, getattr(rf, "path", "<string>")) if text is not None else None)
    route = rf.first(n.Route)
    lines = []
    for i, ln in enumerate(route.lines if route else ()):
        a = ln.action
        lines.append(RouteLine(i, tuple((p.kind, p.text) for p in ln.patterns), ln.account_band, a.kind, a.queue,
                               a.sla.text() if a.sla else None, ln.span.line))
    acc = rf.first(n.Accounts)
    accounts = None
    if acc is not None:
        key = acc.key
        if isinstance(key, n.Call):
            kf, kd = key.arg.name, True
        else:
            kf, kd = key.name, False
        accounts = AccountPlan(kf, kd, printer.value(key), _dimensions(acc.scores), _grades(acc.grades), acc)
    return Plan(prov, dict(checked.fields), {k: dict(v) for k, v in checked.events.items()},
                _dimensions(rf.of(n.Score)),
                tuple((d.reason, d.cond, d.span.line) for d in rf.of(n.Disqualify)),
                _grades(rf.of(n.Grade)), RouteTable(tuple(lines)), accounts,
                Resolver(checked.fields, checked.events, checked.lists))
