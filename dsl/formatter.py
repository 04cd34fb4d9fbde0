"""The canonical layout of a rule file: `format_text(text) -> text` (the `leadrules fmt` command).

The layout is printed from our own syntax tree (dsl.nodes, expressions through dsl.printer), never
patched into the source text; comments, which the tree does not hold, are put back next to the
construct they sat on or above. The result is verified by re-parsing it: same tree (modulo the
reordering of sections) and the same comments, or a `FormatError` (a bug in leadrules) is raised.
docs/formatting.md describes the layout.
"""
from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass

from dsl import nodes as n
from dsl import printer as p
from dsl.diagnostics import RuleError
from dsl.parser import parse

# docs/language.md's table order of sections; sections of the same kind keep their relative order,
# which is all the meaning their order has (first disqualify reason wins, grade concatenation, ...).
SECTION_ORDER = (n.Ruleset, n.Owners, n.Fields, n.Events, n.ListDecl, n.Disqualify, n.Score, n.Grade,
                 n.Accounts, n.Route, n.Test, n.Simulation)
_RANK = {k: i for i, k in enumerate(SECTION_ORDER)}

WIDTH = 100            # a list or a test's lead object longer than this is printed one item per line
RULE_ALIGN_LIMIT = 60  # a criterion rule longer than this does not push the `max` column of its block
INDENT = 2

# One-line sections of these groups may sit on consecutive lines (the user's blank lines between
# them are kept); every other pair of sections is separated by exactly one blank line.
_COMPACT_GROUP = {n.Ruleset: "head", n.Owners: "head", n.ListDecl: "list", n.Disqualify: "disqualify"}


class FormatError(Exception):
    """The formatter's output failed its own verification: an internal bug, never a user error."""


def canonical_order(items) -> list:
    """Sections in docs/language.md's order; repeated sections keep their relative order (stable sort)."""
    return sorted(items, key=lambda i: _RANK[type(i)])


def format_text(text: str, path: str = "<string>") -> str:
    """The canonical layout of `text`; raises `RuleError` when the text does not parse."""
    rf = parse(text, path)
    out = _Formatter(rf, text).render()
    _verify(rf, out, path)
    return out


def _verify(rf: n.RuleFile, out: str, path: str) -> None:
    try:
        again = parse(out, path)
    except RuleError as e:
        raise FormatError(f"{path}: the formatted text does not parse: {e.diagnostics[0].message}") from None
    if tuple(canonical_order(rf.items)) != again.items:
        raise FormatError(f"{path}: the formatted text does not mean the same as the original")
    if Counter(c.text for c in rf.comments) != Counter(c.text for c in again.comments):
        raise FormatError(f"{path}: the formatter lost or changed a comment")


# ---- source positions ------------------------------------------------------------------------------

# Just enough of a lexer to find brackets and statement keywords the tree keeps no position for.
_TOKEN = re.compile(r'(?P<s>"(?:[^"\\\n]|\\.)*")|(?P<q>`[^`\n]*`)|(?P<c>#[^\n]*)'
                    r'|(?P<d>\d{4}-\d{2}-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:?\d{2})?)?)'
                    r'|(?P<w>[\w.+\-*%]+)|(?P<p>->|[^\s\w])')
_IDENT = re.compile(r"[^\W\d]\w*|`[^\W\d]\w*`")  # names: letters as Python's identifiers

Pos = tuple[int, int]  # (line, col), 1-based


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    start: int  # offsets into the text; end exclusive
    end: int


class _Source:
    def __init__(self, text: str):
        self.text = text
        self.lines = text.split("\n")  # the parser counts "\n" only (not str.splitlines' separators)
        self.starts = [0]
        for line in self.lines[:-1]:
            self.starts.append(self.starts[-1] + len(line) + 1)

    def off(self, pos: Pos) -> int:
        return self.starts[pos[0] - 1] + pos[1] - 1

    def pos(self, off: int) -> Pos:
        line = bisect.bisect_right(self.starts, off)
        return (line, off - self.starts[line - 1] + 1)

    def blank_between(self, a: int, b: int) -> bool:
        """Is any line strictly between lines a and b empty (or only whitespace)?"""
        return any(not self.lines[k - 1].strip() for k in range(max(a + 1, 1), min(b, len(self.lines) + 1)))

    def tokens(self, start: int, end: int, comments: bool = False) -> list[_Tok]:
        out = []
        for m in _TOKEN.finditer(self.text, start, end):
            if m.lastgroup == "c" and not comments:
                continue
            out.append(_Tok(m.lastgroup, m.group(0), m.start(), m.end()))
        return out


