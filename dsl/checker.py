"""Names and types: a parsed rule file in, every finding out.

`check(rf)` resolves every name (fields, events, attributes, lists, dimensions, bands, criteria,
reasons) and type in a `RuleFile` and returns a `Checked`: the file, its diagnostics (LR2xx names and
types, LR3xx logic, LR4xx tests and style) and the symbol tables the compilers use. `check_text` does
the same from text and never raises: a syntax error comes back as an LR1xx diagnostic.

The checker reports *all* problems it can find in one pass, each with a span and a hint, so a user
fixes a file in one round instead of one error at a time. Lint findings that need a finer analysis
(reachability, shadowing of disqualify reasons, decay windows) live in `dsl/lint.py`.
"""
from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass, field

from dsl import nodes as n
from dsl.diagnostics import Diagnostic, RuleError, diag, did_you_mean, sort_key
from dsl.regex_safety import catastrophic

TEXT, NUMBER, DATE, BOOL, TEXT_LIST = "text", "number", "date", "bool", "text list"
ANY = "any"  # the type of a name we could not resolve (already reported): matches everything

# The order docs/language.md lists the sections in (LR406 warns when a file departs from it).
SECTION_ORDER = [n.Ruleset, n.Owners, n.Fields, n.Events, n.ListDecl, n.Disqualify, n.Score, n.Grade,
                 n.Accounts, n.Route, n.Test, n.Simulation]
SECTION_WORDS = {n.Ruleset: "ruleset", n.Owners: "owners", n.Fields: "fields", n.Events: "events",
                 n.ListDecl: "list", n.Disqualify: "disqualify", n.Score: "score", n.Grade: "grade",
                 n.Accounts: "accounts", n.Route: "route", n.Test: "test", n.Simulation: "simulation"}

# Combining too many graded dimensions would make the set of grades explode; past this we stop
# enumerating and match patterns per dimension instead.
_MAX_GRADES = 20000


@dataclass
class Checked:
    """A checked file and its symbol tables. `ok` is False when any diagnostic is an error."""

    file: n.RuleFile
    diagnostics: list[Diagnostic] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    events: dict[str, dict[str, str]] = field(default_factory=dict)
    lists: dict[str, tuple] = field(default_factory=dict)
    list_types: dict[str, str] = field(default_factory=dict)
    dims: dict[str, n.Score] = field(default_factory=dict)        # lead dimensions, in file order
    graded: list[str] = field(default_factory=list)               # dimensions with a grade block, in order
    bands: dict[str, list[str]] = field(default_factory=dict)     # dim -> band names, top-down
    grades: list[str] = field(default_factory=list)               # every possible grade
    reasons: list[str] = field(default_factory=list)              # disqualify reasons, in order
    criteria: dict[str, list[str]] = field(default_factory=dict)  # dim -> criterion names
    account_dims: dict[str, n.Score] = field(default_factory=dict)
    account_bands: dict[str, list[str]] = field(default_factory=dict)
    routes: set[tuple[str, str | None]] = field(default_factory=set)  # (action, queue) pairs
    # where the input's columns come from (`from "Column"`; docs/input.md): only what the file says
    sources: dict[str, str] = field(default_factory=dict)             # field -> column
    id_column: str | None = None                                      # `id from "Record ID"`
    event_columns: dict[str, str] = field(default_factory=dict)       # lead_id|type|at -> column
    event_sources: dict[str, str] = field(default_factory=dict)       # event -> its type as written
    attr_sources: dict[str, dict[str, str]] = field(default_factory=dict)  # event -> attribute -> column

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    def raise_for_errors(self) -> None:
        if not self.ok:
            raise RuleError(self.errors)

    @property
    def criterion_names(self) -> set[str]:
        out: set[str] = set()
        for dim, names in self.criteria.items():
            out.update(names)
            out.update(f"{dim}.{c}" for c in names)
        return out


def _type_word(t: str) -> str:
    return {TEXT: "text", NUMBER: "a number", DATE: "a date", BOOL: "true/false",
            TEXT_LIST: "a text list"}.get(t, t)


