"""Text to syntax tree: a thin facade over Lark.

`parse(text, path)` returns a `RuleFile` whose nodes all carry spans, or raises `RuleError` with
LR1xx diagnostics; it never lets a Lark exception out. Comments are collected by a lexer callback so
the formatter can put every one of them back.
"""
from __future__ import annotations

import datetime as dt
import re
import sys
from functools import lru_cache
from pathlib import Path


def _import_lark() -> None:
    """Import lark without the third-party `regex` module: lark imports it whenever it is installed
    (~8 ms, a quarter of lark's import) only to offer `Lark(regex=True)`, which this grammar never uses.
    A `None` in sys.modules makes that one import fail as "not installed"; it is removed right after,
    so any later `import regex` works as usual."""
    if "lark" in sys.modules or "regex" in sys.modules:
        return
    sys.modules["regex"] = None  # type: ignore[assignment]
    try:
        import lark  # noqa: F401
    finally:
        if sys.modules.get("regex", False) is None:
            del sys.modules["regex"]


_import_lark()

from lark import Lark, Token, Transformer, v_args  # noqa: E402
from lark.exceptions import (UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken,  # noqa: E402
                             VisitError)

from dsl import cache  # noqa: E402
from dsl import nodes as n  # noqa: E402
from dsl.diagnostics import Diagnostic, RuleError, diag
from dsl.gcpause import paused_gc

GRAMMAR = Path(__file__).with_name("grammar.lark")


_LARK_OPTIONS = dict(parser="lalr", lexer="contextual", propagate_positions=True, maybe_placeholders=True)


@lru_cache(maxsize=1)
def _lark() -> Lark:
    """The parser. Building its LALR tables from grammar.lark takes ~0.1 s; they are kept in the user's
    cache (dsl/cache.py) under a hash of the grammar, Lark's version and the options, so every later
    start (a pre-commit hook, an editor save) loads them instead. A missing, unwritable, stale or
    corrupt cache only costs that time back: the tables are built from the grammar and the result is
    the same parser."""
    import lark

    grammar = GRAMMAR.read_text(encoding="utf-8")
    name = "parser-" + cache.key(grammar, lark.__version__, repr(sorted(_LARK_OPTIONS.items()))) + ".lark"
    data = cache.read(name)
    if data is not None:
        import io

        try:
            return Lark.load(io.BytesIO(data))
        except Exception:  # an entry from a Lark that pickles differently, a damaged file: build it
            pass
    parser = Lark(grammar, **_LARK_OPTIONS)
    try:
        import io

        buf = io.BytesIO()
        parser.save(buf)
        cache.write(name, buf.getvalue())
        cache.prune("parser-", 4)  # (tables of older grammars or Lark versions)
    except Exception:  # the cache is an optimisation: never a reason to fail a parse
        pass
    return parser


class _LiteralError(Exception):
    def __init__(self, message: str, token, hint: str | None = None):
        super().__init__(message)
        self.token, self.hint = token, hint


# Control characters in a quoted text: NUL breaks PostgreSQL and C strings, the others (ESC above
# all) would reach a terminal raw when the text is printed. A rule file is typed text: none belongs there.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _unescape(tok: Token) -> str:
    body = str(tok)[1:-1]
    bad = _CONTROL_RE.search(body)
    if bad:
        ch = bad.group(0)
        what = "the NUL character (\\x00)" if ch == "\x00" else f"the control character {ch!r}"
        raise _LiteralError(f"a quoted text cannot hold {what}", tok,
                            "delete it: texts in a rule file are printable characters (write a line break as \\n)")
    return re.sub(r'\\(["\\n])', lambda m: "\n" if m.group(1) == "n" else m.group(1), body)


# Numbers in a rule file are points, thresholds, caps, day counts and compared values: a bound far
# above any of them keeps every one exact as a float (2**53) and out of overflow in any backend.
MAX_NUMBER = 10 ** 15
MAX_DAYS = 36_525  # durations up to 100 years: date arithmetic stays inside years 1-9999


def _number(tok: Token) -> int | float:
    s = str(tok)
    whole = s.split(".")[0].lstrip("+-").lstrip("0")
    if len(whole) > 16 or abs(float(s)) > MAX_NUMBER:
        shown = s if len(s) <= 24 else s[:20] + "…"
        raise _LiteralError(f"the number {shown} is too large", tok,
                            "numbers in a rule file are at most 1,000,000,000,000,000 (10^15) either way")
    if "." in s:
        return float(s)
    return int(s)


def _duration(amount, unit: str, tok: Token, span: n.Span) -> n.Duration:
    d = n.Duration(amount, unit, span)
    if abs(d.days) > MAX_DAYS:
        raise _LiteralError(f"a duration of {tok} {unit}s is too long", tok,
                            "durations go up to 100 years (36,525 days, 5,217 weeks)")
    return d


def _check_date(tok: Token) -> str:
    s = str(tok)
    try:
        if len(s) == 10:
            dt.date.fromisoformat(s)
        else:
            dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        raise _LiteralError(f"{s} is not a valid date", tok, "dates are written YYYY-MM-DD, e.g. 2026-11-01")
    return s