# ---- units: the constructs that get lines of their own ---------------------------------------------


class _Unit:
    """A construct printed on a line (or block of lines) of its own, with the comments that go with it.

    `pre` are the own-line comments printed above it, each with whether a blank line precedes it;
    `code_blank` says whether a blank line separates them (or the previous construct) from the code.
    Blocks also have `children`, the positions of their brackets, a `header` comment (after the
    opening bracket) and `dangling` comments (before the closing one).
    """

    def __init__(self, node, start: Pos, end: Pos, children=None, open_: Pos | None = None,
                 close: Pos | None = None):
        self.node, self.start, self.end = node, start, end
        self.children: list[_Unit] | None = children
        self.open, self.close = open_, close
        self.leading: list[n.Comment] = []
        self.inner: list[n.Comment] = []
        self.trailing: n.Comment | None = None
        self.header: n.Comment | None = None
        self.dangling: list[tuple[bool, n.Comment]] = []
        self.pre: list[tuple[bool, n.Comment]] = []
        self.code_blank = False

    def blank_first(self) -> bool:
        return self.pre[0][0] if self.pre else self.code_blank

    def has_inside_comments(self) -> bool:
        return bool(self.header or self.dangling or any(
            c.pre or c.trailing or c.has_inside_comments() for c in self.children or ()))


def _span(sp: n.Span) -> tuple[Pos, Pos]:
    return (sp.line, sp.col), (sp.end_line, sp.end_col)