class _Checker:
    def __init__(self, rf: n.RuleFile):
        self.rf = rf
        self.out: list[Diagnostic] = []
        self.c = Checked(rf)
        self.used_lists: set[str] = set()
        self.in_accounts = False

    def add(self, code: str, message: str, span: n.Span | None, hint: str | None = None) -> None:
        self.out.append(diag(code, message, span, hint, file=self.rf.path if not (span and span.line) else None))

    def warn(self, code: str, message: str, span: n.Span | None, hint: str | None = None) -> None:
        self.out.append(diag(code, message, span, hint, severity="warning",
                             file=self.rf.path if not (span and span.line) else None))

    # ---- the file -------------------------------------------------------------------------------
    def run(self) -> Checked:
        rf, c = self.rf, self.c
        self.structure()
        for f in rf.of(n.Fields):
            self.declare_fields(f)
        for e in rf.of(n.Events):
            self.declare_events(e)
        for l in rf.of(n.ListDecl):
            self.declare_list(l)
        for d in rf.of(n.Disqualify):
            self.cond(d.cond, None)
            if d.reason in c.reasons:
                self.add("LR208", f'disqualify reason "{d.reason}" is given twice', d.span,
                         "give each reason its own text, or join the conditions with `or`")
            else:
                c.reasons.append(d.reason)
        for s in rf.of(n.Score):
            self.score(s, c.dims, account=False)
        for s in rf.of(n.Score):
            c.criteria[s.dim] = [k.name for k in s.criteria]
        self.grades(rf.of(n.Grade), c.dims, c.bands, graded=c.graded)
        self.possible_grades()
        for a in rf.of(n.Accounts):
            self.accounts(a)
        for r in rf.of(n.Route):
            self.route(r)
        tests = rf.of(n.Test)
        seen: set[str] = set()
        for t in tests:
            if t.name in seen:
                self.add("LR408", f'two tests are named "{t.name}"', t.span, "give each test its own name")
            seen.add(t.name)
            self.test(t)
        sims: set[str] = set()
        for s in rf.of(n.Simulation):
            if s.name in sims:
                self.add("LR208", f'two simulations are named "{s.name}"', s.span, "give each its own name")
            sims.add(s.name)
            self.simulation(s)
        for name in c.lists:
            if name not in self.used_lists:
                decl = next(l for l in rf.of(n.ListDecl) if l.name == name)
                self.add("LR309", f'list "{name}" is never used', decl.span,
                         "delete it, or use it in a condition (`x in " + name + "`)")
        if not tests and rf.first(n.Ruleset) is not None:
            self.add("LR405", "this ruleset has no tests", rf.first(n.Ruleset).span,
                     'add a `test "…" { lead { … } expect grade … }` block that tells what should happen')
        self.out.sort(key=sort_key)
        c.diagnostics = self.out
        return c

    def structure(self) -> None:
        rf = self.rf
        ruleset = rf.of(n.Ruleset)
        if not ruleset:
            self.add("LR209", "the file has no `ruleset` line", n.Span(rf.path, 1, 1, 1, 1),
                     'start the file with `ruleset "NAME" version 1`')
        elif rf.items and not isinstance(rf.items[0], n.Ruleset):
            self.add("LR406", "`ruleset` should be the first section of the file", ruleset[0].span,
                     "move the `ruleset` line to the top")
        elif not isinstance(ruleset[0].version, int):
            self.add("LR104", f"version {ruleset[0].version} is not a whole number", ruleset[0].span,
                     "versions are whole numbers: `version 4`")
        if not rf.of(n.Fields):
            self.add("LR209", "the file has no `fields { … }` section", n.Span(rf.path, 1, 1, 1, 1),
                     "declare the lead's attributes: `fields { email: text  company_size: number }`")
        for kind in (n.Ruleset, n.Owners, n.Fields, n.Events, n.Accounts, n.Route):
            items = rf.of(kind)
            for extra in items[1:]:
                self.add("LR210", f"a second `{SECTION_WORDS[kind]}` section", extra.span,
                         f"a file has one `{SECTION_WORDS[kind]}` section: merge this one into the first "
                         f"(line {items[0].span.line})")
        # section order: warn once, at the first item that comes before a section it should follow
        rank = {k: i for i, k in enumerate(SECTION_ORDER)}
        highest = -1
        highest_item = None
        for item in rf.items:
            r = rank.get(type(item), 0)
            if r < highest and not isinstance(item, n.Ruleset):
                self.add("LR406", f"`{SECTION_WORDS[type(item)]}` comes after "
                         f"`{SECTION_WORDS[type(highest_item)]}`", item.span,
                         "sections read best in the order ruleset, owners, fields, events, list, disqualify, "
                         "score, grade, accounts, route, test, simulation (`leadrules fmt` reorders them)")
                break
            if r > highest:
                highest, highest_item = r, item

    # ---- declarations ---------------------------------------------------------------------------
    def declare_fields(self, f: n.Fields) -> None:
        for d in f.fields:
            if d.name in self.c.fields:
                self.add("LR208", f'field "{d.name}" is declared twice', d.span, "delete one of the two lines")
            else:
                self.c.fields[d.name] = d.type
                if d.source is not None and self.column_text(d.source, d.span):
                    self.c.sources[d.name] = d.source
        for col in f.columns:
            if col.role != "id":
                self.add("LR215", f'`{col.role} from "{col.column}"`: a field needs a type', col.span,
                         f'write `{col.role}: text from "{col.column}"` (or `id from "..."` for the lead id)')
            elif self.c.id_column is not None:
                self.add("LR215", "the lead id's column is given twice", col.span, "keep one `id from` line")
            elif self.column_text(col.column, col.span):
                self.c.id_column = col.column

    def column_text(self, text: str, span: n.Span) -> bool:
        """A `from "..."` column name must name something: not empty, no line break."""
        if text.strip() and "\n" not in text:
            return True
        self.add("LR215", f'`from "{text}"` names no column', span,
                 'write the column exactly as the file\'s header (or JSON key) spells it, e.g. from "Job Title"')
        return False

    def declare_events(self, e: n.Events) -> None:
        for d in e.events:
            if d.name in self.c.events:
                self.add("LR208", f'event "{d.name}" is declared twice', d.span, "delete one of the two lines")
                continue
            attrs: dict[str, str] = {}
            for a in d.attrs:
                if a.name in attrs:
                    self.add("LR208", f'event "{d.name}" has attribute "{a.name}" twice', a.span,
                             "delete one of them")
                elif a.name == "at":
                    self.add("LR208", '"at" is every event\'s time and cannot be an attribute', a.span,
                             "rename the attribute")
                else:
                    attrs[a.name] = a.type
                    if a.source is not None and self.column_text(a.source, a.span):
                        self.c.attr_sources.setdefault(d.name, {})[a.name] = a.source
            self.c.events[d.name] = attrs
            if d.source is not None and self.column_text(d.source, d.span):
                self.c.event_sources[d.name] = d.source
        written: dict[str, str] = {}  # an event type as the file writes it -> the declared event
        for name in self.c.events:
            text = self.c.event_sources.get(name, name).strip()
            if text in written:
                decl = next(d for d in e.events if d.name == name)
                self.add("LR215", f'events "{written[text]}" and "{name}" would both be read from type "{text}"',
                         decl.span, "give each event its own `from \"...\"` text")
            else:
                written[text] = name
        for col in e.columns:
            if col.role in self.c.event_columns:
                self.add("LR215", f'the events\' "{col.role}" column is given twice', col.span,
                         f"keep one `{col.role} from` line")
            elif self.column_text(col.column, col.span):
                self.c.event_columns[col.role] = col.column

    def declare_list(self, l: n.ListDecl) -> None:
        if l.name in self.c.lists:
            self.add("LR208", f'list "{l.name}" is declared twice', l.span, "merge the two lists")
            return
        if l.name in self.c.fields:
            self.add("LR208", f'list "{l.name}" has the name of a field', l.span,
                     "rename the list so `x in NAME` is not ambiguous")
        kinds = {i.kind for i in l.items.items}
        if len(kinds) > 1 or kinds - {TEXT, NUMBER}:
            self.add("LR205", f'list "{l.name}" mixes kinds of values', l.items.span,
                     "a list holds only texts (quoted) or only numbers")
        self.c.lists[l.name] = tuple(i.value for i in l.items.items)
        self.c.list_types[l.name] = NUMBER if kinds == {NUMBER} else TEXT

    # ---- scores ---------------------------------------------------------------------------------
    def score(self, s: n.Score, dims: dict[str, n.Score], *, account: bool) -> None:
        where = "account dimension" if account else "dimension"
        if account and s.dim in self.c.dims:
            self.add("LR208", f'account dimension "{s.dim}" has the name of a lead dimension', s.dim_span or s.span,
                     f"rename it: inside `lead where`, {s.dim} means the lead's own {s.dim} score")
        elif s.dim in dims:
            self.add("LR208", f'{where} "{s.dim}" is declared twice', s.dim_span or s.span,
                     "give each dimension its own name")
        else:
            dims[s.dim] = s
        if account and s.half_life is not None:
            self.add("LR214", "an account dimension has no events to decay", s.half_life.span,
                     "delete the `decay` line; to favour recent activity, ask about the leads' events: "
                     "`has lead where has form_submit within 30 days`")
        if s.dim == "total":
            self.add("LR208", 'a dimension cannot be named "total"', s.dim_span or s.span,
                     "`expect total …` in a test means the sum of every dimension: rename this one")
        if s.max <= s.floor:
            self.add("LR311", f"{where} {s.dim}: max {_n(s.max)} is not above its floor {_n(s.floor)}", s.span,
                     "a dimension runs from its floor (default 0) up to its max: `max 100`")
        if s.half_life is not None:
            self.duration_days(s.half_life, "a decay half-life")
            if s.half_life.days <= 0:
                self.add("LR205", "a decay half-life must be more than zero days", s.half_life.span,
                         "write e.g. `decay half-life 30 days`, or leave decay out")
        for r in s.resets:
            self.reset(r, account)
        names: dict[str, n.Criterion] = {}
        for k in s.criteria:
            if k.name in names:
                self.add("LR206", f'criterion "{k.name}" appears twice in {s.dim}', k.name_span or k.span,
                         f"rename one of them (the first is on line {names[k.name].span.line})")
            else:
                names[k.name] = k
            self.criterion(k, s, account)

    def reset(self, r: n.Reset, account: bool) -> None:
        """`reset on EVENT [where C]`: a declared event; C is about that event and the lead's fields."""
        if account:
            self.add("LR214", "an account dimension has no events, so it has nothing to reset on", r.span,
                     "put the `reset on …` line in the lead dimension whose events it should void; account "
                     "dimensions count leads, and a lead's scores already respect its resets")
            return
        if r.event not in self.c.events:
            self.add("LR202", f'unknown event "{r.event}"', r.event_span or r.span,
                     did_you_mean(r.event, self.c.events) or
                     ("events: " + ", ".join(self.c.events) if self.c.events else "declare it in `events { … }`"))
            if r.where is not None:
                self.cond(r.where, "?")
            return
        if r.where is None:
            return
        for x in n.walk(r.where):
            if isinstance(x, (n.Has, n.Count, n.CountTypes, n.DaysSinceLast)):
                self.add("LR213", f"a reset's condition is about the {r.event} event itself, not the lead's other "
                         f"events: `{self.describe_node(x)}` cannot be used here", x.span,
                         f"test {r.event}'s attributes and the lead's fields (`reset on {r.event} where reason = "
                         '"no budget"`)')
                return
        self.cond(r.where, r.event)

    def describe_node(self, x) -> str:
        from dsl import printer

        try:
            return printer.cond(x) if isinstance(x, n.Has) else printer.value(x)
        except Exception:  # pragma: no cover - printing is best effort in messages
            return "this"

    def criterion(self, k: n.Criterion, s: n.Score, account: bool) -> None:
        if k.kind in ("when", "first") and k.max is not None:
            self.add("LR303", f'"{k.name}": `max` on a `{k.kind}` criterion means nothing', k.max_span or k.span,
                     "a `when` or `first of` criterion gives its points once; delete `max "
                     f"{_n(k.max)}` (caps are for `each` criteria)")
        if k.max is not None and k.max <= 0:
            self.add("LR205", f'"{k.name}": a cap is a positive size (`max {_n(abs(k.max) or 10)}`)',
                     k.max_span or k.span, "a cap is a magnitude: for negative points `max 20` means at least -20")
        if k.kind == "when":
            self.cond(k.cond, None)
            biggest = abs(k.points)
        elif k.kind == "first":
            seen_otherwise = False
            for t in k.tiers:
                if seen_otherwise:
                    self.add("LR313", f'"{k.name}": a tier after `otherwise` can never be reached', t.span,
                             "move the `otherwise` tier to the end")
                if t.cond is None:
                    seen_otherwise = True
                else:
                    self.cond(t.cond, None)
            biggest = max((abs(t.points) for t in k.tiers), default=0)
        else:
            f = k.filter
            how = "per count" if k.per_count else "each"
            if f.event == "event" and "event" not in self.c.events:
                # `count event` (a condition) means any event type, but points for each event need one type
                self.add("LR213", f"`{how} event` needs an event type: name the events to count", f.span,
                         f"e.g. `{how} " + (next(iter(self.c.events), "web_visit")) + " within 30 days`; "
                         "for any type, tiers on `count event within N days`")
            elif f.event == "lead":
                if not self.in_accounts:
                    self.add("LR213", f"`{how} lead` only makes sense inside an `accounts` block", f.span,
                             f"use `{how} EVENT` to count a lead's own events")
                else:
                    self.lead_filter(f)
            elif self.in_accounts is True:
                self.add("LR214", f"`{how} {f.event or 'event'}` counts one lead's events; an account criterion "
                         "counts its leads", f.span,
                         f"use `each lead where has {f.event or 'event'}` (or `count lead where …`)")
            else:
                self.event_filter(f)
            if k.per is not None:
                self.per_attr(k)
            if k.no_decay and s.half_life is None:
                pass  # harmless: there is no decay to turn off
            biggest = k.max if k.max is not None else abs(k.points)
        if biggest > s.max and k.points > 0:
            self.add("LR307", f'"{k.name}" can give {_n(biggest)} points but {s.dim} stops at {_n(s.max)}',
                     k.span, f"lower the points, or raise the dimension's max above {_n(s.max)}")

    # ---- grades ---------------------------------------------------------------------------------
    def grades(self, blocks, dims, bands_out, graded=None) -> None:
        for g in blocks:
            if g.dim not in dims:
                hint = did_you_mean(g.dim, dims) or ("declare `score " + g.dim + ' "…" max 100 { … }` first')
                self.add("LR207", f'grade block for "{g.dim}", which is not a scoring dimension',
                         g.dim_span or g.span, hint)
                continue
            if g.dim in bands_out:
                self.add("LR312", f'a second grade block for "{g.dim}"', g.dim_span or g.span,
                         "a dimension has one grade block: merge them")
                continue
            self.bands(g, dims[g.dim])
            bands_out[g.dim] = [b.name for b in g.bands]
            if graded is not None:
                graded.append(g.dim)

    def bands(self, g: n.Grade, s: n.Score) -> None:
        names: set[str] = set()
        otherwise = None
        last = None
        for b in g.bands:
            if b.name in names:
                self.add("LR208", f'band "{b.name}" appears twice in grade {g.dim}', b.span,
                         "give each band its own name")
            names.add(b.name)
            if otherwise is not None:
                self.add("LR301", f'band "{b.name}" comes after `otherwise` and can never be given', b.span,
                         "`otherwise` is the last band: move this line above it")
                continue
            if b.threshold is None:
                otherwise = b
                continue
            if last is not None and b.threshold == last.threshold:
                # A tie is not out of order: the band below is shadowed, like a route line (a warning,
                # so that "open the A band down to B's threshold" is a one-line change).
                self.add("LR306", f"band {b.name} can never be given: {last.name} above it already takes every "
                         f"lead with {g.dim} >= {_n(b.threshold)}", b.span,
                         f"give {b.name} a threshold below {_n(last.threshold)}, or remove it")
            elif last is not None and b.threshold > last.threshold:
                self.add("LR302", f"bands go from the highest threshold down: {b.name} (>= {_n(b.threshold)}) "
                         f"comes after {last.name} (>= {_n(last.threshold)})", b.span,
                         f"put {b.name} above {last.name}, or give it a threshold below {_n(last.threshold)}")
            else:
                last = b
            reach = _reachable_max(s)
            if b.threshold > reach:
                self.add("LR306", f"band {b.name} needs {g.dim} >= {_n(b.threshold)}, but its criteria add up to "
                         f"at most {_n(reach)}", b.span,
                         f"lower the threshold to {_n(reach)} or less, or add points to {g.dim}")
        if otherwise is None:
            self.add("LR310", f"grade {g.dim} has no `otherwise` band", g.span,
                     "end the block with e.g. `D otherwise` so every lead gets a band")

    def possible_grades(self) -> None:
        c = self.c
        lists = [c.bands[d] for d in c.graded]
        total = 1
        for l in lists:
            total *= max(len(l), 1)
        if not lists or total > _MAX_GRADES:
            c.grades = []
            return
        seen: dict[str, tuple[str, ...]] = {}
        for p in itertools.product(*lists):
            g = "".join(p)
            if g in seen and len(lists) > 1:
                a, b = seen[g], p
                grades = self.rf.of(n.Grade)
                where = next((x for x in grades if x.dim == c.graded[0]), None)
                self.add("LR208", f'grades collide: {" + ".join(a)} and {" + ".join(b)} both read "{g}"',
                         where.span if where else None,
                         "routes and tests could not tell them apart: rename bands so each combination "
                         "reads differently (e.g. letters for one dimension, digits for the other, "
                         "without digits inside names)")
                break
            seen[g] = p
        c.grades = list(seen) if len(seen) == total else ["".join(p) for p in itertools.product(*lists)]

    def grade_pattern_matches(self, pat: str) -> bool:
        if not self.c.graded:
            return False
        if self.c.grades:
            return any(n.grade_matches(pat, g) for g in self.c.grades)
        return True  # too many to enumerate: accept

    # ---- accounts -------------------------------------------------------------------------------
    def accounts(self, a: n.Accounts) -> None:
        self.account_key(a.key)
        self.in_accounts = True
        try:
            for s in a.scores:
                self.score(s, self.c.account_dims, account=True)
            self.grades(a.grades, self.c.account_dims, self.c.account_bands)
        finally:
            self.in_accounts = False
        if not a.grades:
            self.add("LR209", "the accounts block has no `grade` block", a.span,
                     "grade the account dimension, e.g. `grade buying { hot when >= 70  cold otherwise }`")
        # `account BAND and …` in a route names a band by itself: two account grades must not share one
        seen: dict[str, str] = {}
        for g in a.grades:
            if g.dim not in self.c.account_bands:
                continue
            for b in g.bands:
                if b.name in seen and seen[b.name] != g.dim:
                    self.add("LR208", f'band "{b.name}" is in both account grades {seen[b.name]} and {g.dim}', b.span,
                             "`account BAND` in a route must name one band: rename one of them")
                seen.setdefault(b.name, g.dim)

    def account_key(self, key) -> None:
        """The account key is a text field, or domain() of one: what two leads of one company share."""
        hint = "group by a text field or an e-mail domain: `accounts by domain(email)` or `accounts by company`"
        if isinstance(key, n.Name) or (isinstance(key, n.Call) and key.func == "domain" and isinstance(key.arg, n.Name)):
            t = self.value(key, None)
            if t not in (TEXT, ANY):
                self.add("LR205", f"the account key {self.describe(key)} is {_type_word(t)}, not text", key.span, hint)
        else:
            self.add("LR214", f"an account key is a field or domain(field), not {self.describe(key)}", key.span, hint)

    def lead_filter(self, f: n.EventFilter) -> None:
        if self.in_accounts == "lead":
            self.add("LR214", "inside `lead where`, the condition is about one lead, which has no leads", f.span,
                     "ask about this lead (its fields, events and scores), or move the `has lead` / `count lead` "
                     "out of the `where`")
            return
        if f.within is not None:
            self.add("LR213", "`within` does not apply to leads", f.within.span,
                     "put the time window on the events: `has lead where has form_submit within 30 days`")
        if f.where is not None:
            prev = self.in_accounts
            self.in_accounts = "lead"
            try:
                self.cond(f.where, None)
            finally:
                self.in_accounts = prev

    # ---- routes ---------------------------------------------------------------------------------
    def route(self, r: n.Route) -> None:
        c = self.c
        otherwise_at = None
        covered_disq = False
        covered: set[str] = set()  # grades already taken by an earlier line (without account filter)
        for i, line in enumerate(r.lines):
            a = line.action
            c.routes.add((a.kind, a.queue))
            if a.sla is not None:
                if a.kind == "suppress":
                    self.add("LR205", "`suppress` has no follow-up, so it takes no `within`", a.sla.span,
                             "delete the `within …`")
                elif a.sla.amount <= 0:
                    self.add("LR205", "a follow-up time must be more than zero", a.sla.span, "write e.g. `within 1 day`")
            if otherwise_at is not None:
                self.add("LR313", "this route line comes after `otherwise` and is never used", line.span,
                         "move the `otherwise` line to the end of the route block")
                continue
            if line.account_band is not None:
                bands = [b for bl in c.account_bands.values() for b in bl]
                if line.account_band not in bands:
                    hint = did_you_mean(line.account_band, bands) or (
                        "declare an `accounts` block with a grade" if not bands else
                        "account bands: " + ", ".join(bands))
                    self.add("LR211", f'"{line.account_band}" is not an account band', line.span, hint)
            line_grades: set[str] = set()
            line_disq = False
            all_shadowed = True
            for p in line.patterns:
                if p.kind == "otherwise":
                    if line.account_band is None:
                        otherwise_at = line
                    all_shadowed = False
                    continue
                if p.kind == "disqualified":
                    line_disq = True
                    if line.account_band is not None:
                        self.add("LR205", "a disqualified lead has no account band", p.span,
                                 "put `disqualified` on its own route line")
                    if not covered_disq:
                        all_shadowed = False
                    continue
                if not self.grade_pattern_matches(p.text):
                    hint = ("possible grades: " + ", ".join(c.grades[:12]) + ("…" if len(c.grades) > 12 else "")
                            if c.grades else "add `grade` blocks so leads get grades")
                    self.add("LR304", f"route pattern {p.text} matches no possible grade", p.span, hint)
                    continue
                matched = {g for g in c.grades if n.grade_matches(p.text, g)}
                if not c.grades or matched - covered:
                    all_shadowed = False
                line_grades |= matched
            if all_shadowed and line.patterns and not any(p.kind == "otherwise" for p in line.patterns):
                if not any(d.line == line.span.line and d.code == "LR304" for d in self.out):
                    self.add("LR308", "every lead this line matches is taken by an earlier route line",
                             line.span, "delete this line, or move it above the line that shadows it")
            if line.account_band is None:
                covered |= line_grades
                covered_disq = covered_disq or line_disq
        if otherwise_at is None:
            self.add("LR305", "the route block has no `otherwise` line", r.span,
                     'end it with e.g. `otherwise -> nurture "education-track"` so every lead has a route')

    # ---- tests ----------------------------------------------------------------------------------
    def test(self, t: n.Test) -> None:
        c = self.c
        if not (t.lead_span and t.lead_span.line):
            self.add("LR407", f'test "{t.name}" has no `lead {{ … }}` line', t.span,
                     "say which lead the test scores, e.g. `lead { email: \"ana@bigco.com\" }` "
                     "(`lead { }` for a lead with no fields)")
        for key, value in t.lead:
            if key == "id":
                continue
            if key not in c.fields:
                self.add("LR407", f'test "{t.name}": the lead has "{key}", which is not a field', t.lead_span,
                         did_you_mean(key, c.fields) or "declare it in `fields { … }` or delete it")
                continue
            problem = _value_problem(value, c.fields[key])
            if problem:
                self.add("LR407", f'test "{t.name}": {key} {problem}', t.lead_span,
                         f"{key} is declared as {_type_word(c.fields[key])}")
        for e in t.events:
            if e.type not in c.events:
                self.add("LR202", f'test "{t.name}": unknown event "{e.type}"', e.span,
                         did_you_mean(e.type, c.events) or "declare it in `events { … }`")
                continue
            attrs = c.events[e.type]
            for k, v in e.attrs:
                if k not in attrs:
                    self.add("LR203", f'test "{t.name}": event {e.type} has no attribute "{k}"', e.span,
                             did_you_mean(k, attrs) or (f"{e.type} has: " + ", ".join(attrs) if attrs
                                                        else f"{e.type} has no attributes"))
                    continue
                problem = _value_problem(v, attrs[k])
                if problem:
                    self.add("LR407", f'test "{t.name}": {e.type}.{k} {problem}', e.span,
                             f"{k} is declared as {_type_word(attrs[k])}")
            if e.days_ago is not None and e.days_ago < 0:
                self.add("LR205", f'test "{t.name}": an event {_n(-e.days_ago)} days in the future ("{_n(e.days_ago)} days ago")',
                         e.span, "write how many days ago it happened as a positive number: `event "
                         f"{e.type} {_n(-e.days_ago)} days ago` means it already happened")
            if e.ago_text is not None and e.ago_text.unit == "hour":
                self.add("LR205", "`N hours ago` is finer than scoring, which counts whole days", e.span,
                         "write `N days ago`")
        for x in t.expects:
            span = x.arg_span if x.arg_span and x.arg_span.line else x.span
            if x.kind == "grade":
                if not self.grade_pattern_matches(x.arg):
                    hint = ("possible grades: " + ", ".join(c.grades[:12]) + ("…" if len(c.grades) > 12 else "")
                            if c.grades else "add `grade` blocks so leads get grades")
                    self.add("LR401", f'test "{t.name}": no lead can get grade {x.arg}', span, hint)
            elif x.kind == "route":
                if not self.rf.of(n.Route):
                    self.add("LR402", f'test "{t.name}" expects a route, but the file has no route block', x.span,
                             "add a `route { … }` block")
                elif (x.arg, x.queue) not in c.routes and not (x.queue is None and any(k == x.arg for k, _ in c.routes)):
                    known = sorted(f'{k} "{q}"' if q else k for k, q in c.routes)
                    want = x.arg + (f' "{x.queue}"' if x.queue else "")
                    self.add("LR402", f'test "{t.name}": no route line sends leads to {want}', x.span,
                             "routes in this file: " + ", ".join(known))
            elif x.kind == "disqualified":
                if x.arg is not None and x.arg not in c.reasons:
                    self.add("LR404", f'test "{t.name}": there is no disqualify reason "{x.arg}"', x.span,
                             did_you_mean(x.arg, c.reasons) or
                             ("reasons: " + ", ".join(f'"{r}"' for r in c.reasons) if c.reasons
                              else "the file has no `disqualify` lines"))
                elif not c.reasons:
                    self.add("LR404", f'test "{t.name}" expects a disqualified lead, but nothing disqualifies',
                             x.span, "add a `disqualify \"REASON\" when …` line")
            elif x.kind in ("fires", "not_fires"):
                if x.arg not in c.criterion_names:
                    self.add("LR403", f'test "{t.name}": there is no criterion "{x.arg}"', span,
                             did_you_mean(x.arg, c.criterion_names) or "criteria are named by their quoted name")
            elif x.kind in ("score", "score_between"):
                if x.arg != "total" and x.arg not in c.dims and x.arg not in c.account_dims:
                    known = list(c.dims) + list(c.account_dims) + ["total"]
                    self.add("LR211", f'test "{t.name}": there is no dimension "{x.arg}"', span,
                             did_you_mean(x.arg, known) or "dimensions: " + ", ".join(known))
                if x.kind == "score_between" and x.low > x.high:
                    self.add("LR205", f"between {_n(x.low)} and {_n(x.high)} holds no number", x.span,
                             "write the smaller number first")
            elif x.kind == "account":
                bands = [b for bl in c.account_bands.values() for b in bl]
                if x.arg not in bands:
                    self.add("LR401", f'test "{t.name}": "{x.arg}" is not an account band', x.span,
                             did_you_mean(x.arg, bands) or ("account bands: " + ", ".join(bands) if bands
                                                           else "the file has no accounts block"))

    def simulation(self, s: n.Simulation) -> None:
        """Guardrails that name something the file cannot produce are warnings, not errors: such a
        share is simply always 0%, which may be the point (`at most 0%`), but is usually a typo."""
        c = self.c
        for e in s.expects:
            if e.low is not None and e.high is not None and e.low > e.high:
                self.add("LR205", f"between {_n(e.low)}% and {_n(e.high)}% holds no share", e.span,
                         "write the smaller percentage first")
            for v in (e.low, e.high):
                if v is not None and not 0 <= v <= 100:
                    self.add("LR205", f"{_n(v)}% is not a share", e.span, "shares run from 0% to 100%")
            if e.subject == "grade" and not self.grade_pattern_matches(e.arg):
                self.warn("LR304", f"grade pattern {e.arg} matches no possible grade", e.span,
                         ("possible grades: " + ", ".join(c.grades[:12])) if c.grades else "add `grade` blocks")
            elif e.subject == "route" and self.rf.of(n.Route):
                if not any(k == e.arg and (e.queue is None or q == e.queue) for k, q in c.routes):
                    want = e.arg + (f' "{e.queue}"' if e.queue else "")
                    self.warn("LR402", f"no route line sends leads to {want}", e.span,
                             "routes in this file: " + ", ".join(sorted(f'{k} "{q}"' if q else k for k, q in c.routes)))
            elif e.subject == "disqualified" and e.arg is not None and e.arg not in c.reasons:
                self.warn("LR404", f'there is no disqualify reason "{e.arg}"', e.span,
                         did_you_mean(e.arg, c.reasons) or "check the `disqualify` lines")
            elif e.subject == "account":
                bands = [b for bl in c.account_bands.values() for b in bl]
                if e.arg not in bands:
                    self.warn("LR211", f'"{e.arg}" is not an account band', e.span,
                             did_you_mean(e.arg, bands) or "declare an accounts block with a grade")
        for e in s.flows:
            if e.low is not None and e.high is not None and e.low > e.high:
                self.add("LR205", f"between {_n(e.low)} and {_n(e.high)} leads per day holds no count", e.span,
                         "write the smaller number first")
            for v in (e.low, e.high):
                if v is not None and v < 0:
                    self.add("LR205", f"{_n(v)} is not a number of leads", e.span, "leads per day start at 0")
            if self.rf.of(n.Route) and not any(k == e.arg and (e.queue is None or q == e.queue) for k, q in c.routes):
                want = e.arg + (f' "{e.queue}"' if e.queue else "")
                self.warn("LR402", f"no route line sends leads to {want}", e.span,
                         "routes in this file: " + ", ".join(sorted(f'{k} "{q}"' if q else k for k, q in c.routes)))

    # ---- conditions and values ------------------------------------------------------------------
    def duration_days(self, d: n.Duration, what: str) -> None:
        if d.unit == "hour":
            self.add("LR205", f"{what} is counted in whole days, not hours", d.span,
                     "write `N days` or `N weeks` (hours are only for a route's follow-up time)")
        elif d.amount < 0:
            self.add("LR205", f"{what} cannot be negative", d.span, "write a positive number of days")

    def event_filter(self, f: n.EventFilter) -> None:
        if self.in_accounts is True and f.event != "lead":
            what = f.event or "event"
            self.add("LR214", f"an account has no events of its own: `{what}` is something a lead does", f.span,
                     f"ask about its leads: use `has lead where has {what} …`")
            return
        if f.within is not None:
            self.duration_days(f.within, "`within`")
        if f.anchor is not None:
            self.anchor(f)
        if f.event is None:
            if f.where is not None:
                self.add("LR213", "`where` needs an event type: `event` means any event, which has no attributes",
                         f.where.span, "name the event (`has web_visit where page contains \"/pricing\"`), or "
                         "drop the `where`")
            return
        if f.event == "lead":
            if self.in_accounts:
                self.lead_filter(f)
            else:
                self.add("LR213", "`has lead` / `count lead` only make sense inside an `accounts` block", f.span,
                         "use `has EVENT` for the lead's own events")
            return
        if f.event not in self.c.events:
            self.add("LR202", f'unknown event "{f.event}"', f.span,
                     did_you_mean(f.event, self.c.events) or
                     ("events: " + ", ".join(self.c.events) if self.c.events else "declare it in `events { … }`"))
            if f.where is not None:
                self.cond(f.where, "?")
            return
        if f.where is not None:
            self.cond(f.where, f.event)

    def anchor(self, f: n.EventFilter) -> None:
        """`within N days of FIELD`: FIELD is a lead's date field."""
        t = self.c.fields.get(f.anchor)
        span = f.anchor_span if f.anchor_span.line else f.span
        if t is None:
            dates = [k for k, v in self.c.fields.items() if v == DATE]
            self.add("LR201", f'unknown field "{f.anchor}"', span,
                     did_you_mean(f.anchor, dates or self.c.fields) or
                     "a window counts from a date field: declare it in `fields { … }` as `date`")
        elif t != DATE:
            self.add("LR205", f"a window counts from a date, and {f.anchor} is {_type_word(t)}", span,
                     f"declare {f.anchor} as `date`, or count from another field (`within 7 days of created_at`)")

    def per_attr(self, k: n.Criterion) -> None:
        """`+P per ATTR each EVENT`: ATTR is a number attribute of that event type."""
        f = k.filter
        span = k.per_span if k.per_span.line else k.span
        if f.event is None or f.event == "lead":
            what = "event" if f.event is None else "lead"
            self.add("LR213", f"`per {k.per}` needs an event type: `each {what}` has no attributes", span,
                     "name the event whose attribute counts (`+1 per minutes each webinar_attended`)")
            return
        attrs = self.c.events.get(f.event)
        if attrs is None:
            return  # the unknown event is reported once, by event_filter
        t = attrs.get(k.per)
        if t is None:
            self.add("LR203", f'"{k.per}" is not an attribute of {f.event}', span,
                     did_you_mean(k.per, [a for a, v in attrs.items() if v == NUMBER] or list(attrs)) or
                     (f"{f.event} has: " + ", ".join(attrs) if attrs else f"{f.event} has no attributes"))
        elif t != NUMBER:
            self.add("LR205", f"`per {k.per}` counts units of a number, and {k.per} is {_type_word(t)}", span,
                     f"declare {k.per} as `number` in {f.event}'s attributes, or drop `per {k.per}` "
                     "to give the points once per event")

    def cond(self, c, ev: str | None) -> None:
        if c is None:
            return
        if isinstance(c, n.Paren):
            self.cond(c.cond, ev)
        elif isinstance(c, n.Not):
            self.cond(c.cond, ev)
        elif isinstance(c, n.BoolOp):
            for i in c.items:
                self.cond(i, ev)
        elif isinstance(c, n.Compare):
            lt, rt = self.value(c.left, ev), self.value(c.right, ev)
            if ANY in (lt, rt):
                return
            if lt == TEXT_LIST or rt == TEXT_LIST:
                self.add("LR205", "a text list cannot be compared with " + c.op, c.span,
                         'ask about its items: `interests contains "analytics"`')
            elif lt != rt:
                self.add("LR205", f"{self.describe(c.left)} is {_type_word(lt)} but "
                         f"{self.describe(c.right)} is {_type_word(rt)}", c.span, _mismatch_hint(lt, rt))
            elif lt == BOOL and c.op not in ("=", "!="):
                self.add("LR205", f"true/false values have no order ({c.op})", c.span, "use = or !=")
        elif isinstance(c, n.In):
            vt = self.value(c.value, ev)
            it = self.list_type(c.items)
            if vt in (ANY, None) or it in (ANY, None):
                return
            if vt == TEXT_LIST:
                self.add("LR205", f"{self.describe(c.value)} is a text list; `in` asks about one value", c.span,
                         f"use `{self.describe(c.value)} contains any [...]`")
            elif vt != it:
                self.add("LR205", f"{self.describe(c.value)} is {_type_word(vt)} but the list holds "
                         f"{'texts' if it == TEXT else 'numbers'}", c.span, _mismatch_hint(vt, it))
        elif isinstance(c, n.TextTest):
            vt = self.value(c.value, ev)
            if c.op in ("contains_any", "contains_all", "contains_any_word"):
                at = self.list_type(c.arg)
                if at not in (ANY, None, TEXT):
                    self.add("LR205", "the list holds numbers; text tests need texts", c.span,
                             "quote the values")
            else:
                at = self.value(c.arg, ev)
                if at not in (ANY, TEXT):
                    self.add("LR205", f"{self.describe(c.arg)} is {_type_word(at)}, not text", c.span,
                             "text tests take quoted text")
            if vt not in (ANY, TEXT, TEXT_LIST):
                op = c.op.replace("_", " ")
                self.add("LR205", f"{self.describe(c.value)} is {_type_word(vt)}; `{op}` is a text test", c.span,
                         _text_test_hint(vt))
            elif vt == TEXT_LIST and c.op in ("starts_with", "ends_with"):
                self.add("LR205", f"{self.describe(c.value)} is a text list; `{c.op.replace('_', ' ')}` needs text",
                         c.span, 'use `contains "…"` to ask whether the list has an item')
        elif isinstance(c, n.Matches):
            vt = self.value(c.value, ev)
            if vt not in (ANY, TEXT, TEXT_LIST):
                self.add("LR205", f"{self.describe(c.value)} is {_type_word(vt)}; `matches` is a text test",
                         c.span, _text_test_hint(vt))
            try:
                re.compile(c.pattern, re.IGNORECASE)
            except re.error as e:
                sp = c.pattern_span if c.pattern_span and c.pattern_span.line else c.span
                self.add("LR212", f"the pattern does not compile: {e.msg}"
                         + (f" (at position {e.pos})" if e.pos is not None else ""), sp,
                         "check brackets and escapes; inside quotes a backslash is written \\\\")
            else:
                why = catastrophic(c.pattern)
                if why:
                    sp = c.pattern_span if c.pattern_span and c.pattern_span.line else c.span
                    self.add("LR212", f"the pattern could take hours on a long value: {why}", sp,
                             "match each piece once: `(a+)+` is `a+`, `(a|aa)*` is `a*`, `\\d+\\d+` is `\\d{2,}`; "
                             "a character that ends each repetition, like `(\\w+\\.)+`, is fine")
        elif isinstance(c, n.Between):
            vt, lo, hi = self.value(c.value, ev), self.value(c.low, ev), self.value(c.high, ev)
            if ANY in (vt, lo, hi):
                return
            if vt not in (NUMBER, DATE):
                self.add("LR205", f"{self.describe(c.value)} is {_type_word(vt)}; `between` needs numbers or dates",
                         c.span, _mismatch_hint(vt, NUMBER))
            elif lo != vt or hi != vt:
                bad = c.low if lo != vt else c.high
                self.add("LR205", f"{self.describe(c.value)} is {_type_word(vt)} but {self.describe(bad)} is "
                         f"{_type_word(lo if lo != vt else hi)}", c.span, _mismatch_hint(vt, lo if lo != vt else hi))
            elif isinstance(c.low, n.Literal) and isinstance(c.high, n.Literal) and _lit_key(c.low) > _lit_key(c.high):
                self.add("LR205", f"between {self.describe(c.low)} and {self.describe(c.high)} holds nothing",
                         c.span, "write the smaller bound first")
        elif isinstance(c, n.IsMissing):
            self.value(c.value, ev)
        elif isinstance(c, n.Has):
            self.event_filter(c.filter)
        else:  # pragma: no cover - the parser builds only the nodes above
            raise TypeError(f"unknown condition {c!r}")

    def list_type(self, ref) -> str | None:
        if isinstance(ref, n.Name):
            if ref.name not in self.c.lists:
                known = list(self.c.lists)
                self.add("LR204", f'unknown list "{ref.name}"', ref.span,
                         did_you_mean(ref.name, known) or
                         (f'declare it: `list {ref.name} = ["…"]`' if not known else "lists: " + ", ".join(known)))
                return ANY
            self.used_lists.add(ref.name)
            return self.c.list_types[ref.name]
        kinds = {i.kind for i in ref.items}
        if not kinds:
            return None
        if len(kinds) > 1 or kinds - {TEXT, NUMBER}:
            self.add("LR205", "a list holds only texts (quoted) or only numbers", ref.span,
                     "make every item the same kind")
            return ANY
        return kinds.pop()

    def value(self, v, ev: str | None) -> str:
        """The type of a value; reports unknown names. `ev`: the event whose attributes a bare name may
        mean (inside `where`), "" for any event, "?" for an unknown event, None outside `where`."""
        c = self.c
        if isinstance(v, n.Literal):
            return v.kind
        if self.in_accounts is True and isinstance(v, (n.Name, n.CountTypes, n.DaysSinceLast, n.DaysSince)):
            # at account level only leads are counted; a lead's own values live inside `lead where`
            what = self.describe(v)
            self.add("LR214", f"`{what}` is about one lead, and an account criterion is about its leads", v.span,
                     f"use `has lead where …` or `count lead where …`, e.g. `has lead where {what} …`")
            return ANY
        if isinstance(v, n.Name):
            if ev == "?":
                return ANY
            if ev and v.name in c.events.get(ev, {}):
                return c.events[ev][v.name]
            if v.name in c.fields:
                return c.fields[v.name]
            if self.in_accounts == "lead" and v.name in c.dims:
                return NUMBER
            if v.name in c.lists:
                self.add("LR205", f'"{v.name}" is a list, not a value', v.span,
                         f"ask whether a value is in it: `x in {v.name}`")
                return ANY
            if ev:
                attrs = c.events.get(ev, {})
                cands = list(attrs) + list(c.fields)
                self.add("LR203", f'"{v.name}" is neither an attribute of {ev} nor a field', v.span,
                         did_you_mean(v.name, cands) or
                         (f"{ev} has: " + ", ".join(attrs) if attrs else f"{ev} has no attributes"))
            else:
                cands = list(c.fields) + (list(c.dims) if self.in_accounts == "lead" else [])
                self.add("LR201", f'unknown field "{v.name}"', v.span,
                         did_you_mean(v.name, cands) or "declare it in `fields { … }`")
            return ANY
        if isinstance(v, n.Call):
            at = self.value(v.arg, ev)
            ok = (TEXT, TEXT_LIST) if v.func == "length" else (TEXT,)
            if at not in ok and at != ANY:
                self.add("LR205", f"{v.func}() takes text, and {self.describe(v.arg)} is {_type_word(at)}", v.span,
                         "domain(), lower() and length() work on text fields")
            return NUMBER if v.func == "length" else TEXT
        if isinstance(v, n.Count):
            self.event_filter(v.filter)
            return NUMBER
        if isinstance(v, n.CountTypes):
            if v.within is not None:
                self.duration_days(v.within, "`within`")
            return NUMBER
        if isinstance(v, n.DaysSinceLast):
            if v.filter is not None:
                self.event_filter(v.filter)
            elif v.event is not None and v.event not in c.events:
                self.add("LR202", f'unknown event "{v.event}"', v.span,
                         did_you_mean(v.event, c.events) or "declare it in `events { … }`")
            return NUMBER
        if isinstance(v, n.DaysSince):
            t = c.fields.get(v.field)
            if t is None:
                self.add("LR201", f'unknown field "{v.field}"', v.span,
                         did_you_mean(v.field, c.fields) or "declare it in `fields { … }` as a date")
            elif t != DATE:
                self.add("LR205", f"`days since` needs a date field, and {v.field} is {_type_word(t)}", v.span,
                         f"declare {v.field} as `date`, or use another field")
            return NUMBER
        raise TypeError(f"unknown value {v!r}")  # pragma: no cover

    def describe(self, v) -> str:
        from dsl import printer

        try:
            return printer.value(v)
        except Exception:  # pragma: no cover - printing is best effort in messages
            return "the value"