def _name(tok: Token) -> str:
    s = str(tok)
    return s[1:-1] if s.startswith("`") else s


_NULL = object()  # `null` in a test's data, until it is placed in a pair or a list


class _Build(Transformer):
    """Lark tree -> our nodes. Each method receives the children; `meta` gives positions."""

    def __init__(self, path: str):
        super().__init__(visit_tokens=False)
        self.path = path

    # -- helpers --
    def span(self, meta) -> n.Span:
        if getattr(meta, "empty", True):
            return n.Span(self.path)
        end = meta.end_column - 1 if meta.end_line != meta.line else max(meta.end_column - 1, meta.column)
        return n.Span(self.path, meta.line, meta.column, meta.end_line, end)

    def tspan(self, tok: Token) -> n.Span:
        end = tok.end_column - 1 if tok.end_line != tok.line else max(tok.end_column - 1, tok.column)
        return n.Span(self.path, tok.line, tok.column, tok.end_line, end)

    @staticmethod
    def toks(children, *types):
        return [c for c in children if isinstance(c, Token) and (not types or c.type in types)]

    @staticmethod
    def objs(children, kind=None):
        return [c for c in children if not isinstance(c, Token) and c is not None and (kind is None or isinstance(c, kind))]

    # -- top level --
    def start(self, items):
        return [i for i in items if i is not None]

    @v_args(meta=True)
    def ruleset_decl(self, meta, ch):
        s, v = self.toks(ch, "STRING")[0], self.toks(ch, "NUMBER")[0]
        return n.Ruleset(_unescape(s), _number(v), self.span(meta))

    @v_args(meta=True)
    def owners_decl(self, meta, ch):
        return n.Owners(tuple(_unescape(t) for t in self.toks(ch, "STRING")), self.span(meta))

    @v_args(meta=True)
    def fields_decl(self, meta, ch):
        return n.Fields(tuple(self.objs(ch, n.FieldDecl)), self.span(meta), tuple(self.objs(ch, n.ColumnDecl)))

    @v_args(meta=True)
    def field_decl(self, meta, ch):
        return n.FieldDecl(ch[0][0], ch[1], self.span(meta), ch[2] if len(ch) > 2 else None)

    attr_decl = field_decl

    @v_args(meta=True)
    def column_decl(self, meta, ch):
        return n.ColumnDecl(ch[0][0], ch[1], self.span(meta))

    def source(self, ch):
        return _unescape(ch[0])

    def t_text(self, _):
        return "text"

    def t_text_list(self, _):
        return "text list"

    def t_number(self, _):
        return "number"

    def t_date(self, _):
        return "date"

    def t_bool(self, _):
        return "bool"

    @v_args(meta=True)
    def events_decl(self, meta, ch):
        return n.Events(tuple(self.objs(ch, n.EventDecl)), self.span(meta), tuple(self.objs(ch, n.ColumnDecl)))

    @v_args(meta=True)
    def event_decl(self, meta, ch):
        name, source = ch[0][0], ch[1] if len(ch) > 1 and isinstance(ch[1], str) else None
        attrs = tuple(c for c in ch[1:] if isinstance(c, n.FieldDecl))
        if source is not None and not attrs and name in n.EVENT_COLUMNS:
            return n.ColumnDecl(name, source, self.span(meta))  # `type from "Activity Type"`: a column
        return n.EventDecl(name, attrs, self.span(meta), source)

    @v_args(meta=True)
    def list_decl(self, meta, ch):
        return n.ListDecl(ch[0][0], ch[1], self.span(meta))

    @v_args(meta=True)
    def disqualify_decl(self, meta, ch):
        return n.Disqualify(_unescape(self.toks(ch, "STRING")[0]), self.objs(ch)[0], self.span(meta))

    # -- scores --
    @v_args(meta=True)
    def score_decl(self, meta, ch):
        name, label, mx = ch[0], ch[1], ch[2]
        floor = next((c for c in ch if isinstance(c, tuple) and c and c[0] == "floor"), None)
        decay = next((c for c in ch if isinstance(c, n.Duration)), None)
        crits = tuple(c for c in ch if isinstance(c, n.Criterion))
        resets = tuple(c for c in ch if isinstance(c, n.Reset))
        return n.Score(name[0], _unescape(label), _number(mx), floor[1] if floor else 0, decay, crits,
                       self.span(meta), name[1], resets)

    def floor_clause(self, ch):
        return ("floor", _number(ch[0]))

    def decay_decl(self, ch):
        return ch[0]

    @v_args(meta=True)
    def reset_decl(self, meta, ch):
        return n.Reset(ch[0][0], ch[1], self.span(meta), ch[0][1])

    def max_clause(self, ch):
        return ("max", _number(ch[0]), self.tspan(ch[0]))

    def _crit_common(self, meta, ch):
        name_tok = ch[0]
        mx = ch[-1]
        return _unescape(name_tok), self.tspan(name_tok), (mx[1] if mx else None), (mx[2] if mx else n.NOSPAN)

    @v_args(meta=True)
    def crit_when(self, meta, ch):
        name, nspan, mx, mspan = self._crit_common(meta, ch)
        return n.Criterion(name, "when", points=_number(ch[1]), cond=ch[2], max=mx,
                           span=self.span(meta), name_span=nspan, max_span=mspan)

    @v_args(meta=True)
    def crit_each(self, meta, ch):
        name, nspan, mx, mspan = self._crit_common(meta, ch)
        per = ch[2]
        target = ch[3]
        where = within = anchor = None
        no_decay = False
        for opt in ch[4:-1]:
            if opt[0] == "where":
                where = opt[1]
            elif opt[0] == "within":
                within, anchor = opt[1], opt[2]
            elif opt[0] == "no_decay":
                no_decay = True
        flt = n.EventFilter(target[0], where, within, target[1], *(anchor or (None, n.NOSPAN)))
        return n.Criterion(name, "each", points=_number(ch[1]), filter=flt, no_decay=no_decay, max=mx,
                           span=self.span(meta), name_span=nspan, max_span=mspan,
                           per=per[0] if per else None, per_span=per[1] if per else n.NOSPAN)

    @v_args(meta=True)
    def crit_per_count(self, meta, ch):
        # the same meaning as `+P each EVENT … no decay`: P for every event the count counts
        name, nspan, mx, mspan = self._crit_common(meta, ch)
        target, (where, within, anchor) = ch[2], ch[3]
        flt = n.EventFilter(target[0], where, within, target[1], *(anchor or (None, n.NOSPAN)))
        return n.Criterion(name, "each", points=_number(ch[1]), filter=flt, no_decay=True, max=mx,
                           span=self.span(meta), name_span=nspan, max_span=mspan, per_count=True)

    def per_clause(self, ch):
        return ch[0]

    def anchor(self, ch):
        return ch[0]

    def each_target(self, ch):
        t = ch[0]
        if isinstance(t, Token):
            return ("lead", self.tspan(t))
        return t

    def opt_where(self, ch):
        return ("where", ch[0])

    def opt_within(self, ch):
        return ("within", ch[0], ch[1])

    def opt_no_decay(self, ch):
        return ("no_decay",)

    @v_args(meta=True)
    def crit_first(self, meta, ch):
        name, nspan, mx, mspan = self._crit_common(meta, ch)
        tiers = tuple(c for c in ch if isinstance(c, n.Tier))
        return n.Criterion(name, "first", tiers=tiers, max=mx, span=self.span(meta), name_span=nspan, max_span=mspan)

    @v_args(meta=True)
    def tier_when(self, meta, ch):
        return n.Tier(_number(ch[0]), ch[1], self.span(meta))

    @v_args(meta=True)
    def tier_otherwise(self, meta, ch):
        return n.Tier(_number(ch[0]), None, self.span(meta))

    # -- grades, accounts, routes --
    @v_args(meta=True)
    def grade_decl(self, meta, ch):
        return n.Grade(ch[0][0], tuple(c for c in ch[1:] if isinstance(c, n.Band)), self.span(meta), ch[0][1])

    @v_args(meta=True)
    def band_when(self, meta, ch):
        return n.Band(ch[0], _number(self.toks(ch, "NUMBER")[-1]), self.span(meta))

    @v_args(meta=True)
    def band_otherwise(self, meta, ch):
        return n.Band(ch[0], None, self.span(meta))

    def band_name(self, ch):
        return _name(ch[0])

    @v_args(meta=True)
    def accounts_decl(self, meta, ch):
        return n.Accounts(ch[0], tuple(c for c in ch if isinstance(c, n.Score)),
                          tuple(c for c in ch if isinstance(c, n.Grade)), self.span(meta))

    @v_args(meta=True)
    def route_decl(self, meta, ch):
        return n.Route(tuple(c for c in ch if isinstance(c, n.RouteLine)), self.span(meta))

    @v_args(meta=True)
    def route_line(self, meta, ch):
        band, pats = ch[0]
        return n.RouteLine(pats, ch[1], band, self.span(meta))

    def route_patterns(self, ch):
        band = None
        pats = []
        for c in ch:
            if isinstance(c, tuple) and c[0] == "account":
                band = c[1]
            elif isinstance(c, n.Pattern):
                pats.append(c)
        return band, tuple(pats)

    def account_filter(self, ch):
        return ("account", ch[0])

    @v_args(meta=True)
    def pat_grade(self, meta, ch):
        return n.Pattern("grade", str(ch[0]), self.span(meta))

    @v_args(meta=True)
    def pat_disqualified(self, meta, ch):
        return n.Pattern("disqualified", "disqualified", self.span(meta))

    @v_args(meta=True)
    def pat_otherwise(self, meta, ch):
        return n.Pattern("otherwise", "otherwise", self.span(meta))

    def _act(self, kind, meta, ch):
        q = self.toks(ch, "STRING")
        sla = next((c for c in ch if isinstance(c, n.Duration)), None)
        return n.Action(kind, _unescape(q[0]) if q else None, sla, self.span(meta))

    @v_args(meta=True)
    def act_sales(self, meta, ch):
        return self._act("sales", meta, ch)

    @v_args(meta=True)
    def act_qualify(self, meta, ch):
        return self._act("qualify", meta, ch)

    @v_args(meta=True)
    def act_nurture(self, meta, ch):
        return self._act("nurture", meta, ch)

    @v_args(meta=True)
    def act_suppress(self, meta, ch):
        return n.Action("suppress", None, None, self.span(meta))

    @v_args(meta=True)
    def sla(self, meta, ch):
        unit = str(ch[1]).rstrip("s")
        return _duration(_number(ch[0]), unit, ch[0], self.span(meta))

    # -- durations --
    @v_args(meta=True)
    def duration(self, meta, ch):
        return _duration(_number(ch[0]), ch[1], ch[0], self.span(meta))

    def u_day(self, _):
        return "day"

    def u_week(self, _):
        return "week"

    def u_hour(self, _):
        return "hour"

    # -- conditions --
    @v_args(meta=True)
    def or_cond(self, meta, ch):
        return n.BoolOp("or", tuple(ch), self.span(meta))

    @v_args(meta=True)
    def and_cond(self, meta, ch):
        return n.BoolOp("and", tuple(ch), self.span(meta))

    @v_args(meta=True)
    def c_not(self, meta, ch):
        return n.Not(ch[-1], self.span(meta))

    @v_args(meta=True)
    def atom_cond(self, meta, ch):  # only reached for "(" cond ")"
        return n.Paren(ch[0], self.span(meta))

    @v_args(meta=True)
    def c_compare(self, meta, ch):
        return n.Compare(str(ch[1]), ch[0], ch[2], self.span(meta))

    @v_args(meta=True)
    def c_in(self, meta, ch):
        return n.In(ch[0], ch[-1], False, self.span(meta))

    @v_args(meta=True)
    def c_not_in(self, meta, ch):
        return n.In(ch[0], ch[-1], True, self.span(meta))

    def _text(op):
        @v_args(meta=True)
        def f(self, meta, ch):
            return n.TextTest(op, ch[0], ch[-1], self.span(meta))
        return f

    c_contains = _text("contains")
    c_contains_any = _text("contains_any")
    c_contains_all = _text("contains_all")
    c_contains_word = _text("contains_word")
    c_contains_any_word = _text("contains_any_word")
    c_starts_with = _text("starts_with")
    c_ends_with = _text("ends_with")
    del _text

    @v_args(meta=True)
    def c_matches(self, meta, ch):
        tok = self.toks(ch, "STRING")[0]
        return n.Matches(ch[0], _unescape(tok), self.span(meta), self.tspan(tok))

    @v_args(meta=True)
    def c_between(self, meta, ch):
        return n.Between(ch[0], ch[1], ch[2], self.span(meta))

    @v_args(meta=True)
    def c_is_missing(self, meta, ch):
        return n.IsMissing(ch[0], True, self.span(meta))

    @v_args(meta=True)
    def c_is_present(self, meta, ch):
        return n.IsMissing(ch[0], False, self.span(meta))

    @v_args(meta=True)
    def c_has(self, meta, ch):
        return n.Has(self._filter(meta, ch[0], ch[1]), self.span(meta))

    @v_args(meta=True)
    def c_has_lead(self, meta, ch):
        return n.Has(self._filter(meta, ("lead", self.tspan(ch[0])), ch[1]), self.span(meta))

    def _filter(self, meta, ref, filters):
        where, within, anchor = filters
        return n.EventFilter(ref[0], where, within, self.span(meta), *(anchor or (None, n.NOSPAN)))

    def event_ref(self, ch):
        t = ch[0]
        if isinstance(t, Token):  # ANY_EVENT
            return (None, self.tspan(t))
        return t

    def event_filters(self, ch):
        return (ch[0], ch[1], ch[2])

    def list_ref(self, ch):
        c = ch[0]
        if isinstance(c, tuple):
            return n.Name(c[0], c[1])
        return c

    @v_args(meta=True)
    def list_lit(self, meta, ch):
        return n.ListLit(tuple(c for c in ch if c is not None), self.span(meta))

    # -- values --
    @v_args(meta=True)
    def v_name(self, meta, ch):
        return n.Name(ch[0][0], ch[0][1])

    @v_args(meta=True)
    def v_string(self, meta, ch):
        return n.Literal(_unescape(ch[0]), "text", self.tspan(ch[0]))

    @v_args(meta=True)
    def v_number(self, meta, ch):
        return n.Literal(_number(ch[0]), "number", self.tspan(ch[0]))

    @v_args(meta=True)
    def v_date(self, meta, ch):
        return n.Literal(_check_date(ch[0]), "date", self.tspan(ch[0]))

    @v_args(meta=True)
    def v_true(self, meta, ch):
        return n.Literal(True, "bool", self.span(meta))

    @v_args(meta=True)
    def v_false(self, meta, ch):
        return n.Literal(False, "bool", self.span(meta))

    def _call(func):
        @v_args(meta=True)
        def f(self, meta, ch):
            return n.Call(func, ch[-1], self.span(meta))
        return f

    v_domain = _call("domain")
    v_lower = _call("lower")
    v_length = _call("length")
    del _call

    @v_args(meta=True)
    def v_count(self, meta, ch):
        return n.Count(self._filter(meta, ch[0], ch[1]), self.span(meta))

    @v_args(meta=True)
    def v_count_lead(self, meta, ch):
        return n.Count(self._filter(meta, ("lead", self.tspan(ch[0])), ch[1]), self.span(meta))

    @v_args(meta=True)
    def v_count_types(self, meta, ch):
        return n.CountTypes(next((c for c in ch if isinstance(c, n.Duration)), None), self.span(meta))

    @v_args(meta=True)
    def v_days_since_last(self, meta, ch):
        f = self._filter(meta, ch[0], ch[1])
        plain = f.where is None and f.within is None
        return n.DaysSinceLast(ch[0][0], self.span(meta), None if plain else f)

    @v_args(meta=True)
    def v_days_since(self, meta, ch):
        return n.DaysSince(ch[0][0], self.span(meta))

    def cmp_op(self, ch):
        return str(ch[0])

    def name(self, ch):
        return (_name(ch[0]), self.tspan(ch[0]))

    # -- tests --
    @v_args(meta=True)
    def test_decl(self, meta, ch):
        name = _unescape(ch[0])
        as_of = None
        lead: tuple = ()
        lead_span = n.NOSPAN
        events, expects = [], []
        for c in ch[1:]:
            if isinstance(c, tuple) and c and c[0] == "as_of":
                as_of = c[1]
            elif isinstance(c, tuple) and c and c[0] == "lead":
                lead, lead_span = c[1], c[2]
            elif isinstance(c, n.TestEvent):
                events.append(c)
            elif isinstance(c, n.Expect):
                expects.append(c)
        return n.Test(name, as_of, lead, tuple(events), tuple(expects), self.span(meta), lead_span)

    def as_of(self, ch):
        return ("as_of", _check_date(ch[0]))

    @v_args(meta=True)
    def t_lead(self, meta, ch):
        return ("lead", ch[-1], self.span(meta))

    @v_args(meta=True)
    def t_event(self, meta, ch):
        objs = [c for c in ch if not isinstance(c, Token)]
        name = objs[0]
        attrs: tuple = ()
        at = ago = ago_text = None
        for c in objs[1:]:
            if c is None:
                continue
            if isinstance(c, tuple) and c and c[0] == "at":
                at = c[1]
            elif isinstance(c, tuple) and c and c[0] == "ago":
                ago, ago_text = c[1].days, c[1]
            elif isinstance(c, tuple):
                attrs = c
        return n.TestEvent(name[0], attrs, at, ago, ago_text, self.span(meta))

    def at_date(self, ch):
        return ("at", _check_date(ch[-1]))

    def ago(self, ch):
        return ("ago", ch[0])

    def obj(self, ch):
        return tuple(c for c in ch if c is not None)

    def pair(self, ch):
        return (ch[0][0], None if ch[1] is _NULL else ch[1])

    def d_string(self, ch):
        return _unescape(ch[0])

    def d_number(self, ch):
        return _number(ch[0])

    def d_date(self, ch):
        return n.Literal(_check_date(ch[0]), "date", self.tspan(ch[0]))

    def d_true(self, _):
        return True

    def d_false(self, _):
        return False

    def d_null(self, _):
        return _NULL  # told apart from the placeholder Lark gives an empty `[]`

    def d_list(self, ch):
        return [None if c is _NULL else c for c in ch if c is not None and not isinstance(c, Token)]

    # -- expectations --
    def _exp(self, meta, kind, **kw):
        return n.Expect(kind, span=self.span(meta), **kw)

    @v_args(meta=True)
    def e_grade(self, meta, ch):
        return self._exp(meta, "grade", arg=str(ch[0]), arg_span=self.tspan(ch[0]))

    @v_args(meta=True)
    def e_route(self, meta, ch):
        q = ch[1]
        return self._exp(meta, "route", arg=ch[0], queue=_unescape(q) if q is not None else None)

    @v_args(meta=True)
    def e_disqualified(self, meta, ch):
        q = ch[0] if ch else None
        return self._exp(meta, "disqualified", arg=_unescape(q) if q is not None else None)

    @v_args(meta=True)
    def e_not_disqualified(self, meta, ch):
        return self._exp(meta, "not_disqualified")

    @v_args(meta=True)
    def e_fires(self, meta, ch):
        t = self.toks(ch, "STRING")[0]
        return self._exp(meta, "fires", arg=_unescape(t), arg_span=self.tspan(t))

    @v_args(meta=True)
    def e_not_fires(self, meta, ch):
        t = self.toks(ch, "STRING")[0]
        return self._exp(meta, "not_fires", arg=_unescape(t), arg_span=self.tspan(t))

    @v_args(meta=True)
    def e_account(self, meta, ch):
        return self._exp(meta, "account", arg=ch[-1])

    @v_args(meta=True)
    def e_score(self, meta, ch):
        return self._exp(meta, "score", arg=ch[0][0], arg_span=ch[0][1], op=str(ch[1]), low=_number(ch[2]))

    @v_args(meta=True)
    def e_score_between(self, meta, ch):
        nums = self.toks(ch, "NUMBER")
        return self._exp(meta, "score_between", arg=ch[0][0], arg_span=ch[0][1],
                         low=_number(nums[0]), high=_number(nums[1]))

    def ra_sales(self, _):
        return "sales"

    def ra_qualify(self, _):
        return "qualify"

    def ra_nurture(self, _):
        return "nurture"

    def ra_suppress(self, _):
        return "suppress"

    # -- simulations --
    @v_args(meta=True)
    def simulation_decl(self, meta, ch):
        name = _unescape(ch[0])
        leads = events = as_of = None
        expects = []
        flows = []
        for c in ch[1:]:
            if isinstance(c, n.FlowExpect):
                flows.append(c)
            elif isinstance(c, tuple) and c[0] == "leads":
                leads = c[1]
            elif isinstance(c, tuple) and c[0] == "events":
                events = c[1]
            elif isinstance(c, tuple) and c[0] == "as_of":
                as_of = c[1]
            elif isinstance(c, n.ShareExpect):
                expects.append(c)
        return n.Simulation(name, leads, events, as_of, tuple(expects), self.span(meta), flows=tuple(flows))

    def s_leads(self, ch):
        return ("leads", _unescape(ch[0]))

    def s_events(self, ch):
        return ("events", _unescape(ch[0]))

    @v_args(meta=True)
    def s_expect(self, meta, ch):
        subject, arg, queue = ch[0]
        bound, low, high = ch[1]
        return n.ShareExpect(subject, arg, queue, low, high, bound, self.span(meta))

    @v_args(meta=True)
    def s_flow(self, meta, ch):
        action, queue, (bound, low, high) = ch[0], ch[1], ch[2]
        return n.FlowExpect("route", action, _unescape(queue) if queue is not None else None, low, high, bound,
                            self.span(meta))

    def fb_between(self, ch):
        return ("between", float(ch[0]), float(ch[1]))

    def fb_at_most(self, ch):
        return ("at_most", None, float(ch[0]))

    def fb_at_least(self, ch):
        return ("at_least", float(ch[0]), None)

    def sh_route(self, ch):
        return ("route", ch[0], _unescape(ch[1]) if ch[1] is not None else None)

    def sh_grade(self, ch):
        return ("grade", str(ch[0]), None)

    def sh_disqualified(self, ch):
        return ("disqualified", _unescape(ch[0]) if ch and ch[0] is not None else None, None)

    def sh_account(self, ch):
        return ("account", ch[-1], None)

    @staticmethod
    def _pct(tok) -> float:
        return float(str(tok)[:-1])

    def b_between(self, ch):
        return ("between", self._pct(ch[0]), self._pct(ch[1]))

    def b_at_most(self, ch):
        return ("at_most", None, self._pct(ch[0]))

    def b_at_least(self, ch):
        return ("at_least", self._pct(ch[0]), None)