class _Builder:
    def __init__(self, src: _Source):
        self.src = src

    def brackets(self, start: Pos, end: Pos, open_char: str = "{") -> tuple[Pos, Pos] | None:
        """The first `open_char` in [start, end] and its matching closing bracket."""
        close_char = {"{": "}", "[": "]"}[open_char]
        depth, first = 0, None
        for t in self.src.tokens(self.src.off(start), self.src.off(end) + 1):
            if t.text == open_char:
                if first is None:
                    first = t.start
                depth += 1
            elif t.text == close_char and first is not None:
                depth -= 1
                if depth == 0:
                    return self.src.pos(first), self.src.pos(t.start)
        return None

    def leaf(self, node, span: n.Span | None = None) -> _Unit:
        s, e = _span(span if span is not None else node.span)
        return _Unit(node, s, e)

    def block(self, node, children_fn, span: n.Span | None = None, open_char: str = "{") -> _Unit:
        s, e = _span(span if span is not None else node.span)
        br = self.brackets(s, e, open_char)
        if br is None:  # cannot happen for a parsed block; keep the comments by hoisting them
            return _Unit(node, s, e)
        u = _Unit(node, s, e, [], br[0], br[1])
        kids = children_fn(u)
        if kids is None:  # the children could not be located: print it as one construct
            return _Unit(node, s, e)
        u.children = kids
        self.fix_ends(kids, self.src.off(br[1]))
        return u

    def fix_ends(self, units: list[_Unit], limit: int) -> None:
        """Recompute the end of every multi-line unit: the end of its last token before the next
        sibling (or `limit`). The parser's span of a node spread over lines can overshoot its end
        column (it is never less than the start column), and an end that is too far right would
        pull a following comment inside the node."""
        units = sorted(units, key=lambda u: u.start)
        for k, u in enumerate(units):
            if u.end[0] == u.start[0]:
                continue
            bound = self.src.off(units[k + 1].start) if k + 1 < len(units) else limit
            bound = min(bound, self.src.off(u.end) + 1)
            toks = [t for t in self.src.tokens(self.src.off(u.start), bound) if t.text != ","]
            if toks:
                u.end = self.src.pos(toks[-1].end - 1)

    def depth0(self, u: _Unit) -> list[_Tok]:
        """The tokens directly inside a block (not inside nested brackets)."""
        toks, depth = [], 0
        for t in self.src.tokens(self.src.off(u.open) + 1, self.src.off(u.close)):
            if t.text in "{[" and t.kind == "p":
                depth += 1
            elif t.text in "}]" and t.kind == "p":
                depth -= 1
            elif depth == 0:
                toks.append(t)
        return toks

    def item(self, it) -> _Unit:
        if isinstance(it, n.Fields):
            return self.block(it, lambda u: [self.leaf(f) for f in _in_order(it.fields, it.columns)])
        if isinstance(it, n.Events):
            return self.block(it, lambda u: [self.leaf(e) for e in _in_order(it.events, it.columns)])
        if isinstance(it, n.ListDecl):
            return self.block(it, lambda u: [self.leaf(i) for i in it.items.items], open_char="[")
        if isinstance(it, n.Score):
            return self.block(it, lambda u: self.score_children(u, it))
        if isinstance(it, n.Grade):
            return self.block(it, lambda u: [self.leaf(b) for b in it.bands])
        if isinstance(it, n.Accounts):
            return self.block(it, lambda u: [self.item(x) for x in (*it.scores, *it.grades)])
        if isinstance(it, n.Route):
            return self.block(it, lambda u: [self.leaf(r) for r in it.lines])
        if isinstance(it, n.Test):
            return self.block(it, lambda u: self.test_children(u, it))
        if isinstance(it, n.Simulation):
            return self.block(it, lambda u: self.sim_children(u, it))
        return self.leaf(it)

    def score_children(self, u: _Unit, sc: n.Score) -> list[_Unit]:
        out = [self.leaf(r) for r in sc.resets]  # the grammar puts them after `decay`, before criteria
        for c in sc.criteria:
            if c.kind == "first":
                out.append(self.block(c, lambda _u, c=c: [self.leaf(t) for t in c.tiers]))
            else:
                out.append(self.leaf(c))
        if sc.half_life is not None:
            # `decay half-life` precedes every criterion; its keyword has no position in the tree.
            limit = self.src.off(out[0].start) if out else self.src.off(u.close)
            kw = next((t for t in self.depth0(u) if t.text == "decay" and t.start < limit), None)
            start = self.src.pos(kw.start) if kw else _span(sc.half_life.span)[0]
            out.insert(0, _Unit(("decay", sc.half_life), start, _span(sc.half_life.span)[1]))
        return out

    def statements(self, u: _Unit, spec: dict[str, tuple[str, str]]) -> dict[str, tuple[Pos, Pos]]:
        """Positions of `KEYWORD WORD VALUE` statements the tree keeps no span for (the last of each
        kind, as the parser keeps the last): spec maps a name to (keyword, next word or '')."""
        toks = self.depth0(u)
        found = {}
        for i, t in enumerate(toks):
            for name, (kw, nxt) in spec.items():
                if t.text != kw:
                    continue
                j = i + 1
                if nxt:
                    if j >= len(toks) or toks[j].text != nxt:
                        continue
                    j += 1
                if j < len(toks):
                    found[name] = (self.src.pos(t.start), self.src.pos(toks[j].end - 1))
        return found

    def expect_start(self, u: _Unit, start: Pos) -> Pos:
        # An expectation's span starts after its `expect` keyword.
        off = self.src.off(start)
        before = self.src.text[self.src.off(u.open) + 1:off].rstrip()
        if before.endswith("expect"):
            return self.src.pos(self.src.off(u.open) + 1 + len(before) - len("expect"))
        return start

    def test_children(self, u: _Unit, t: n.Test) -> list[_Unit]:
        out = []
        st = self.statements(u, {"as_of": ("as", "of")})
        if t.as_of is not None and "as_of" in st:
            out.append(_Unit(("as_of", t.as_of), *st["as_of"]))
        if t.lead_span.line:
            out.append(self.block(("lead", t.lead), lambda lu: self.pairs(lu, t.lead), span=t.lead_span))
        out += [self.leaf(e) for e in t.events]
        for e in t.expects:
            s, end = _span(e.span)
            out.append(_Unit(e, self.expect_start(u, s), end))
        return out

    def pairs(self, u: _Unit, pairs) -> list[_Unit] | None:
        toks = self.depth0(u)
        # key starts: a name followed by ':' at the object's own depth
        keys = [i for i in range(len(toks) - 1)
                if toks[i].kind in ("w", "q") and _IDENT.fullmatch(toks[i].text) and toks[i + 1].text == ":"]
        if len(keys) != len(pairs):
            return None
        out = []
        close = self.src.off(u.close)
        for k, i in enumerate(keys):
            stop = toks[keys[k + 1]].start if k + 1 < len(keys) else close
            # the pair ends at its value's last character: nested brackets are not depth-0 tokens
            inner = [t for t in self.src.tokens(toks[i].start, stop) if t.text != ","]
            end = inner[-1].end - 1
            out.append(_Unit(("pair", pairs[k]), self.src.pos(toks[i].start), self.src.pos(end)))
        return out

    def sim_children(self, u: _Unit, s: n.Simulation) -> list[_Unit]:
        out = []
        st = self.statements(u, {"leads": ("leads", ""), "events": ("events", ""), "as_of": ("as", "of")})
        for key, value in (("leads", s.leads), ("events", s.events), ("as_of", s.as_of)):
            if value is not None and key in st:
                out.append(_Unit((key, value), *st[key]))
        out += sorted((self.leaf(e) for e in (*s.expects, *s.flows)), key=lambda u: u.start)
        return out