def _reachable_max(s: n.Score) -> float:
    """The most a dimension can score: its positive points added up (caps honoured), clamped to max."""
    total = 0.0
    for k in s.criteria:
        if k.kind == "when":
            total += max(k.points, 0)
        elif k.kind == "first":
            total += max((t.points for t in k.tiers), default=0) if any(t.points > 0 for t in k.tiers) else 0
        elif k.points > 0:
            total += k.max if k.max is not None else float("inf")
    return min(total, s.max)




def _lit_key(l: n.Literal):
    return str(l.value) if l.kind == DATE else l.value


def _n(x) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


def _mismatch_hint(a: str, b: str) -> str:
    if TEXT in (a, b) and NUMBER in (a, b):
        return 'numbers are written without quotes (`company_size >= 1000`), text with quotes ("VP")'
    if DATE in (a, b):
        return "dates are written without quotes, as YYYY-MM-DD (`created_at >= 2026-01-01`)"
    if BOOL in (a, b):
        return "true/false fields compare with `= true` or `= false`"
    return "compare values of the same kind"


def _text_test_hint(t: str) -> str:
    if t == NUMBER:
        return "compare numbers with =, <, >, between or in: `company_size >= 1000`"
    if t == DATE:
        return "compare dates with <, >, between, or use `days since FIELD`"
    return "text tests (contains, starts with, matches) work on text fields"