# ---- errors ------------------------------------------------------------------------------------

# What a terminal means to a reader, for "expected ..." lists.
_TERMINAL_WORDS = {
    "STRING": "a quoted text", "NUMBER": "a number", "NAME": "a name", "QNAME": "a name",
    "DATE": "a date (YYYY-MM-DD)", "GRADE_PAT": "a grade (like A1 or A*)", "PERCENT": "a percentage (like 15%)",
    "TYPE_TEXT": '"text"', "SLA_UNIT": "a unit (hours, days or weeks)", "ACCOUNT_LEAD": '"lead"',
    "ANY_EVENT": '"event"', "$END": "the end of the file",
}

_ITEM_KEYWORDS = ("ruleset", "owners", "fields", "events", "list", "disqualify", "score", "grade",
                  "accounts", "route", "test", "simulation")


def _expected_words(expected) -> list[str]:
    lark = _lark()
    words = set()
    for name in expected:
        if name in _TERMINAL_WORDS:
            words.add(_TERMINAL_WORDS[name])
            continue
        try:
            pat = lark.get_terminal(name).pattern
        except KeyError:
            words.add(name.lower())
            continue
        if pat.type == "str":
            words.add(f'"{pat.value}"')
        else:
            words.add(name.lower())
    return sorted(words)


