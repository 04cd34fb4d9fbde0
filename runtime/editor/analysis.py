"""What an editor asks about a rule file, answered from its text: diagnostics, the declaration under the
cursor, hover text, completions, definitions, an outline and the tests to run. Plain data with 0-based
lines and code-point columns; runtime/editor/lsp.py turns it into the language server protocol.

Completion and go-to-definition keep working while the file does not parse (the usual state while
typing): they use the names of the last version that did.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from dsl import nodes as n
from dsl import printer
from dsl.checker import Checked, check_text
from dsl.diagnostics import Diagnostic

from runtime.analysis.testing import TestOutcome, run_test

WORD = re.compile(r"`[^\W\d]\w*`|[^\W\d]\w*|\w+")


@dataclass
class Symbols:
    """The declarations of a file, by name (from its last version that parsed)."""

    fields: dict[str, n.FieldDecl] = field(default_factory=dict)
    events: dict[str, n.EventDecl] = field(default_factory=dict)
    lists: dict[str, n.ListDecl] = field(default_factory=dict)
    dims: dict[str, n.Score] = field(default_factory=dict)          # lead and account dimensions
    account_dims: set[str] = field(default_factory=set)
    grades: dict[str, n.Grade] = field(default_factory=dict)
    possible_grades: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, rf: n.RuleFile, checked: Checked | None) -> "Symbols":
        s = cls()
        for f in rf.of(n.Fields):
            for d in f.fields:
                s.fields.setdefault(d.name, d)
        for e in rf.of(n.Events):
            for d in e.events:
                s.events.setdefault(d.name, d)
        for l in rf.of(n.ListDecl):
            s.lists.setdefault(l.name, l)
        for sc in rf.of(n.Score):
            s.dims.setdefault(sc.dim, sc)
        for g in rf.of(n.Grade):
            s.grades.setdefault(g.dim, g)
        for a in rf.of(n.Accounts):
            for sc in a.scores:
                s.dims.setdefault(sc.dim, sc)
                s.account_dims.add(sc.dim)
            for g in a.grades:
                s.grades.setdefault(g.dim, g)
        if checked is not None:
            s.possible_grades = list(checked.grades)
        return s

    def bands(self) -> list[tuple[str, n.Band, bool]]:
        """(dimension, band, is an account band)."""
        return [(d, b, d in self.account_dims) for d, g in self.grades.items() for b in g.bands]


def _num(x) -> str:
    return printer.num(x)


def _type_of(decl: n.FieldDecl) -> str:
    return decl.type


def _source_column(decl) -> str | None:
    """The input column a field reads from, when the file says (`from "Column"`)."""
    for attr in ("column", "source", "source_column", "from_column"):
        v = getattr(decl, attr, None)
        if isinstance(v, str) and v:
            return v
    return None


class RulesDocument:
    """One open file: its text, the checker's and the linter's findings, and its symbols."""

    def __init__(self, text: str, path: str = "<string>", previous: "RulesDocument | None" = None):
        from dsl.lint import lint, suppress

        self.text = text
        self.path = path
        self.lines = text.splitlines()
        self.checked = check_text(text, path)
        self.parsed = bool(self.checked.file.items) or not any(d.code.startswith("LR1") for d in self.checked.diagnostics)
        if self.parsed:
            self.diagnostics: list[Diagnostic] = suppress(self.checked.diagnostics + lint(self.checked),
                                                          self.checked.file)
            self.symbols = Symbols.of(self.checked.file, self.checked)
            self.rf: n.RuleFile | None = self.checked.file
        else:
            self.diagnostics = list(self.checked.diagnostics)
            salvaged = _salvage(text, path, self.diagnostics)
            if salvaged is not None:
                self.symbols, self.rf = Symbols.of(salvaged, None), salvaged
            else:
                self.symbols = previous.symbols if previous is not None else Symbols()
                self.rf = previous.rf if previous is not None else None

    # ---- positions -----------------------------------------------------------------------------
    def word_at(self, line: int, col: int) -> tuple[str, int, int] | None:
        """The name under (or just before) a 0-based position: (name without backticks, start, end)."""
        if not 0 <= line < len(self.lines):
            return None
        text = self.lines[line]
        for m in WORD.finditer(text):
            if m.start() <= col <= m.end():
                return m.group().strip("`"), m.start(), m.end()
        return None

    def _in(self, sp: n.Span, line: int, col: int) -> bool:
        """Is the 0-based position inside a 1-based inclusive span?"""
        l, c = line + 1, col + 1
        if not sp.line:
            return False
        if (l, c) < (sp.line, sp.col):
            return False
        return (l, c) <= (sp.end_line or sp.line, (sp.end_col or sp.col) + 1)

    def criterion_at(self, line: int, col: int) -> tuple[n.Score, n.Criterion] | None:
        if self.rf is None or not self.parsed:
            return None
        scores = list(self.rf.of(n.Score)) + [s for a in self.rf.of(n.Accounts) for s in a.scores]
        for sc in scores:
            for c in sc.criteria:
                if self._in(c.span, line, col):
                    return sc, c
        return None

    def enclosing_event(self, line: int, col: int) -> str | None:
        """The event type whose `where` the position is in (bare names there are its attributes first)."""
        hit = self.criterion_at(line, col)
        if hit and hit[1].kind == "each" and hit[1].filter.event not in (None, "lead"):
            return hit[1].filter.event
        before = self.lines[line][:col] if 0 <= line < len(self.lines) else ""
        m = None
        for m in re.finditer(r"\b(?:has|count|each)\s+(`?[^\W\d]\w*`?)\s+where\b", before):
            pass
        return m.group(1).strip("`") if m else None

    # ---- hover ---------------------------------------------------------------------------------
    def hover(self, line: int, col: int) -> tuple[str, tuple[int, int, int]] | None:
        """Markdown about the thing under the cursor and the 0-based range it covers (line, start, end)."""
        w = self.word_at(line, col)
        crit = self.criterion_at(line, col)
        if w is not None:
            word, a, b = w
            on_crit_name = crit is not None and crit[1].name_span.line == line + 1 and \
                crit[1].name_span.col - 1 <= col <= crit[1].name_span.end_col
            if not on_crit_name:
                text = self.describe_name(word, self.enclosing_event(line, col))
                if text:
                    return text, (line, a, b)
        if crit is not None:
            sc, c = crit
            sp = c.name_span if c.name_span.line else c.span
            return self.describe_criterion(sc, c), (sp.line - 1, sp.col - 1, sp.end_col if sp.end_line == sp.line else sp.col)
        return None

    def describe_name(self, word: str, event: str | None = None) -> str | None:
        s = self.symbols
        if event and event in s.events:
            for a in s.events[event].attrs:
                if a.name == word:
                    return f"**attribute** `{word}`: {a.type}  \nof event `{event}`"
        if word in s.fields:
            d = s.fields[word]
            out = f"**field** `{word}`: {_type_of(d)}"
            src = _source_column(d)
            if src:
                out += f'  \nread from the input column "{src}"'
            else:
                out += f"  \nread from the input column `{word}`"
            return out
        if word in s.events:
            d = s.events[word]
            attrs = ", ".join(f"{a.name}: {a.type}" for a in d.attrs)
            return (f"**event** `{word}" + (f"({attrs})" if attrs else "") + "`  \n"
                    "every event also has its time `at`; scoring counts its age in whole days")
        if word in s.lists:
            d = s.lists[word]
            items = [printer.literal(i) for i in d.items.items]
            shown = ", ".join(items[:12]) + (", …" if len(items) > 12 else "")
            return f"**list** `{word}` ({len(items)} item{'s' if len(items) != 1 else ''}): {shown}"
        if word in s.dims:
            return self.describe_dimension(s.dims[word])
        attrs = [(e, a) for e in s.events.values() for a in e.attrs if a.name == word]
        if attrs:
            return "**attribute** `" + word + "`: " + "; ".join(f"{a.type} of event `{e.name}`" for e, a in attrs)
        return None

    def describe_dimension(self, sc: n.Score) -> str:
        s = self.symbols
        kind = "account dimension" if sc.dim in s.account_dims else "dimension"
        parts = [f'**{kind}** `{sc.dim}` "{sc.label}": from {_num(sc.floor)} to {_num(sc.max)}, '
                 f"{len(sc.criteria)} criteri{'on' if len(sc.criteria) == 1 else 'a'}"]
        if sc.half_life is not None:
            parts.append(f"decay: half-life {printer.duration(sc.half_life)}")
        for r in sc.resets:
            parts.append(f"`{printer.reset(r)}`: its event criteria count only the events after the latest such event")
        g = s.grades.get(sc.dim)
        if g is not None:
            parts.append("bands: " + ", ".join(f"{b.name} ≥ {_num(b.threshold)}" if b.threshold is not None
                                                else f"{b.name} otherwise" for b in g.bands))
        return "  \n".join(parts)

    def describe_criterion(self, sc: n.Score, c: n.Criterion) -> str:
        head = f'**criterion** "{c.name}" · {sc.dim} ("{sc.label}", max {_num(sc.max)})'
        lines = [head, ""]
        if c.kind != "first":  # a `first of` is shown tier by tier below
            lines += ["```leadrules", printer.criterion_rule(c), "```"]
        hl = sc.half_life.days if sc.half_life is not None else None
        if c.kind == "when":
            lines.append(f"- points: {printer.points(c.points)} once, when `{printer.cond(c.cond)}` holds")
        elif c.kind == "first":
            lines.append("- points: the first tier that holds gives its points, the rest are not looked at:")
            for t in c.tiers:
                what = "otherwise" if t.cond is None else f"when `{printer.cond(t.cond)}`"
                lines.append(f"  - {printer.points(t.points)} {what}")
        else:
            f = c.filter
            target = "lead of the account" if f.event == "lead" else f"`{f.event or 'event'}` event"
            if c.per is not None:
                each = f"for every unit of `{c.per}` of each {target}"
            elif c.per_count:
                each = f"for every {target} counted"
            else:
                each = f"for each {target}"
            lines.append(f"- points: {printer.points(c.points)} {each}"
                         + (f" where `{printer.cond(f.where)}`" if f.where is not None else ""))
            if f.within is not None and f.anchor is not None:
                lines.append(f"- window: only events from the lead's `{f.anchor}` to {printer.duration(f.within)} "
                             f"after it (none while `{f.anchor}` is missing or after the as-of date)")
            elif f.within is not None:
                lines.append(f"- window: only events at most {printer.duration(f.within)} old")
        if c.kind == "each" and c.max is not None:
            full = abs(c.max / c.points) if c.points else 0
            lines.append(f"- cap: the total is at most {_num(c.max)}"
                         + (" in size" if c.points < 0 else "")
                         + (f" (reached by {_num(full)} {'leads' if c.filter.event == 'lead' else 'events at full weight'})"
                            if c.points and c.per is None else ""))
        elif c.kind == "each":
            lines.append("- cap: none (lint LR317 suggests one)" if hl is None or c.no_decay or c.per is not None
                         else "- cap: none")
        elif c.max is not None:
            lines.append("- cap: `max` on this kind of criterion means nothing (LR303)")
        if sc.resets and n.counts_events(n.Score(sc.dim, sc.label, sc.max, sc.floor, None, (c,))):
            lines.append("- reset: counts only the events after the latest "
                         + " or ".join(f"`{printer.reset(r)[len('reset on '):]}`" for r in sc.resets)
                         + " (`days since last` is not reset)")
        if c.kind == "each" and c.filter.event != "lead":
            if c.per_count:
                lines.append("- decay: none: a count counts every event in full")
            elif c.no_decay:
                lines.append("- decay: none (`no decay`): every event counts in full")
            elif hl is not None:
                p = c.points
                lines.append(f"- decay: half-life {_num(hl)} days: an event {_num(hl)} days old gives "
                             f"{_num(round(p * 0.5, 2))}, {_num(2 * hl)} days old {_num(round(p * 0.25, 2))} "
                             f"(P × 0.5^(age/{_num(hl)}), age in whole days)")
            else:
                lines.append("- decay: none (the dimension has no `decay half-life`)")
        return "\n".join(lines)

    # ---- definitions, completion, outline ------------------------------------------------------
    def definition(self, line: int, col: int) -> n.Span | None:
        w = self.word_at(line, col)
        if w is None:
            return None
        word = w[0]
        s = self.symbols
        ev = self.enclosing_event(line, col)
        if ev and ev in s.events:
            for a in s.events[ev].attrs:
                if a.name == word:
                    return a.span
        for table in (s.lists, s.fields, s.events):
            if word in table:
                return table[word].span
        if word in s.dims:
            sc = s.dims[word]
            return sc.dim_span if sc.dim_span.line else sc.span
        return None

    def completions(self, line: int, col: int) -> list[tuple[str, str, str]]:
        """(label, kind, detail) for the position: kind is field | event | list | band | dimension |
        attribute | criterion | reason | keyword."""
        s = self.symbols
        before = self.lines[line][:col] if 0 <= line < len(self.lines) else ""
        # drop the word (or the quoted name) being typed
        if before.count('"') % 2:  # inside a quoted name
            before = before[: before.rindex('"')].rstrip()
        else:
            before = re.sub(r"`?[^\W\d]?\w*$", "", before).rstrip()
        if re.search(r"\bexpect\s+criterion$", before):
            return _unique([(printer.quote(c.name), "criterion", f"{sc.dim}: {printer.criterion_rule(c)}")
                            for sc in (self.rf.of(n.Score) if self.rf else ()) for c in sc.criteria])
        if re.search(r"\b(expect|share\s+of)\s+disqualified$", before):
            return [(printer.quote(d.reason), "reason", "disqualify reason")
                    for d in (self.rf.of(n.Disqualify) if self.rf else ())]
        if re.search(r"\b(expect|share\s+of)\s+route$", before):
            return [(a, "keyword", "route action") for a in ("sales", "qualify", "nurture", "suppress")]
        events = [(e, "event", "event" + (f"({', '.join(a.name + ': ' + a.type for a in d.attrs)})" if d.attrs else ""))
                  for e, d in s.events.items()]
        lists = [(l, "list", f"list of {len(d.items.items)}") for l, d in s.lists.items()]
        bands = [(b.name, "band", f"{'account ' if acc else ''}band of {d}") for d, b, acc in s.bands()]
        grades = [(g, "band", "grade") for g in s.possible_grades]
        fields = [(f, "field", d.type) for f, d in s.fields.items()]
        dims = [(d, "dimension", f'"{sc.label}"') for d, sc in s.dims.items()]
        if re.search(r"\b(each|has|count|last)$", before) or re.search(r"^\s*event$", before):
            return events
        if re.search(r"\b(in|any|all|any word)$", before):
            return lists
        if re.search(r"\baccount$", before):
            return [b for b in bands if b[2].startswith("account")]
        if re.search(r"\b(expect grade|share of grade)$", before) or self._in_route_patterns(line, before):
            return _unique(grades + [b for b in bands if not b[2].startswith("account")])
        if re.search(r"^\s*grade$", before):
            return dims
        if re.search(r"\bexpect$", before):
            words = ["grade", "route", "disqualified", "not disqualified", "criterion", "account"]
            return [(w, "keyword", "expectation") for w in words] + dims + [("total", "dimension", "sum of the scores")]
        ev = self.enclosing_event(line, col)
        attrs = []
        if ev and ev in s.events:
            attrs = [(a.name, "attribute", f"{a.type} of {ev}") for a in s.events[ev].attrs]
        return _unique(attrs + fields + lists + events + dims + bands)

    def _in_route_patterns(self, line: int, before: str) -> bool:
        if "->" in before or self.rf is None:
            return False
        route = self.rf.first(n.Route)
        if route is None or not route.span.line:
            return False
        return route.span.line < line + 1 < route.span.end_line

    def outline(self) -> list[dict]:
        """Document symbols: {name, kind, detail, span, sel (span), children}."""
        if self.rf is None or not self.parsed:
            return []
        out = []

        def sym(name, kind, detail, span, sel=None, children=()):
            return {"name": name, "kind": kind, "detail": detail, "span": span,
                    "sel": sel if sel is not None and sel.line else span, "children": list(children)}

        def score_sym(sc: n.Score, account: bool):
            crits = [sym(c.name, "criterion", printer.criterion_rule(c), c.span, c.name_span) for c in sc.criteria]
            return sym(sc.dim, "dimension", f'{"account " if account else ""}"{sc.label}" max {_num(sc.max)}',
                       sc.span, sc.dim_span, crits)

        for item in self.rf.items:
            if isinstance(item, n.Fields):
                out.append(sym("fields", "fields", f"{len(item.fields)} fields", item.span, None,
                               [sym(d.name, "field", d.type, d.span) for d in item.fields]))
            elif isinstance(item, n.Events):
                out.append(sym("events", "events", f"{len(item.events)} events", item.span, None,
                               [sym(d.name, "event", "", d.span) for d in item.events]))
            elif isinstance(item, n.ListDecl):
                out.append(sym(item.name, "list", f"{len(item.items.items)} items", item.span))
            elif isinstance(item, n.Disqualify):
                out.append(sym(item.reason, "disqualify", printer.cond(item.cond), item.span))
            elif isinstance(item, n.Score):
                out.append(score_sym(item, False))
            elif isinstance(item, n.Grade):
                out.append(sym(f"grade {item.dim}", "grade", "", item.span, item.dim_span,
                               [sym(b.name, "band", f">= {_num(b.threshold)}" if b.threshold is not None
                                    else "otherwise", b.span) for b in item.bands]))
            elif isinstance(item, n.Accounts):
                kids = [score_sym(sc, True) for sc in item.scores]
                kids += [sym(f"grade {g.dim}", "grade", "", g.span, g.dim_span,
                             [sym(b.name, "band", "", b.span) for b in g.bands]) for g in item.grades]
                out.append(sym("accounts", "accounts", "by " + printer.value(item.key), item.span, None, kids))
            elif isinstance(item, n.Route):
                out.append(sym("route", "route", f"{len(item.lines)} lines", item.span))
            elif isinstance(item, n.Test):
                out.append(sym(item.name, "test", f"{len(item.expects)} expectations", item.span))
            elif isinstance(item, n.Simulation):
                out.append(sym(item.name, "simulation", f"{len(item.expects)} guardrails", item.span))
            elif isinstance(item, n.Ruleset):
                out.append(sym(item.name, "ruleset", f"version {item.version}", item.span))
        return out

    # ---- tests ---------------------------------------------------------------------------------
    def tests(self) -> list[n.Test]:
        if self.rf is None or not self.parsed:
            return []
        return list(self.rf.of(n.Test))

    def run_test(self, name: str, default_asof: dt.date | None = None) -> TestOutcome | str:
        """Run one test of this text; a string says why it could not run."""
        if not self.parsed or not self.checked.ok:
            errs = [d for d in self.diagnostics if d.is_error]
            first = errs[0] if errs else None
            return ("the file has errors, fix them first" +
                    (f" (line {first.line}: {first.code} {first.message})" if first else ""))
        test = next((t for t in self.checked.file.of(n.Test) if t.name == name), None)
        if test is None:
            return f'there is no test "{name}" in the file any more'
        from runtime.backends.pygen import compile_fast

        engine = compile_fast(self.checked)
        default = default_asof or dt.datetime.now(dt.timezone.utc).date()
        return run_test(test, engine, default)


_SECTION = re.compile(r"^[ \t]*(?:ruleset|owners|fields|events|list|disqualify|score|grade|accounts|route|test|"
                      r"simulation)\b", re.M)


def _salvage(text: str, path: str, diags: list[Diagnostic], tries: int = 6) -> n.RuleFile | None:
    """The file without the sections that hold its syntax errors, each blanked out in place (so every
    position stays where it was): the names a half-typed file already declares."""
    from dsl.diagnostics import RuleError
    from dsl.parser import parse

    for _ in range(tries):
        err = next((d for d in diags if d.code.startswith("LR1") and d.line), None)
        if err is None:
            return None
        starts = [m.start() for m in _SECTION.finditer(text)]
        lines = text.split("\n")
        at = sum(len(l) + 1 for l in lines[: err.line - 1]) + max(err.col - 1, 0)
        begin = max((s for s in starts if s <= at), default=0)
        # a section cut short ends where the next one starts after the error line
        line_end = sum(len(l) + 1 for l in lines[: err.line])
        end = min((s for s in starts if s >= line_end), default=len(text))
        if end <= begin:
            end = len(text)
        text = text[:begin] + re.sub(r"[^\n]", " ", text[begin:end]) + text[end:]
        try:
            return parse(text, path)
        except RuleError as e:
            diags = list(e.diagnostics)
    return None


def _unique(items: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    seen, out = set(), []
    for it in items:
        if it[0] not in seen:
            seen.add(it[0])
            out.append(it)
    return out