def _value_problem(value, typ: str) -> str | None:
    """Why a test's literal does not fit a declared type (None when it fits or is null)."""
    if value is None:
        return None
    if isinstance(value, n.Literal):  # a bare date
        value = value.value
        if typ in (DATE, TEXT):
            return None
        return f"is a date, not {_type_word(typ)}"
    if typ == TEXT:
        if isinstance(value, list):
            return "is a list, not text"
        return None
    if typ == NUMBER:
        if isinstance(value, bool) or isinstance(value, list):
            return f"is {'true/false' if isinstance(value, bool) else 'a list'}, not a number"
        if isinstance(value, str):
            try:
                float(value.strip())
            except ValueError:
                return f'"{value}" is not a number'
        return None
    if typ == DATE:
        if isinstance(value, str):
            try:
                s = value.strip()
                if len(s) == 10:
                    dt.date.fromisoformat(s)
                else:
                    dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
            except ValueError:
                return f'"{value}" is not a date (YYYY-MM-DD)'
            return None
        return "is not a date (write it as 2026-11-01)"
    if typ == BOOL:
        if isinstance(value, bool):
            return None
        if isinstance(value, str) and value.strip().lower() in ("true", "false", "yes", "no", "1", "0"):
            return None
        return "is not true or false"
    if typ == TEXT_LIST:
        if isinstance(value, list):
            if any(isinstance(x, (list, bool)) for x in value):
                return "must be a list of texts"
            return None
        if isinstance(value, str):
            return None
        return "is not a text list (write [\"a\", \"b\"])"
    return None


def check(rf: n.RuleFile) -> Checked:
    """Check a parsed file. Never raises for a user's mistake: everything is in `.diagnostics`."""
    return _Checker(rf).run()


def check_text(text: str, path: str = "<string>", *, cached: bool = False) -> Checked:
    """Parse and check; a syntax error becomes the diagnostics of an empty `Checked`. `cached`: see
    dsl.parser.parse."""
    from dsl.parser import parse

    try:
        rf = parse(text, path, cached=cached)
    except RuleError as e:
        return Checked(n.RuleFile((), path=path, source=text), list(e.diagnostics))
    return check(rf)