def _describe_token(tok: Token) -> str:
    if tok.type == "$END":
        return "the end of the file"
    return f'"{tok}"'


def _hint_for(expected: set[str], tok: Token | None) -> str | None:
    words = _expected_words(expected)
    text = str(tok) if tok is not None else ""
    if tok is not None and text == "reset" and "RBRACE" in expected:
        return "`reset on …` lines come before the criteria of a score block (after `decay half-life …`)"
    if tok is not None and text == "decay" and "RBRACE" in expected:
        return "`decay half-life …` is the first line of a score block, before `reset on …` and the criteria"
    if tok is not None and tok.type in ("NUMBER",) and "WHEN" in expected:
        return "a criterion has one number of points, then `when`, `each` or `first of`"
    if "STRING" in expected and tok is not None and text.startswith("'"):
        return 'text is written in double quotes: "like this"'
    if tok is not None and text in {"max", "when", "each", "first", "score", "grade", "route", "test",
                                    "list", "fields", "events", "lead", "event", "count", "days"} \
            and ("NAME" in expected or "QNAME" in expected):
        return f'"{text}" is a keyword; write a name that collides with one in backticks: `{text}`'
    if words and len(words) <= 6:
        return "expected " + ", ".join(words[:-1]) + (" or " if len(words) > 1 else "") + words[-1]
    return _broad_hint(words)