# ---- comments -------------------------------------------------------------------------------------


def _distribute(units: list[_Unit], comments: list[n.Comment], region: _Unit | None) -> list[n.Comment]:
    """Attach each comment to a unit of this container (recursing into blocks); return the ones left
    at the end of the container (before its closing bracket, or at the end of the file)."""
    units = sorted(units, key=lambda u: u.start)
    inside: dict[int, list[n.Comment]] = {}
    dangling = []
    for c in comments:
        pos = (c.line, c.col)
        owner = next((u for u in units if u.start <= pos <= u.end), None)
        if owner is not None:
            if owner.children is not None and owner.open < pos < owner.close:
                inside.setdefault(id(owner), []).append(c)
            else:
                owner.inner.append(c)  # inside a construct printed on one line: goes above it
            continue
        ended = [u for u in units if u.end[0] == c.line and u.end < pos]
        if ended:
            ended[-1].trailing = c
        elif region is not None and c.line == region.open[0]:
            region.header = c
        else:
            nxt = next((u for u in units if u.start > pos), None)
            if nxt is not None:
                nxt.leading.append(c)
            else:
                dangling.append(c)
    for u in units:
        if u.children is not None:
            rest = _distribute(u.children, inside.get(id(u), []), u)
            u.dangling = [(False, c) for c in rest]
    return dangling


def _blank_flags(units: list[_Unit], src: _Source, prev_line: int) -> int:
    """Record, for every unit of a container, where the source had blank lines; returns the last line."""
    for u in sorted(units, key=lambda u: u.start):
        line = prev_line
        for c in u.leading:
            u.pre.append((src.blank_between(line, c.line), c))
            line = c.line
        code_blank = src.blank_between(line, u.start[0])
        for k, c in enumerate(u.inner):
            u.pre.append((code_blank if k == 0 else False, c))
        u.code_blank = False if u.inner else code_blank
        if u.children is not None:
            last = _blank_flags(u.children, src, u.open[0])
            u.dangling = [(src.blank_between(last if k == 0 else u.dangling[k - 1][1].line, c.line), c)
                          for k, (_, c) in enumerate(u.dangling)]
        prev_line = u.end[0]
    return prev_line


# ---- printing ---------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Line:
    indent: int = 0
    code: str | None = None     # None with comment None: a blank line
    comment: str | None = None


_BLANK = _Line()


def _ctext(c: n.Comment | None) -> str | None:
    return c.text if c is not None else None


def band_name(name: str) -> str:
    return p.ident(name)


