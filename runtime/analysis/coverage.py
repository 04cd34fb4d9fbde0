"""Test coverage of a rule file: which criteria, tiers, bands, route lines and disqualify reasons the
file's `test` blocks exercise, and which no test does (`leadrules test --coverage`).

Coverage is counted in *goals* (docs/cli.md, "Test coverage", defines them): every criterion must fire
in some test; a `when` criterion (and a `first of` without `otherwise`) must also be seen *not* firing
for a scored lead; every tier must be the one taken, every band given, every route line taken and every
disqualify reason must disqualify some test's lead. Renderers are in runtime/report/coverage.py.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dsl import nodes as n
from dsl import printer

from runtime.analysis.testing import TestOutcome
from runtime.backends.accounts import account_model
from runtime.backends.closure import date_ordinal

FIRES, NOT_FIRES, TAKEN, GIVEN, DISQUALIFIES = "fires", "does not fire", "taken", "given", "disqualifies"


@dataclass
class Item:
    """One thing a test can exercise, with the tests that reached each of its goals."""

    kind: str          # "disqualify" | "criterion" | "tier" | "band" | "route"
    label: str         # how the report names it
    line: int
    col: int
    goals: dict[str, list[str]] = field(default_factory=dict)  # goal -> names of the tests that reached it
    dim: str | None = None
    account: bool = False

    @property
    def covered(self) -> bool:
        return all(self.goals.values())

    def missing(self) -> list[str]:
        return [g for g, tests in self.goals.items() if not tests]

    def reach(self, goal: str, test: str) -> None:
        tests = self.goals[goal]
        if test not in tests:
            tests.append(test)


@dataclass
class FileCoverage:
    file: str
    items: list[Item]
    tests: int

    @property
    def total(self) -> int:
        return sum(len(i.goals) for i in self.items)

    @property
    def covered(self) -> int:
        return sum(1 for i in self.items for tests in i.goals.values() if tests)

    @property
    def percent(self) -> float:
        return percent(self.covered, self.total)


def percent(covered: int, total: int) -> float:
    """Covered goals as a percentage, rounded down to one decimal (so 99.96% never shows as 100%)."""
    if total == 0:
        return 100.0
    return int(covered * 1000 / total) / 10


def total_percent(files: list[FileCoverage]) -> float:
    return percent(sum(f.covered for f in files), sum(f.total for f in files))


def _crit_label(dim: str, c: n.Criterion, account: bool) -> str:
    return f'{"account " if account else ""}criterion {dim} "{c.name}"'


def items_of(engine) -> tuple[list[Item], dict]:
    """Every coverage item of a compiled file, in source order, and an index to find them by."""
    rf = engine.checked.file
    items: list[Item] = []
    index: dict = {}

    def add(key, item: Item):
        items.append(item)
        index[key] = item

    for d in rf.of(n.Disqualify):
        add(("disq", d.reason), Item("disqualify", f'disqualify "{d.reason}"', d.span.line, d.span.col,
                                     {DISQUALIFIES: []}))

    def criteria(scores, account: bool):
        k = 0
        for sc in scores:
            for c in sc.criteria:
                sp = c.name_span if c.name_span.line else c.span
                goals = {FIRES: []}
                can_fail = c.kind == "when" or (c.kind == "first" and all(t.cond is not None for t in c.tiers))
                if can_fail:
                    goals[NOT_FIRES] = []
                add(("crit", account, k), Item("criterion", _crit_label(sc.dim, c, account), sp.line, sp.col, goals,
                                               sc.dim, account))
                if c.kind == "first":
                    for j, t in enumerate(c.tiers):
                        what = "otherwise" if t.cond is None else "when " + printer.cond(t.cond)
                        label = f'tier {j + 1} of "{c.name}" ({printer.points(t.points)} {what})'
                        add(("tier", account, k, j), Item("tier", label, t.span.line, t.span.col, {TAKEN: []},
                                                          sc.dim, account))
                k += 1

    def bands(grades, account: bool):
        for g in grades:
            for b in g.bands:
                add(("band", account, g.dim, b.name),
                    Item("band", f'{"account " if account else ""}band {g.dim} {b.name}', b.span.line, b.span.col,
                         {GIVEN: []}, g.dim, account))

    criteria(rf.of(n.Score), False)
    bands(rf.of(n.Grade), False)
    acc = rf.first(n.Accounts)
    if acc is not None:
        criteria(acc.scores, True)
        bands(acc.grades, True)
    route = rf.first(n.Route)
    if route is not None:
        for i, line in enumerate(route.lines):
            pats = ", ".join("disqualified" if p.kind == "disqualified" else "otherwise" if p.kind == "otherwise"
                             else p.text for p in line.patterns)
            if line.account_band is not None:
                pats = f"account {line.account_band} and {pats}"
            act = line.action.kind + (f' "{line.action.queue}"' if line.action.queue else "")
            add(("route", i), Item("route", f"route {pats} -> {act}", line.span.line, line.span.col, {TAKEN: []}))
    items.sort(key=lambda i: (i.line, i.col))
    return items, index


def coverage(file: str, engine, outcomes: list[TestOutcome]) -> FileCoverage:
    """What the tests `outcomes` (run on `engine`) exercise of the file. A failing test counts too:
    it still ran the rules (its failure is reported by the test run itself)."""
    items, index = items_of(engine)
    model = account_model(engine)
    for o in outcomes:
        r, lead, t = o.result, o.lead, o.name
        if r is None or lead is None:
            continue
        if r.route_line is not None and ("route", r.route_line) in index:
            index[("route", r.route_line)].reach(TAKEN, t)
        if r.disqualified is not None:
            index[("disq", r.disqualified)].reach(DISQUALIFIES, t)
            continue  # a disqualified lead is not scored: its criteria and bands were never looked at
        asof = date_ordinal(o.as_of)
        ctx: list = []  # the lead's context, built only if a `first of` fired (which tier?)

        def which(obj, lead=lead, asof=asof, ctx=ctx):
            if not ctx:
                ctx.append(engine.context(lead, asof))
            return obj.which(ctx[0])

        _reach(index, engine.dims, r.fired, r.bands, False, t, which)
        if model is not None:
            counts = model.flags(lead, r, asof)
            acct = model.evaluate(counts)
            _reach(index, model.dims, acct.fired, acct.bands, True, t, lambda obj, counts=counts: obj.which(counts))
    return FileCoverage(file, items, len(outcomes))


def _reach(index: dict, dims, fired, bands: dict, account: bool, t: str, which) -> None:
    """Mark what one test reached of the lead's (or, `account`, its account's) criteria: fired or
    not, the tier a `first of` took (`which(obj)`), and the bands given."""
    k = 0
    for _dim, _mx, _fl, objs in dims:
        for obj in objs:
            item = index[("crit", account, k)]
            if fired[k]:
                item.reach(FIRES, t)
            elif NOT_FIRES in item.goals:
                item.reach(NOT_FIRES, t)
            if obj.spec.kind == "first" and fired[k]:
                j = which(obj)
                if j is not None:
                    index[("tier", account, k, j)].reach(TAKEN, t)
            k += 1
    for dim, band in bands.items():
        index[("band", account, dim, band)].reach(GIVEN, t)