def _broad_hint(words: list[str]) -> str:
    """A hint when many things could come next: what kind of thing, and the most likely mistakes."""
    if words and len(words) <= 12:
        return "expected one of " + ", ".join(words)
    return ("a word or symbol is missing or doubled just before this point: compare the line with an example "
            "in docs/language.md (a condition is like `company_size >= 1000`, joined with `and` / `or`)")


def _syntax_diag(err: UnexpectedInput, text: str, path: str) -> Diagnostic:
    line = getattr(err, "line", 0) or 0
    col = getattr(err, "column", 0) or 0
    if isinstance(err, UnexpectedCharacters):
        ch = text[err.pos_in_stream] if 0 <= err.pos_in_stream < len(text) else ""
        hint = None
        if ch == "'":
            hint = 'text is written in double quotes: "like this"'
        elif ch == '"':
            hint = "this text is never closed: add the closing double quote on the same line"
        elif ch == "`":
            hint = "a backticked name is a plain identifier in backticks, like `max`"
        elif ch == "\x00":
            hint = "delete it: a NUL character has no place in a rule file (the file may be damaged)"
        elif ch.isalpha() or ch == "_":
            hint = ("a letter that cannot start a word here: check the spelling, or the word before it"
                    if not ch.isascii() else _broad_hint(_expected_words(err.allowed or set())))
        else:
            allowed = _expected_words(err.allowed or set())
            if allowed and len(allowed) <= 6:
                hint = "expected " + ", ".join(allowed)
            else:
                hint = ("delete it: outside quotes a rule file uses names, numbers, dates and the "
                        "punctuation { } [ ] ( ) , : = < > ! -> # (comments)")
        what = repr(ch)[1:-1] if ch.strip() and ch.isprintable() else (
            f"U+{ord(ch):04X}" if ch else "this character")
        return diag("LR102", f'unexpected character "{what}"', n.Span(path, line, col, line, col), hint)
    if isinstance(err, UnexpectedEOF) or (isinstance(err, UnexpectedToken) and err.token.type == "$END"):
        lines = text.splitlines() or [""]
        line = len(lines)
        col = len(lines[-1]) + 1 if lines else 1
        exp = set(err.expected) if isinstance(err, UnexpectedEOF) else set(err.expected)
        hint = ("a block is not closed: check that every { has its }" if "RBRACE" in exp
                else _hint_for(exp, None) or "the last line is cut short: finish it, or delete it")
        return diag("LR103", "the file ends too early", n.Span(path, line, max(col, 1), line, max(col, 1)), hint)
    assert isinstance(err, UnexpectedToken)
    tok = err.token
    exp = set(err.expected)
    msg = f"unexpected {_describe_token(tok)}"
    hint = _hint_for(exp, tok)
    if str(tok) in _ITEM_KEYWORDS and "RBRACE" in exp:
        hint = "the block before this line is not closed: add a }"
    elif not exp - {"$END"} | set(_ITEM_KEYWORDS):
        pass
    end_col = col + max(len(str(tok)), 1) - 1
    return diag("LR101", msg, n.Span(path, line, col, tok.end_line or line, end_col), hint)


