"""Lint: the findings that need more than names and types, and the `# leadrules: ignore` comments.

`lint(checked)` looks at a checked file for logic a reviewer would catch (a criterion that can never
fire, a disqualify reason or a tier an earlier one always beats, a `within` window the decay has
long emptied, an `each` criterion with no cap and no decay, a needless `no decay`); the checker
(dsl/checker.py) already reports names, types, bands, routes, lists and tests. `suppress(diags, rf)`
applies the ignore comments to both. `lint_text` does check + lint + suppress, as `leadrules lint` does.

Every finding about conditions is *provable* from the file alone: one is called impossible only when no
lead whatever can make it hold (see docs/language.md: a missing value fails every test). Where that needs
real reasoning (regexes, `not`, sums), lint stays silent rather than guess.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field

from dsl import nodes as n
from dsl import printer
from dsl.diagnostics import CODES, Diagnostic, diag, sort_key

# An event older than where its weight drops below this share of its points hardly counts: a
# `within` window reaching further than that is only noise (LR316).
WEIGHT_FLOOR = 0.05


def lint(checked) -> list[Diagnostic]:
    """The findings beyond the checker's, sorted by position. Never raises for a user's mistake."""
    return sorted(_Linter(checked).run(), key=sort_key)


def lint_text(text: str, path: str = "<string>") -> list[Diagnostic]:
    """Everything `leadrules lint` reports for one file: checker + lint, ignore comments applied."""
    from dsl.checker import check_text

    checked = check_text(text, path)
    return suppress(checked.diagnostics + lint(checked), checked.file)


# ---- suppression ----------------------------------------------------------------------------------
#
# `# leadrules: ignore LR309` (or `LR306, LR309`, or bare `# leadrules: ignore` for every code) on a line
# silences the warnings that start on that line; a finding about a whole block starts on its first
# line. Errors are never silenced: an error means the file does not compile, so `test`, `score` and
# `simulate` would refuse it anyway, and a lint that passed would be lying. A comment that silences
# nothing, or names something that is not a code that can be silenced, is itself reported (LR410), so
# that stale comments do not pile up and a typo in a code does not look like it worked.

_IGNORE = re.compile(r"^#\s*leadrules\s*:\s*ignore\b(.*)$", re.IGNORECASE)
_CODE_TOKEN = re.compile(r"LR\w*", re.IGNORECASE)


@dataclass
class Ignore:
    line: int
    col: int
    codes: list[str] | None      # None: every code
    bad: list[str] = field(default_factory=list)  # code-like tokens that name no code
    used: bool = False


def ignore_comments(rf: n.RuleFile) -> list[Ignore]:
    """The `# leadrules: ignore …` comments of a file. Codes may be separated by commas or spaces and
    may be followed by free text (`# leadrules: ignore LR309 kept for Q3`)."""
    out = []
    for c in rf.comments:
        m = _IGNORE.match(c.text.strip())
        if not m:
            continue
        codes, bad = [], []
        for tok in re.split(r"[\s,]+", m.group(1).strip()):
            if not tok:
                continue
            if not _CODE_TOKEN.fullmatch(tok):
                break  # the explanation after the codes
            code = tok.upper()
            (codes if code in CODES else bad).append(code)
        out.append(Ignore(c.line, c.col, codes if (codes or bad) else None, bad))
    return out


def suppress(diags: list[Diagnostic], rf: n.RuleFile) -> list[Diagnostic]:
    """Drop the warnings that an ignore comment on their (first) line silences; report (LR410) the
    comments that silence nothing. Errors always stay."""
    ignores = ignore_comments(rf)
    by_line: dict[int, list[Ignore]] = {}
    for ig in ignores:
        by_line.setdefault(ig.line, []).append(ig)
    kept, blocked = [], []  # blocked: (ignore, error diagnostic it tried to silence)
    for d in diags:
        hits = [ig for ig in by_line.get(d.line, ()) if d.line and (ig.codes is None or d.code in ig.codes)]
        if not hits:
            kept.append(d)
        elif d.is_error:
            kept.append(d)
            blocked += [(ig, d) for ig in hits]
        else:
            for ig in hits:
                ig.used = True
    path = rf.path
    for ig in ignores:
        span = n.Span(path, ig.line, ig.col, ig.line, ig.col)
        for code in ig.bad:
            kept.append(diag("LR410", f"{code} is not a leadrules code, so this comment silences nothing", span,
                             "codes look like LR309; docs/lint.md lists them"))
        errs = sorted({d.code for g, d in blocked if g is ig})
        if errs:
            kept.append(diag("LR410", f"{', '.join(errs)} {'is an error' if len(errs) == 1 else 'are errors'}, "
                             "and errors cannot be silenced: the file would not run", span,
                             "fix the error instead; only warnings can be ignored"))
        elif not ig.used and not ig.bad:
            what = "any finding" if ig.codes is None else " or ".join(ig.codes)
            kept.append(diag("LR410", f"this comment silences nothing: there is no {what} on line {ig.line}", span,
                             "delete the comment (the finding it was for is gone), or move it to the line the "
                             "finding points at"))
    kept.sort(key=sort_key)
    return kept


# ---- conditions that can never hold --------------------------------------------------------------
#
# A condition is split into the tests joined by `and`; the tests on one value (a field, an attribute,
# `count …`, `length(x)` …) are turned into what they allow: a range, a set of values, present or
# missing. When nothing is left, the condition can never hold. `or` can never hold when none of its
# branches can; `not` and regexes are left alone.


def _strip(c):
    while isinstance(c, n.Paren):
        c = c.cond
    return c


def _flat(c, op: str) -> list:
    c = _strip(c)
    if isinstance(c, n.BoolOp) and c.op == op:
        return [x for i in c.items for x in _flat(i, op)]
    return [c]


def _norm_text(s) -> str | None:
    """Text as the language compares it (trimmed, lower case); blank text is a missing value."""
    s = str(s).strip().lower()
    return s or None


# values that are whole numbers / never negative, whatever the lead
_WHOLE = (n.Count, n.CountTypes, n.DaysSinceLast, n.DaysSince)
_NONNEG = (n.Count, n.CountTypes, n.DaysSinceLast)


def _is_whole(v) -> bool:
    return isinstance(v, _WHOLE) or (isinstance(v, n.Call) and v.func == "length")


def _is_nonneg(v) -> bool:
    return isinstance(v, _NONNEG) or (isinstance(v, n.Call) and v.func == "length")


def _lit(l: n.Literal):
    """(kind, comparable value) of a literal; None when it is not one we reason about."""
    if l.kind == "number" and isinstance(l.value, (int, float)) and not isinstance(l.value, bool):
        return "number", float(l.value)
    if l.kind == "date":
        try:
            return "date", dt.date.fromisoformat(str(l.value)[:10]).toordinal()
        except ValueError:
            return None
    if l.kind == "text":
        return "text", _norm_text(l.value)
    if l.kind == "bool":
        return "bool", bool(l.value)
    return None


_FLIP = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "=": "=", "!=": "!="}


@dataclass
class _Facts:
    """What the tests joined by `and` say about one value."""

    kind: str | None = None
    lo: float | None = None
    lo_incl: bool = True
    hi: float | None = None
    hi_incl: bool = True
    eq: set | None = None       # the value must be one of these (None: any)
    ne: set = field(default_factory=set)
    present: bool = False       # some test needs the value present
    missing: bool = False       # `is missing`
    tests: list = field(default_factory=list)
    mixed: bool = False         # tests of different kinds (a type error the checker reports)

    def kind_is(self, k: str) -> bool:
        if self.kind is None:
            self.kind = k
        elif self.kind != k:
            self.mixed = True
        return not self.mixed

    def bound(self, op: str, x) -> None:
        if op in (">", ">="):
            incl = op == ">="
            if self.lo is None or x > self.lo or (x == self.lo and not incl):
                self.lo, self.lo_incl = x, incl
        elif op in ("<", "<="):
            incl = op == "<="
            if self.hi is None or x < self.hi or (x == self.hi and not incl):
                self.hi, self.hi_incl = x, incl

    def allow(self, values) -> None:
        values = {v for v in values if v is not None}
        self.eq = values if self.eq is None else self.eq & values


class _Lists:
    """Resolves list references to their values (named lists from the checker's table)."""

    def __init__(self, lists: dict):
        self.lists = lists

    def items(self, ref) -> list | None:
        if isinstance(ref, n.ListLit):
            return [_lit(i) for i in ref.items]
        if isinstance(ref, n.Name) and ref.name in self.lists:
            out = []
            for x in self.lists[ref.name]:
                if isinstance(x, bool):
                    out.append(None)
                elif isinstance(x, (int, float)):
                    out.append(("number", float(x)))
                else:
                    out.append(("text", _norm_text(x)))
            return out
        return None  # unknown list: already an error


@dataclass
class Why:
    """Why a condition can never hold: the tests involved and the reason in words."""

    tests: list
    reason: str

    def text(self) -> str:
        shown = [f"`{printer.cond(t)}`" for t in self.tests[:4]] + (["…"] if len(self.tests) > 4 else [])
        if len(shown) == 1:
            return f"{shown[0]} can never hold: {self.reason}"
        both = "both" if len(shown) == 2 else "all"
        return f"{', '.join(shown[:-1])} and {shown[-1]} cannot {both} hold: {self.reason}"


class Impossible:
    """Decides, for conditions of one file, whether they can never hold."""

    def __init__(self, lists: dict):
        self.lists = _Lists(lists)
        self.budget = 0

    def why(self, c) -> Why | None:
        """Why `c` can never hold, or None when it can (or lint cannot tell)."""
        self.budget = 256  # `or`s distributed over an `and`: plenty for any condition people write
        return self._why(c)

    def _why(self, c) -> Why | None:
        c = _strip(c)
        if isinstance(c, n.BoolOp) and c.op == "or":
            whys = [self._why(i) for i in _flat(c, "or")]
            if all(whys):
                tests = [t for w in whys for t in w.tests]
                return Why(tests, "none of the alternatives can: " + "; ".join(dict.fromkeys(w.reason for w in whys)))
            return None
        conj = _flat(c, "and")
        for item in conj:
            if isinstance(item, n.BoolOp):  # an `or` inside the `and`
                w = self._why(item)
                if w:
                    return w
            elif isinstance(item, n.Has) and item.filter.where is not None:
                w = self._why(item.filter.where)
                if w:
                    return Why([item], f"no {item.filter.event or 'event'} can match, as {w.text()}")
        w = self.contradiction(conj)
        if w:
            return w
        # `a > 5 and (a < 1 or a < 2)`: each branch of an `or`, with the other tests, contradicts itself
        ors = [i for i in conj if isinstance(i, n.BoolOp) and i.op == "or"]
        if ors and self.budget > 0:
            self.budget -= 1
            rest = [i for i in conj if i is not ors[0]]
            whys = []
            for branch in _flat(ors[0], "or"):
                w = self._why(n.BoolOp("and", tuple(rest + [branch])))
                if not w:
                    return None
                whys.append(w)
            tests = list(dict.fromkeys(t for w in whys for t in w.tests))
            return Why(tests, "; ".join(dict.fromkeys(w.reason for w in whys)))
        return None

    def parts(self, c) -> list[Why]:
        """Pieces of a condition that can hold as a whole but contain a branch that never can."""
        out: list[Why] = []
        c = _strip(c)
        if isinstance(c, n.BoolOp):
            items = _flat(c, c.op)
            for i in items:
                w = self.why(i) if c.op == "or" else None
                if w:
                    out.append(w)
                else:
                    out += self.parts(i)
        elif isinstance(c, n.Not):
            w = self.why(c.cond)
            if w:
                out.append(Why(w.tests, w.reason + f", so `{printer.cond(c)}` is always true"))
            else:
                out += self.parts(c.cond)
        elif isinstance(c, n.Has) and c.filter.where is not None:
            out += self.parts(c.filter.where)
        return out

    # -- the tests of one `and` --------------------------------------------------------------------
    def contradiction(self, conj: list) -> Why | None:
        facts: dict[object, _Facts] = {}

        def of(v) -> _Facts:
            return facts.setdefault(v, _Facts())

        for t in conj:
            if isinstance(t, n.Compare):
                left, right, op = t.left, t.right, t.op
                if left == right and not isinstance(left, n.Literal) and op in ("!=", "<", ">"):
                    rel = {"!=": "different from", "<": "less than", ">": "greater than"}[op]
                    return Why([t], f"a value is never {rel} itself")
                if isinstance(left, n.Literal) and not isinstance(right, n.Literal):
                    left, right, op = right, left, _FLIP[op]
                if isinstance(left, n.Literal) or not isinstance(right, n.Literal):
                    for side in (left, right):  # two values compared: both must be present
                        if not isinstance(side, n.Literal):
                            of(side).present = True
                            of(side).tests.append(t)
                    continue
                f = of(left)
                f.tests.append(t)
                f.present = True
                lit = _lit(right)
                if lit is None:
                    continue
                kind, x = lit
                if x is None:
                    return Why([t], "empty text counts as missing, and a missing value fails every comparison; "
                                    f"ask `{printer.value(left)} is missing`")
                if not f.kind_is(kind):
                    continue
                if op == "=":
                    f.allow({x})
                elif op == "!=":
                    f.ne.add(x)
                elif kind in ("number", "date"):
                    f.bound(op, x)
            elif isinstance(t, n.Between):
                f = of(t.value)
                f.tests.append(t)
                f.present = True
                if isinstance(t.low, n.Literal) and isinstance(t.high, n.Literal):
                    lo, hi = _lit(t.low), _lit(t.high)
                    # a reversed `between 10 and 5` is the checker's LR205 error already
                    if lo and hi and lo[0] == hi[0] and lo[1] <= hi[1] and f.kind_is(lo[0]):
                        f.bound(">=", lo[1])
                        f.bound("<=", hi[1])
            elif isinstance(t, n.In):
                f = of(t.value)
                f.tests.append(t)
                f.present = True
                items = self.lists.items(t.items)
                if items is None:
                    continue
                vals = [i for i in items if i is not None and i[1] is not None]
                if not t.negated and not vals:
                    return Why([t], "the list holds no value that can match" if items else "the list is empty")
                kinds = {k for k, _ in vals}
                if len(kinds) == 1 and f.kind_is(kinds.pop()):
                    if t.negated:
                        f.ne |= {x for _, x in vals}
                    else:
                        f.allow({x for _, x in vals})
            elif isinstance(t, n.TextTest):
                f = of(t.value)
                f.tests.append(t)
                f.present = True
                if t.op in ("contains_any", "contains_any_word"):
                    items = self.lists.items(t.arg)
                    if items is not None and not any(i and i[1] is not None for i in items):
                        return Why([t], "the list is empty" if not items else "the list holds only empty text")
                elif t.op != "contains_all" and isinstance(t.arg, n.Literal) and t.arg.kind == "text" \
                        and _norm_text(t.arg.value) is None:
                    return Why([t], "empty text counts as missing, and a text test on a missing value is false")
            elif isinstance(t, n.Matches):
                f = of(t.value)
                f.tests.append(t)
                f.present = True
            elif isinstance(t, n.IsMissing):
                f = of(t.value)
                f.tests.append(t)
                if t.missing:
                    if isinstance(t.value, (n.Count, n.CountTypes)):
                        return Why([t], "a count is a number, 0 when nothing happened: it is never missing")
                    f.missing = True
                else:
                    f.present = True
        for v, f in facts.items():
            w = self.empty(v, f)
            if w:
                return w
        return None

    def empty(self, v, f: _Facts) -> Why | None:
        tests = list(dict.fromkeys(f.tests))
        if f.missing and f.present:
            return Why(tests, "a missing value fails every test but `is missing`")
        if f.mixed or f.kind is None:
            return None
        desc = printer.value(v)
        if f.kind == "bool":
            allowed = ({True, False} if f.eq is None else f.eq) - f.ne
            return None if allowed else Why(tests, f"{desc} is either true or false")
        if f.kind == "text":
            if f.eq is not None and not (f.eq - f.ne):
                return Why(tests, "no text passes all of them (texts compare ignoring case and outer spaces)")
            return None
        whole = _is_whole(v) or f.kind == "date"
        lo, lo_incl, hi, hi_incl = f.lo, f.lo_incl, f.hi, f.hi_incl
        reason = "no value lies within all of those bounds"
        if _is_nonneg(v) and (lo is None or lo < 0):
            lo, lo_incl = 0.0, True
            reason = f"{desc} is never negative"
        if whole:  # tighten to whole numbers: `> 2` is `>= 3`, `< 3` is `<= 2`
            if lo is not None:
                lo = lo + 1 if (not lo_incl and lo == math.floor(lo)) else float(math.ceil(lo))
                lo_incl = True
            if hi is not None:
                hi = hi - 1 if (not hi_incl and hi == math.ceil(hi)) else float(math.floor(hi))
                hi_incl = True
        gap = ("there is no whole day between those dates" if f.kind == "date" else f"{desc} is a whole number")

        def inside(x) -> bool:
            if whole and x != math.floor(x):
                return False
            if lo is not None and (x < lo or (x == lo and not lo_incl)):
                return False
            if hi is not None and (x > hi or (x == hi and not hi_incl)):
                return False
            return x not in f.ne

        if f.eq is not None:
            if any(inside(x) for x in f.eq):
                return None
            if whole and f.kind == "number" and all(x != math.floor(x) for x in f.eq):
                reason = gap
            return Why(tests, reason)
        if lo is None or hi is None:
            return None
        if lo > hi or (lo == hi and not (lo_incl and hi_incl)) or (lo == hi and lo in f.ne):
            if whole and f.lo is not None and f.hi is not None and f.lo < f.hi:
                reason = gap  # the bounds leave room, but not for a whole number
            return Why(tests, reason)
        return None


# ---- one condition implies another (syntactically) ----------------------------------------------


class Implies:
    """`holds(a, b)`: whenever `a` holds, `b` does, by the shape of the two conditions: the same
    test, an `and` that contains `b`, an `or` whose every branch implies `b`, a narrower range or list
    on the same value, a longer text in `contains` / `starts with` / `ends with`. Sound, not complete."""

    def __init__(self, fields: dict[str, str], lists: dict):
        self.fields = fields
        self.lists = _Lists(lists)

    def holds(self, a, b) -> bool:
        a, b = _strip(a), _strip(b)
        if a == b:
            return True
        if isinstance(a, n.BoolOp) and a.op == "or":
            return all(self.holds(x, b) for x in _flat(a, "or"))
        if isinstance(b, n.BoolOp) and b.op == "and":
            return all(self.holds(a, x) for x in _flat(b, "and"))
        if isinstance(b, n.BoolOp) and b.op == "or" and any(self.holds(a, x) for x in _flat(b, "or")):
            return True
        if isinstance(a, n.BoolOp) and a.op == "and" and any(self.holds(x, b) for x in _flat(a, "and")):
            return True
        return self.atom(a, b)

    def _value_of(self, c):
        return getattr(c, "value", None) if not isinstance(c, n.Compare) else None

    def _range(self, c):
        """(value, kind, lo, lo_incl, hi, hi_incl, eq-set or None) of a test on one value, or None."""
        if isinstance(c, n.Compare):
            left, right, op = c.left, c.right, c.op
            if isinstance(left, n.Literal) and not isinstance(right, n.Literal):
                left, right, op = right, left, _FLIP[op]
            if isinstance(left, n.Literal) or not isinstance(right, n.Literal):
                return None
            lit = _lit(right)
            if lit is None or lit[1] is None:
                return None
            kind, x = lit
            if op == "=":
                return left, kind, None, True, None, True, {x}
            if op == "!=" or kind not in ("number", "date"):
                return None
            if op in (">", ">="):
                return left, kind, x, op == ">=", None, True, None
            return left, kind, None, True, x, op == "<=", None
        if isinstance(c, n.Between) and isinstance(c.low, n.Literal) and isinstance(c.high, n.Literal):
            lo, hi = _lit(c.low), _lit(c.high)
            if lo and hi and lo[0] == hi[0] and lo[0] in ("number", "date"):
                return c.value, lo[0], lo[1], True, hi[1], True, None
        if isinstance(c, n.In) and not c.negated:
            items = self.lists.items(c.items)
            if items is None:
                return None
            vals = {i for i in items if i is not None and i[1] is not None}
            kinds = {k for k, _ in vals}
            if len(kinds) == 1:
                return c.value, kinds.pop(), None, True, None, True, {x for _, x in vals}
        return None

    def _is_text(self, v) -> bool:
        if isinstance(v, n.Call):
            return v.func in ("domain", "lower")
        return isinstance(v, n.Name) and self.fields.get(v.name) == "text"

    def atom(self, a, b) -> bool:
        # any test but `is missing` needs its value present
        if isinstance(b, n.IsMissing) and not b.missing:
            va = a.left if isinstance(a, n.Compare) and not isinstance(a.left, n.Literal) else self._value_of(a)
            if va is not None and va == b.value and not isinstance(a, n.IsMissing):
                return True
        ra, rb = self._range(a), self._range(b)
        if ra and rb and ra[0] == rb[0] and ra[1] == rb[1]:
            _, _, alo, alo_i, ahi, ahi_i, aeq = ra
            _, _, blo, blo_i, bhi, bhi_i, beq = rb

            def in_b(x) -> bool:
                if blo is not None and (x < blo or (x == blo and not blo_i)):
                    return False
                if bhi is not None and (x > bhi or (x == bhi and not bhi_i)):
                    return False
                return beq is None or x in beq

            if aeq is not None:
                return all(in_b(x) for x in aeq)
            if beq is not None:
                return False
            lo_ok = blo is None or (alo is not None and (alo > blo or (alo == blo and (blo_i or not alo_i))))
            hi_ok = bhi is None or (ahi is not None and (ahi < bhi or (ahi == bhi and (bhi_i or not ahi_i))))
            return lo_ok and hi_ok
        # longer texts: `contains "vp sales"` implies `contains "vp"`, and so on
        ta, tb = self._texts(a), self._texts(b)
        if ta and tb and ta[0] == tb[0] and self._is_text(ta[0]):
            _, kind_a, needles_a = ta
            _, kind_b, needles_b = tb
            return all(any(_text_implies(kind_a, x, kind_b, y) for y in needles_b) for x in needles_a)
        return False

    def _texts(self, c):
        """(value, kind, [needles]) where the test holds iff ONE needle matches in the given way."""
        if isinstance(c, n.TextTest):
            if c.op in ("contains", "starts_with", "ends_with") and isinstance(c.arg, n.Literal) \
                    and c.arg.kind == "text" and _norm_text(c.arg.value):
                return c.value, c.op, [_norm_text(c.arg.value)]
            if c.op == "contains_any":
                items = self.lists.items(c.arg)
                if items and all(i and i[0] == "text" and i[1] for i in items):
                    return c.value, "contains", [x for _, x in items]
        if isinstance(c, n.Compare) and c.op == "=" and isinstance(c.right, n.Literal) and c.right.kind == "text" \
                and not isinstance(c.left, n.Literal) and _norm_text(c.right.value):
            return c.left, "equals", [_norm_text(c.right.value)]
        if isinstance(c, n.In) and not c.negated:
            items = self.lists.items(c.items)
            if items and all(i and i[0] == "text" and i[1] for i in items):
                return c.value, "equals", [x for _, x in items]
        return None


def _text_implies(kind_a: str, x: str, kind_b: str, y: str) -> bool:
    """Does `v <kind_a> x` imply `v <kind_b> y`?"""
    if kind_b == "contains":
        return y in x
    if kind_b == "starts_with":
        return kind_a in ("starts_with", "equals") and x.startswith(y)
    if kind_b == "ends_with":
        return kind_a in ("ends_with", "equals") and x.endswith(y)
    if kind_b == "equals":
        return kind_a == "equals" and x == y
    return False


# ---- the linter -----------------------------------------------------------------------------------


def _n(x) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else f"{x:g}"


def _pct(w: float) -> str:
    p = w * 100
    if p >= 0.01:
        return f"{p:.2f}".rstrip("0").rstrip(".") + "%"
    return "less than 0.01%"


class _Linter:
    def __init__(self, checked):
        self.c = checked
        self.rf: n.RuleFile = checked.file
        self.out: list[Diagnostic] = []
        self.imp = Impossible(checked.lists)
        self.implies = Implies(checked.fields, checked.lists)

    def add(self, code: str, message: str, span: n.Span | None, hint: str | None = None) -> None:
        self.out.append(diag(code, message, span, hint, file=self.rf.path if not (span and span.line) else None))

    def run(self) -> list[Diagnostic]:
        self.columns()
        self.disqualify()
        scores = list(self.rf.of(n.Score))
        for a in self.rf.of(n.Accounts):
            scores += list(a.scores)
        for s in scores:
            for k in s.criteria:
                self.criterion(k, s)
        for s in self.rf.of(n.Score):  # (an account dimension's reset is the checker's LR214)
            self.resets(s)
        return self.out

    def possible(self, cond, label: str, span, never, hint: str) -> bool:
        """LR314 (`never(reason)` as the message) when no lead can meet `cond`, and False; else the
        checks of its parts under `label`, and True."""
        w = self.imp.why(cond)
        if w:
            self.add("LR314", never(w.text()), span, "check the values and the comparison; " + hint)
            return False
        self.parts(cond, label, span)
        return True

    # -- resets --------------------------------------------------------------------------------------
    def resets(self, s: n.Score) -> None:
        """LR320: a reset in a dimension that counts no events voids nothing; LR314: a reset whose
        condition no event can meet never happens."""
        for r in s.resets:
            if r.event not in self.c.events:
                continue  # the checker's LR202
            if r.where is not None:
                self.possible(r.where, f"reset on {r.event}", r.span,
                              lambda w: f"reset on {r.event} can never happen: no {r.event} can match, as {w}",
                              "delete the reset if it is not needed")
        if s.resets and not n.counts_events(s):
            r = s.resets[0]
            uses_days = any(isinstance(x, n.DaysSinceLast) for k in s.criteria
                            for root in ([k.cond] if k.kind == "when" else [t.cond for t in k.tiers])
                            for x in n.walk(root))
            self.add("LR320", f"{s.dim} resets on {r.event}, but none of its criteria count events (`each`, `has`, "
                     "`count`), so the reset changes nothing", r.span,
                     ("`days since last` keeps its meaning after a reset; ask `has EVENT within N days` to "
                      "respect it, or delete the reset") if uses_days else
                     "delete the reset, or move it to the dimension whose events it should void")

    # -- columns -------------------------------------------------------------------------------------
    def columns(self) -> None:
        """LR319: `from "X"` where X already matches the name (columns match names ignoring case and
        surrounding spaces), so the `from` says nothing."""
        def needless(name: str, source: str | None, span: n.Span, what: str) -> None:
            if source is not None and source.strip().lower() == name.lower():
                self.add("LR319", f'{what} "{name}" is read from column "{source}", which it matches anyway',
                         span, f'delete `from "{source}"`: a column matches a name ignoring case and surrounding spaces')

        for f in self.rf.of(n.Fields):
            for d in f.fields:
                needless(d.name, d.source, d.span, "field")
            for c in f.columns:
                needless(c.role, c.column, c.span, "the lead id")
        for e in self.rf.of(n.Events):
            for d in e.events:
                for a in d.attrs:
                    needless(a.name, a.source, a.span, f"{d.name}'s attribute")
            for c in e.columns:
                needless(c.role, c.column, c.span, "the events' column")

    # -- disqualify ----------------------------------------------------------------------------------
    def disqualify(self) -> None:
        ds = self.rf.of(n.Disqualify)
        for j, d in enumerate(ds):
            w = self.imp.why(d.cond)
            if w:
                self.add("LR314", f'disqualify "{d.reason}" can never apply: {w.text()}', d.span,
                         "check the values and the comparison (a `<` for a `>`?); delete the line if it is not needed")
                continue
            self.parts(d.cond, f'disqualify "{d.reason}"', d.span)
            for e in ds[:j]:
                if self.implies.holds(d.cond, e.cond):
                    self.add("LR315", f'disqualify "{d.reason}" can never win: every lead it matches is already '
                             f'disqualified as "{e.reason}" (line {e.span.line}), which comes first', d.span,
                             f'the first matching reason wins: move this line above "{e.reason}" if it is the more '
                             "specific reason, or delete it")
                    break

    def parts(self, cond, what: str, span: n.Span) -> None:
        for w in self.imp.parts(cond):
            self.add("LR314", f"{what}: part of the condition never matters: {w.text()}", span,
                     "fix or delete that part")

    # -- criteria ------------------------------------------------------------------------------------
    def criterion(self, k: n.Criterion, s: n.Score) -> None:
        never = "check the values and the comparison (a `<` for a `>`?); delete the criterion if it is not needed"
        if k.kind == "when" and k.cond is not None:
            w = self.imp.why(k.cond)
            if w:
                self.add("LR314", f'"{k.name}" can never fire: {w.text()}', k.span, never)
            else:
                self.parts(k.cond, f'"{k.name}"', k.span)
        elif k.kind == "first":
            self.tiers(k)
        elif k.kind == "each" and k.filter is not None:
            f = k.filter
            if f.where is not None:
                w = self.imp.why(f.where)
                if w:
                    self.add("LR314", f'"{k.name}" can never fire: no {f.event or "event"} can match, as '
                             f"{w.text()}", k.span, never)
                else:
                    self.parts(f.where, f'"{k.name}"', k.span)
            self.decay(k, s)

    def tiers(self, k: n.Criterion) -> None:
        live: list[n.Tier] = []
        for t in k.tiers:
            if t.cond is None:
                break  # `otherwise`; tiers after it are the checker's LR313
            tier = printer.points(t.points)
            if not self.possible(t.cond, f'"{k.name}", tier {tier}', t.span,
                                 lambda w: f'"{k.name}": the tier {tier} can never apply: {w}',
                                 "delete the tier if it is not needed"):
                continue
            earlier = next((e for e in live if self.implies.holds(t.cond, e.cond)), None)
            if earlier is not None:
                self.add("LR318", f'"{k.name}": the tier {printer.points(t.points)} can never apply: every lead it '
                         f"matches is taken by the tier {printer.points(earlier.points)} above it "
                         f"(line {earlier.span.line})", t.span,
                         "the first tier that holds gives its points: put the narrower tier first, or delete this one")
            live.append(t)

    def decay(self, k: n.Criterion, s: n.Score) -> None:
        f = k.filter
        decays = s.half_life is not None and s.half_life.days > 0
        if k.no_decay and not decays and not k.per_count:
            self.add("LR409", f'"{k.name}" says `no decay`, but {s.dim} has no decay to turn off', k.span,
                     "delete `no decay`")
        # (a window counted from a date field does not bound an event's age: LR316 is about the other kind)
        if decays and not k.no_decay and f.within is not None and f.within.days > 0 and f.anchor is None:
            h = s.half_life.days
            w = 0.5 ** (f.within.days / h)
            if w < WEIGHT_FLOOR:
                reach = math.floor(h * math.log2(1 / WEIGHT_FLOOR))
                span = f.within.span if f.within.span.line == k.span.line else k.span
                self.add("LR316", f'"{k.name}": an event {_n(f.within.days)} days old counts {_pct(w)} of its points '
                         f"with {s.dim}'s half-life of {_n(h)} days, so the window `within {f.within.text()}` "
                         "hardly matters", span,
                         f"shorten the window to {reach} days or less (where an event still counts "
                         f"{_pct(WEIGHT_FLOOR)}), or say `no decay` if old events should count in full")
        if k.max is None and k.per is not None and k.points != 0:
            # decay does not bound points per unit: one event with a large value can fill the dimension
            self.add("LR317", f'"{k.name}" has no cap: {_n(abs(k.points))} points per unit of {k.per} grow with '
                     f"the value, and one {f.event} event with a large {k.per} can fill {s.dim}", k.span,
                     f"add a cap at the end of the line, e.g. `max {_n(min(abs(k.points) * 100, s.max))}`")
        elif k.max is None and (not decays or k.no_decay) and k.points != 0:
            one = "lead" if f.event == "lead" else f"{f.event or 'any'} event"
            many = "leads" if f.event == "lead" else f"{f.event or 'any'} events"
            why = ("a count is not decayed" if k.per_count else
                   "the criterion says `no decay`" if decays else f"{s.dim} has no decay")
            if k.points > 0 and s.max > 0:
                effect = f"{math.ceil(s.max / k.points)} {many} alone fill {s.dim}'s max of {_n(s.max)}"
            else:
                effect = f"enough {many} alone outweigh every other criterion of {s.dim}"
            self.add("LR317", f'"{k.name}" has no cap and {why}: its points grow with every {one} '
                     f"({effect})", k.span,
                     f"add a cap at the end of the line, e.g. `max {_n(min(abs(k.points) * 5, s.max))}`"
                     + ("" if decays or f.event == "lead" else ", or give the dimension a `decay half-life`"))