def _data(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return p.quote(v)
    if isinstance(v, n.Literal):
        return p.literal(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_data(x) for x in v) + "]"
    return p.num(v)


def _pct(x: float) -> str:
    return p.num(x) + "%"


def _action(a: n.Action) -> str:
    s = a.kind
    if a.queue is not None:
        s += " " + p.quote(a.queue)
    if a.sla is not None:
        s += " within " + p.duration(a.sla)
    return s


def expect_words(e: n.Expect) -> str:
    """A test's expectation as the rule file writes it after `expect` (also the docs sheet's words)."""
    k = e.kind
    if k == "grade":
        return f"grade {e.arg}"
    if k == "route":
        return f"route {e.arg}" + (f" {p.quote(e.queue)}" if e.queue is not None else "")
    if k == "disqualified":
        return "disqualified" + (f" {p.quote(e.arg)}" if e.arg is not None else "")
    if k == "not_disqualified":
        return "not disqualified"
    if k == "fires":
        return f"criterion {p.quote(e.arg)} fires"
    if k == "not_fires":
        return f"criterion {p.quote(e.arg)} does not fire"
    if k == "account":
        return f"account {band_name(e.arg)}"
    if k == "score":
        return f"{p.ident(e.arg)} {e.op} {p.num(e.low)}"
    if k == "score_between":
        return f"{p.ident(e.arg)} between {p.num(e.low)} and {p.num(e.high)}"
    raise TypeError(f"unknown expectation {k!r}")


def share_words(e: n.ShareExpect) -> str:
    """A simulation guardrail as the rule file writes it after `expect` (simulate and the docs sheet report it so)."""
    if e.subject == "route":
        subj = f"route {e.arg}" + (f" {p.quote(e.queue)}" if e.queue is not None else "")
    elif e.subject == "grade":
        subj = f"grade {e.arg}"
    elif e.subject == "disqualified":
        subj = "disqualified" + (f" {p.quote(e.arg)}" if e.arg is not None else "")
    else:
        subj = f"account {band_name(e.arg)}"
    if e.bound == "between":
        bound = f"between {_pct(e.low)} and {_pct(e.high)}"
    elif e.bound == "at_most":
        bound = f"at most {_pct(e.high)}"
    else:
        bound = f"at least {_pct(e.low)}"
    return f"share of {subj} {bound}"


def flow_text(e: n.FlowExpect) -> str:
    """`expect new leads in route ACTION ["QUEUE"] per day BOUND`, canonical."""
    subj = f"route {e.arg}" + (f" {p.quote(e.queue)}" if e.queue is not None else "")
    if e.bound == "between":
        bound = f"between {p.num(e.low)} and {p.num(e.high)}"
    elif e.bound == "at_most":
        bound = f"at most {p.num(e.high)}"
    else:
        bound = f"at least {p.num(e.low)}"
    return f"expect new leads in {subj} per day {bound}"


def _test_event(e: n.TestEvent) -> str:
    s = f"event {p.ident(e.type)}"
    if e.attrs:
        s += " { " + ", ".join(f"{p.ident(k)}: {_data(v)}" for k, v in e.attrs) + " }"
    if e.at is not None:
        s += f" at {e.at}"
    elif e.ago_text is not None:
        s += f" {p.duration(e.ago_text)} ago"
    return s


def _in_order(decls, columns) -> list:
    """Declarations and `x from "..."` column lines, as the file has them."""
    return sorted((*decls, *columns), key=lambda d: (d.span.line, d.span.col))


def _from(source: str | None) -> str:
    return "" if source is None else f" from {p.quote(source)}"


def _field_decl(d) -> str:
    if isinstance(d, n.ColumnDecl):
        return f"{d.role}{_from(d.column)}"
    return f"{p.ident(d.name)}: {d.type}{_from(d.source)}"


def _event_decl(e) -> str:
    if isinstance(e, n.ColumnDecl):
        return f"{e.role}{_from(e.column)}"
    head = p.ident(e.name) + _from(e.source)
    if not e.attrs:
        return head
    return head + (" (" if e.source is not None else "(") + ", ".join(_field_decl(a) for a in e.attrs) + ")"


def _criterion_parts(c: n.Criterion) -> tuple[str, str, str, str | None]:
    """(name, points, rule, max) of a `when` or `each` criterion."""
    if c.kind == "when":
        rule = "when " + p.cond(c.cond)
    elif c.per_count:
        rule = "per count " + p.event_filter(c.filter)
    else:
        per = f"per {p.ident(c.per)} " if c.per is not None else ""
        rule = per + "each " + p.event_filter(c.filter) + (" no decay" if c.no_decay else "")
    return p.quote(c.name), p.points(c.points), rule, (f"max {p.num(c.max)}" if c.max is not None else None)


class _Formatter:
    def __init__(self, rf: n.RuleFile, text: str):
        self.rf = rf
        self.src = _Source(text)
        self.b = _Builder(self.src)

    # -- driver --
    def render(self) -> str:
        units = [self.b.item(it) for it in self.rf.items]
        self.b.fix_ends(units, len(self.src.text))
        end_comments = _distribute(units, list(self.rf.comments), None)
        last = _blank_flags(units, self.src, 0)
        header: list[tuple[bool, n.Comment]] = []
        if units:
            first = min(units, key=lambda u: u.start)
            # Comments at the top of the file, set off from the first section by a blank line, are the
            # file's header: they stay at the top whatever section the reordering puts first.
            if first.pre and first.code_blank:
                cut = len(first.pre)
            else:
                cut = max((k for k, (blank, _) in enumerate(first.pre) if blank and k > 0), default=None)
            if cut is not None:
                header, first.pre = first.pre[:cut], first.pre[cut:]
                if first.pre:
                    first.pre[0] = (False, first.pre[0][1])
                else:
                    first.code_blank = False
        out: list[_Line] = []
        for k, (blank, c) in enumerate(header):
            if blank and k:
                out.append(_BLANK)
            out.append(_Line(0, None, c.text))
        ordered = sorted(units, key=lambda u: _RANK[type(u.node)])
        prev = None
        for u in ordered:
            lines: list[_Line] = []
            self.emit_pre(lines, u, 0, at_start=True)
            self.emit_item(lines, u, 0)
            if out:
                if prev is not None and self.compact(prev, u):
                    if u.blank_first():
                        out.append(_BLANK)
                else:
                    out.append(_BLANK)
            out += lines
            prev = u
        line = last
        for k, c in enumerate(end_comments):
            if out and self.src.blank_between(line, c.line):
                out.append(_BLANK)
            out.append(_Line(0, None, c.text))
            line = c.line
        return _render(out)

    def compact(self, a: _Unit, b: _Unit) -> bool:
        ga, gb = _COMPACT_GROUP.get(type(a.node)), _COMPACT_GROUP.get(type(b.node))
        return ga is not None and ga == gb and self.one_line(a) and self.one_line(b)

    def one_line(self, u: _Unit) -> bool:
        return not isinstance(u.node, n.ListDecl) or not self.explode_list(u, 0)

    # -- generic pieces --
    def emit_pre(self, out: list[_Line], u: _Unit, indent: int, at_start: bool) -> None:
        first = True
        for blank, c in u.pre:
            if blank and not (first and at_start):
                out.append(_BLANK)
            out.append(_Line(indent, None, c.text))
            first = False
        if u.code_blank and not (first and at_start):
            out.append(_BLANK)

    def block(self, out, u: _Unit, indent: int, head: str, children: list[_Unit], emit_child,
              open_: str = "{", close: str = "}", suffix: str = "") -> None:
        if not children and not u.header and not u.dangling:
            out.append(_Line(indent, f"{head} {open_}{close}{suffix}", _ctext(u.trailing)))
            return
        out.append(_Line(indent, f"{head} {open_}", _ctext(u.header)))
        for k, ch in enumerate(children):
            self.emit_pre(out, ch, indent + INDENT, at_start=(k == 0))
            emit_child(out, ch, indent + INDENT)
        for k, (blank, c) in enumerate(u.dangling):
            if blank and (children or k):
                out.append(_BLANK)
            out.append(_Line(indent + INDENT, None, c.text))
        out.append(_Line(indent, close + suffix, _ctext(u.trailing)))

    def line(self, out, u: _Unit, indent: int, code: str) -> None:
        out.append(_Line(indent, code, _ctext(u.trailing)))

    # -- sections --
    def emit_item(self, out, u: _Unit, indent: int) -> None:
        it = u.node
        kids = u.children or []
        if isinstance(it, n.Ruleset):
            self.line(out, u, indent, f"ruleset {p.quote(it.name)} version {p.num(it.version)}")
        elif isinstance(it, n.Owners):
            self.line(out, u, indent, "owners " + ", ".join(p.quote(o) for o in it.owners))
        elif isinstance(it, n.Fields):
            self.block(out, u, indent, "fields", kids, lambda o, c, i: self.line(o, c, i, _field_decl(c.node)))
        elif isinstance(it, n.Events):
            self.block(out, u, indent, "events", kids, lambda o, c, i: self.line(o, c, i, _event_decl(c.node)))
        elif isinstance(it, n.ListDecl):
            head = f"list {p.ident(it.name)} ="
            if self.explode_list(u, indent):
                self.block(out, u, indent, head, kids, lambda o, c, i: self.line(o, c, i, p.literal(c.node) + ","),
                           open_="[", close="]")
            else:
                self.line(out, u, indent, f"{head} {p.list_ref(it.items)}")
        elif isinstance(it, n.Disqualify):
            self.line(out, u, indent, f"disqualify {p.quote(it.reason)} when {p.cond(it.cond)}")
        elif isinstance(it, n.Score):
            self.emit_score(out, u, indent)
        elif isinstance(it, n.Grade):
            self.emit_grade(out, u, indent)
        elif isinstance(it, n.Accounts):
            order = sorted(kids, key=lambda c: 0 if isinstance(c.node, n.Score) else 1)
            self.block(out, u, indent, f"accounts by {p.value(it.key)}", order, self.emit_item)
        elif isinstance(it, n.Route):
            self.emit_route(out, u, indent)
        elif isinstance(it, n.Test):
            self.emit_test(out, u, indent)
        elif isinstance(it, n.Simulation):
            self.emit_simulation(out, u, indent)
        else:
            raise TypeError(f"unknown section {type(it).__name__}")

    def explode_list(self, u: _Unit, indent: int) -> bool:
        if u.children is None:
            return False
        one = f"list {p.ident(u.node.name)} = {p.list_ref(u.node.items)}"
        return u.has_inside_comments() or (bool(u.children) and indent + len(one) > WIDTH)

    def emit_score(self, out, u: _Unit, indent: int) -> None:
        sc: n.Score = u.node
        head = f"score {p.ident(sc.dim)} {p.quote(sc.label)} max {p.num(sc.max)}"
        if sc.floor != 0:
            head += f" floor {p.num(sc.floor)}"
        kids = u.children or []
        flat = [_criterion_parts(c.node) for c in kids if isinstance(c.node, n.Criterion) and c.node.kind != "first"]
        name_w = max((len(x[0]) for x in flat), default=0)
        pts_w = max((len(x[1]) for x in flat), default=0)
        rule_w = max((len(x[2]) for x in flat if x[3] and len(x[2]) <= RULE_ALIGN_LIMIT), default=0)

        def emit(o, c: _Unit, i: int) -> None:
            node = c.node
            if isinstance(node, tuple):  # ("decay", duration)
                self.line(o, c, i, f"decay half-life {p.duration(node[1])}")
            elif isinstance(node, n.Reset):
                self.line(o, c, i, p.reset(node))
            elif node.kind == "first":
                self.emit_first(o, c, i)
            else:
                name, pts, rule, mx = _criterion_parts(node)
                code = f"{name.ljust(name_w)}  {pts.ljust(pts_w)}  "
                if mx is None:
                    code += rule
                elif len(rule) <= RULE_ALIGN_LIMIT:
                    code += f"{rule.ljust(rule_w)}  {mx}"
                else:
                    code += f"{rule}  {mx}"
                self.line(o, c, i, code)

        self.block(out, u, indent, head, kids, emit)

    def emit_first(self, out, u: _Unit, indent: int) -> None:
        c: n.Criterion = u.node
        tiers = u.children or []
        pts_w = max((len(p.points(t.node.points)) for t in tiers), default=0)

        def emit(o, t: _Unit, i: int) -> None:
            tier: n.Tier = t.node
            rest = "otherwise" if tier.cond is None else "when " + p.cond(tier.cond)
            self.line(o, t, i, f"{p.points(tier.points).ljust(pts_w)}  {rest}")

        suffix = f" max {p.num(c.max)}" if c.max is not None else ""
        self.block(out, u, indent, f"{p.quote(c.name)} first of", tiers, emit, suffix=suffix)

    def emit_grade(self, out, u: _Unit, indent: int) -> None:
        g: n.Grade = u.node
        kids = u.children or []
        w = max((len(band_name(b.node.name)) for b in kids), default=0)

        def emit(o, b: _Unit, i: int) -> None:
            band: n.Band = b.node
            rest = "otherwise" if band.threshold is None else f"when >= {p.num(band.threshold)}"
            self.line(o, b, i, f"{band_name(band.name).ljust(w)} {rest}")

        self.block(out, u, indent, f"grade {p.ident(g.dim)}", kids, emit)

    def emit_route(self, out, u: _Unit, indent: int) -> None:
        kids = u.children or []

        def pats(r: n.RouteLine) -> str:
            s = f"account {band_name(r.account_band)} and " if r.account_band is not None else ""
            return s + ", ".join(x.text for x in r.patterns)

        w = max((len(pats(r.node)) for r in kids), default=0)
        self.block(out, u, indent, "route", kids,
                   lambda o, r, i: self.line(o, r, i, f"{pats(r.node).ljust(w)}  -> {_action(r.node.action)}"))

    def emit_test(self, out, u: _Unit, indent: int) -> None:
        t: n.Test = u.node
        rank = {"as_of": 0, "lead": 1}

        def order(c: _Unit) -> int:
            if isinstance(c.node, tuple):
                return rank[c.node[0]]
            return 2 if isinstance(c.node, n.TestEvent) else 3

        kids = sorted(u.children or [], key=order)

        def emit(o, c: _Unit, i: int) -> None:
            node = c.node
            if isinstance(node, tuple) and node[0] == "as_of":
                self.line(o, c, i, f"as of {node[1]}")
            elif isinstance(node, tuple) and node[0] == "lead":
                self.emit_lead(o, c, i)
            elif isinstance(node, n.TestEvent):
                self.line(o, c, i, _test_event(node))
            else:
                self.line(o, c, i, "expect " + expect_words(node))

        self.block(out, u, indent, f"test {p.quote(t.name)}", kids, emit)

    def emit_lead(self, out, u: _Unit, indent: int) -> None:
        pairs = u.node[1]
        one = "lead { " + ", ".join(f"{p.ident(k)}: {_data(v)}" for k, v in pairs) + " }" if pairs else "lead {}"
        explode = u.children is not None and (u.has_inside_comments() or (bool(pairs) and indent + len(one) > WIDTH))
        if not explode:
            self.line(out, u, indent, one)
            return
        self.block(out, u, indent, "lead", u.children or [],
                   lambda o, c, i: self.line(o, c, i, f"{p.ident(c.node[1][0])}: {_data(c.node[1][1])},"))

    def emit_simulation(self, out, u: _Unit, indent: int) -> None:
        s: n.Simulation = u.node
        rank = {"leads": 0, "events": 1, "as_of": 2}
        kids = sorted(u.children or [], key=lambda c: rank[c.node[0]] if isinstance(c.node, tuple) else 3)

        def emit(o, c: _Unit, i: int) -> None:
            node = c.node
            if isinstance(node, tuple):
                key, value = node
                code = f"as of {value}" if key == "as_of" else f"{key} {p.quote(value)}"
                self.line(o, c, i, code)
            elif isinstance(node, n.FlowExpect):
                self.line(o, c, i, flow_text(node))
            else:
                self.line(o, c, i, "expect " + share_words(node))

        self.block(out, u, indent, f"simulation {p.quote(s.name)}", kids, emit)


def _render(lines: list[_Line]) -> str:
    # Trailing comments on consecutive lines of the same indentation line up (as gofmt does).
    widths = [None] * len(lines)
    k = 0
    while k < len(lines):
        ln = lines[k]
        if ln.code is not None and ln.comment is not None:
            j = k
            while (j < len(lines) and lines[j].code is not None and lines[j].comment is not None
                   and lines[j].indent == ln.indent):
                j += 1
            w = max(len(lines[x].code) for x in range(k, j))
            for x in range(k, j):
                widths[x] = w
            k = j
        else:
            k += 1
    text = []
    for ln, w in zip(lines, widths):
        if ln.code is None and ln.comment is None:
            if text and text[-1] != "":
                text.append("")
            continue
        pad = " " * ln.indent
        if ln.code is None:
            text.append(pad + ln.comment)
        elif ln.comment is None:
            text.append(pad + ln.code)
        else:
            text.append(pad + ln.code.ljust(w) + "  " + ln.comment)
    while text and text[-1] == "":
        text.pop()
    return "\n".join(text) + "\n" if text else ""


def rules_sha256(text: str, path: str = "<string>") -> str | None:
    """SHA-256 (hex) of the rule file's canonical `fmt` text (UTF-8): layout does not change it (fmt
    normalises it); a change of meaning does, and so does a comment (fmt keeps comments). The same value score records and the scoring sheet carry. None when the
    text does not format (it does not parse)."""
    import hashlib

    from dsl.diagnostics import RuleError

    try:
        canonical = format_text(text, path)
    except (FormatError, RuleError):
        return None
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