# How deep the syntax tree may go. Everything after the parser (checker, formatter, code generators,
# sqlglot, Python's own compiler) walks conditions recursively; a bound here, with a clear message,
# keeps a file of 500 nested `not`s from ending in a RecursionError anywhere downstream. Real rule
# files stay below 20.
MAX_DEPTH = 60
# How many `and`/`or` operands one condition may have: SQL engines and sqlglot nest them one per level.
MAX_OPERANDS = 500


def _too_deep(tree) -> tuple[object, str] | None:
    """The first node past the nesting or width bounds, and what is wrong, found without recursion."""
    from lark import Tree

    stack = [(tree, 1)]
    while stack:
        t, depth = stack.pop()
        if depth > MAX_DEPTH:
            return t, "deep"
        if t.data in ("or_cond", "and_cond") and len(t.children) > MAX_OPERANDS:
            return t, "wide"
        for c in t.children:
            if isinstance(c, Tree):
                stack.append((c, depth + 1))
    return None


def _first_pos(node) -> tuple[int, int]:
    meta = getattr(node, "meta", None)
    if meta is not None and not getattr(meta, "empty", True):
        return meta.line, meta.column
    return 1, 1


def parse(text: str, path: str = "<string>", *, cached: bool = False) -> n.RuleFile:
    """Parse rule text; raise `RuleError` (LR1xx) on a syntax error. `cached`: the command line's
    loads of a file (lint, test, score ...) keep the tree of `path` in the user's cache, and the next
    load of the same text there takes it back instead of parsing (about 40 ms less for acme.rules);
    any other text, or a change to the grammar, this module, the nodes or Lark, parses again."""
    # A UTF-8 byte order mark (Notepad writes one) is not part of the text.
    text = text.removeprefix("\ufeff")
    with paused_gc():  # (dsl/gcpause.py: a large file is a large tree)
        if cached:
            rf = _recall(text, path)
            if rf is not None:
                return rf
        rf = _parse(text, path)
    if cached:
        _remember(text, path, rf)
    return rf


# How many files' trees the cache keeps (the most recently parsed): a tree is ~3 bytes per byte of text.
KEEP_TREES = 256


@lru_cache(maxsize=1)
def _made_by() -> str:
    """What a syntax tree is made by: the grammar, this module and the node classes, Lark, Python."""
    import lark

    here = Path(__file__).resolve().parent
    return cache.key(*[(here / f).read_bytes() for f in ("grammar.lark", "parser.py", "nodes.py")],
                     lark.__version__, sys.version)


def _tree_entry(path: str) -> str:
    return "tree-" + cache.key(path, _made_by()) + ".pickle"


def _recall(text: str, path: str) -> n.RuleFile | None:
    try:
        data = cache.read(_tree_entry(path))
        if data is None:
            return None
        digest, _, body = data.partition(b"\n")
        if digest != cache.key(text).encode("ascii"):
            return None  # the file has changed since
        import pickle

        rf = pickle.loads(body)
    except Exception:  # an unreadable source file, a damaged entry: parse
        return None
    if type(rf) is not n.RuleFile or rf.source != text or rf.path != path:
        return None
    return rf


def _remember(text: str, path: str, rf: n.RuleFile) -> None:
    try:
        import pickle

        data = cache.key(text).encode("ascii") + b"\n" + pickle.dumps(rf, pickle.HIGHEST_PROTOCOL)
        cache.write(_tree_entry(path), data)
        cache.prune("tree-", KEEP_TREES)
    except Exception:  # (a tree that cannot be pickled would be a bug here, never the user's problem)
        pass


def _parse(text: str, path: str) -> n.RuleFile:
    try:
        tree = _lark().parse(text)
    except UnexpectedInput as e:
        raise RuleError([_syntax_diag(e, text, path)]) from None
    bad = _too_deep(tree)
    if bad is not None:
        node, why = bad
        line, col = _first_pos(node)
        if why == "deep":
            d = diag("LR101", f"conditions are nested more than {MAX_DEPTH} levels deep", n.Span(path, line, col, line, col),
                     "simplify the condition: `not not x` is `x`, and a long chain reads better as a `list` "
                     "and `in`")
        else:
            d = diag("LR101", f"a condition joins more than {MAX_OPERANDS} parts with `and`/`or`",
                     n.Span(path, line, col, line, col), "put the values in a `list` and test `x in LIST`")
        raise RuleError([d])
    try:
        items = _Build(path).transform(tree)
    except VisitError as e:
        orig = e.orig_exc
        if isinstance(orig, _LiteralError):
            tok = orig.token
            sp = n.Span(path, tok.line, tok.column, tok.end_line, max(tok.end_column - 1, tok.column))
            raise RuleError([diag("LR104", str(orig), sp, orig.hint)]) from None
        raise
    # Comments are found by a scan that skips strings and backticked names (a '#' inside a string
    # is text, not a comment); the parse has succeeded, so every string here is well formed.
    return n.RuleFile(tuple(items), tuple(_scan_comments(text)), path, text)


_TOKEN_RE = re.compile(r'"(?:[^"\\\n]|\\.)*"|`[^`\n]*`|#[^\n]*')


def _scan_comments(text: str) -> list[n.Comment]:
    out = []
    line_starts = [0]
    for i, ch in enumerate(text):
        if ch == "\n":
            line_starts.append(i + 1)
    import bisect

    for m in _TOKEN_RE.finditer(text):
        s = m.group(0)
        if s.startswith("#"):
            ln = bisect.bisect_right(line_starts, m.start())
            col = m.start() - line_starts[ln - 1] + 1
            out.append(n.Comment(s.rstrip(), ln, col))
    return out


def parse_file(path: str | Path, display: str | None = None) -> n.RuleFile:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise RuleError([diag("LR102", f"the file is not UTF-8 text ({e.reason} at byte {e.start})",
                              n.Span(display or str(path), 1, 1, 1, 1), "save the file as UTF-8")]) from None
    return parse(text, display or str(path))
