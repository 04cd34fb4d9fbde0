"""A checked rule file as one SQL query, built as a sqlglot expression tree and rendered per dialect.

The query reads table `leads` (`id` plus one column per declared field, `text list` as an array) and
table `events` (`lead_id`, `type`, `at` timestamp in UTC, one column per event attribute) and returns
one row per lead with `score`'s CSV columns. It follows runtime/backends/closure.py's arithmetic exactly: text
trimmed (the same whitespace as Python's `str.strip`) and lower-cased, empty text missing, whole days
of age, future events ignored, caps after decay, clamp, `floor(x*100+0.5)/100`, first-match
disqualify, bands and routes. Every literal is a sqlglot node (`exp.Literal`), so quoting is done by
sqlglot's generator for each dialect, never by pasting text.
"""
from __future__ import annotations

import datetime as dt
import itertools
import re
from dataclasses import dataclass

from sqlglot import exp

from dsl import nodes as n
from dsl.gcpause import paused_gc

from runtime.core.model import BOOL, DATE, NUMBER, TEXT, TEXT_LIST  # noqa: F401
from runtime.core import kernel as K
from runtime.core.plan import Resolver, lower

DIALECTS = ("duckdb", "postgres", "spark", "snowflake", "bigquery")


# Exactly the characters Python's str.strip() removes (the reference engine trims with it). The
# full set is checked against str.isspace in tests/test_sql.py.
WHITESPACE = "".join(chr(c) for c in range(0x3001) if chr(c).isspace())

# WHITESPACE as a regular-expression class of \uXXXX escapes (checked against it in the tests).
WHITESPACE_CLASS = (r"[\u0009-\u000d\u001c-\u0020\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f"
                    r"\u205f\u3000]")

# Above this many possible grades, routes are matched with regular expressions instead of a table.
_MAX_GRADE_TABLE = 4096


class SqlGenError(Exception):
    """The rule file uses something the SQL backend does not support (yet)."""


@dataclass
class Val:
    """A compiled value: the SQL expression, whether it can be NULL (missing), its language type."""

    sql: exp.Expression
    nullable: bool
    type: str


# ---- small builders (every identifier quoted, every literal a node) ----------------------------


def ident(name: str) -> exp.Identifier:
    return exp.to_identifier(name, quoted=True)


def col(name: str, table: str | None = None) -> exp.Column:
    return exp.Column(this=ident(name), table=ident(table) if table else None)


def s(text: str) -> exp.Literal:
    return exp.Literal.string(text)


def num(x) -> exp.Expression:
    """A number literal with the exact IEEE value Python has: integers as integers, other values
    as a string cast to DOUBLE (a decimal literal could be read as DECIMAL and rounded differently)."""
    if isinstance(x, bool):
        return exp.Boolean(this=x)
    if isinstance(x, int) or float(x).is_integer() and abs(x) < 2 ** 53:
        v = int(x)
        lit = exp.Literal.number(abs(v))
        return exp.Neg(this=lit) if v < 0 else lit
    return exp.cast(s(repr(float(x))), exp.DataType.build("double"))


def dbl(e: exp.Expression) -> exp.Expression:
    return exp.cast(e, exp.DataType.build("double"))


def date_lit(ordinal: int) -> exp.Expression:
    return exp.cast(s(dt.date.fromordinal(ordinal).isoformat()), exp.DataType.build("date"))


TRUE = exp.Boolean(this=True)
FALSE = exp.Boolean(this=False)


def and_(*parts: exp.Expression) -> exp.Expression:
    # an OR inside an AND needs its parentheses: sqlglot prints the tree as built
    parts = [exp.Paren(this=p) if isinstance(p, exp.Or) else p for p in parts if p is not TRUE]
    if any(p is FALSE for p in parts):
        return FALSE
    if not parts:
        return TRUE
    out = parts[0]
    for p in parts[1:]:
        out = exp.And(this=out, expression=p)
    return out


def or_(*parts: exp.Expression) -> exp.Expression:
    parts = [p for p in parts if p is not FALSE]
    if any(p is TRUE for p in parts):
        return TRUE
    if not parts:
        return FALSE
    out = parts[0]
    for p in parts[1:]:
        out = exp.Or(this=out, expression=p)
    return out


def paren(e: exp.Expression) -> exp.Expression:
    """`e` in parentheses unless it is atomic: sqlglot prints the tree as built, so operator
    precedence is made explicit here (exp.And/exp.Or are also Funcs in sqlglot: not atomic)."""
    if isinstance(e, (exp.Column, exp.Literal, exp.Boolean, exp.Paren, exp.Null)):
        return e
    if isinstance(e, exp.Func) and not isinstance(e, (exp.Binary, exp.Unary, exp.Connector)):
        return e
    return exp.Paren(this=e)


def not_(e: exp.Expression) -> exp.Expression:
    if e is TRUE:
        return FALSE
    if e is FALSE:
        return TRUE
    return exp.Not(this=paren(e))


def case(ifs: list[tuple[exp.Expression, exp.Expression]], default: exp.Expression | None = None) -> exp.Expression:
    ifs = [(c, v) for c, v in ifs if c is not FALSE]
    if not ifs:
        return default if default is not None else exp.Null()
    if ifs[0][0] is TRUE:
        return ifs[0][1]
    return exp.Case(ifs=[exp.If(this=c, true=v) for c, v in ifs], default=default)


def alias(e: exp.Expression, name: str) -> exp.Alias:
    return exp.Alias(this=e, alias=ident(name))


def table(name: str, alias_: str | None = None) -> exp.Table:
    t = exp.Table(this=ident(name))
    if alias_:
        t.set("alias", exp.TableAlias(this=ident(alias_)))
    return t


def lambda_(var: str, body: exp.Expression) -> exp.Lambda:
    return exp.Lambda(this=body, expressions=[exp.to_identifier(var)])


def is_not_null(e: exp.Expression) -> exp.Expression:
    return exp.Not(this=exp.Is(this=paren(e), expression=exp.Null()))


def is_null(e: exp.Expression) -> exp.Expression:
    return exp.Is(this=paren(e), expression=exp.Null())


def guard(vals: list[Val], pred: exp.Expression) -> exp.Expression:
    """`pred`, false (never NULL) when a nullable operand is missing: the language's two-valued logic."""
    checks = [is_not_null(v.sql) for v in vals if v.nullable]
    return and_(*checks, pred)


def words_of(phrase: str) -> list[str]:
    """The words of a phrase as runtime/backends/closure.py's words_regex splits them."""
    return [w for w in re.split(r"[\W_]+", phrase.lower()) if w]


# ---- dialect-specific pieces -------------------------------------------------------------------


class Dialect:
    """How each dialect spells the few things sqlglot cannot transpile for us."""

    def __init__(self, name: str):
        if name not in DIALECTS:
            raise SqlGenError(f"unknown SQL dialect {name!r}; choose one of {', '.join(DIALECTS)}")
        self.name = name

    # a character that is not part of a word (words are runs of letters and digits)
    @property
    def nonword(self) -> str:
        return {"duckdb": r"[^\pL\pN]", "bigquery": r"[^\pL\pN]", "spark": r"[^\p{L}\p{N}]",
                "postgres": r"[^[:alnum:]]", "snowflake": r"[^[:alnum:]]"}[self.name]

    def regex_search(self, v: exp.Expression, pattern: str, *, icase: bool) -> exp.Expression:
        d = self.name
        if d == "duckdb":
            args = [v, s(pattern)] + ([s("i")] if icase else [])
            return exp.Anonymous(this="REGEXP_MATCHES", expressions=args)
        if d == "postgres":
            return exp.RegexpILike(this=v, expression=s(pattern)) if icase else \
                exp.RegexpLike(this=v, expression=s(pattern))
        if d == "spark":
            return exp.RegexpLike(this=v, expression=s(("(?i)" if icase else "") + pattern))
        if d == "bigquery":
            return exp.RegexpLike(this=v, expression=s(("(?i)" if icase else "") + pattern))
        # snowflake: REGEXP_LIKE is anchored at both ends; REGEXP_INSTR searches
        args = [v, s(pattern), exp.Literal.number(1), exp.Literal.number(1), exp.Literal.number(0),
                s("i" if icase else "c")]
        return exp.GT(this=exp.Anonymous(this="REGEXP_INSTR", expressions=args), expression=exp.Literal.number(0))

    def trim_ws(self, v: exp.Expression) -> exp.Expression:
        """`v` without the leading and trailing whitespace Python's str.strip() removes."""
        if self.name in ("duckdb", "bigquery"):
            # RE2: \s is [\t\n\f\r ]; with VT, \x1c-\x1f, NEL and \pZ it is exactly str.isspace. (DuckDB's
            # TRIM with a character set is several times slower than this.)
            cls = r"[\s\x{0b}\x{1c}-\x{1f}\x{85}\pZ]"
            args = [v, s(f"^{cls}+|{cls}+$"), s("")] + ([s("g")] if self.name == "duckdb" else [])
            return exp.Anonymous(this="REGEXP_REPLACE", expressions=args)
        if self.name in ("postgres", "spark"):
            # the same set as \uXXXX escapes (PostgreSQL ARE and Java both read them): the query
            # text stays printable ASCII
            cls = WHITESPACE_CLASS
            args = [v, s(f"^{cls}+|{cls}+$"), s("")] + ([s("g")] if self.name == "postgres" else [])
            return exp.Anonymous(this="REGEXP_REPLACE", expressions=args)
        return exp.Trim(this=v, expression=s(WHITESPACE))

    def contains(self, v: exp.Expression, sub: exp.Expression) -> exp.Expression:
        if self.name == "duckdb":
            return exp.Anonymous(this="CONTAINS", expressions=[v, sub])
        return exp.GT(this=exp.StrPosition(this=v, substr=sub), expression=exp.Literal.number(0))

    def starts_with(self, v, a):
        return exp.StartsWith(this=v, expression=a)

    def ends_with(self, v, a):
        if self.name == "postgres":
            return exp.EQ(this=exp.Right(this=v, expression=exp.Length(this=a)), expression=a)
        return exp.EndsWith(this=v, expression=a)

    def days_between(self, start: exp.Expression, end: exp.Expression) -> exp.Expression:
        """Whole days from date `start` to date `end`."""
        if self.name in ("duckdb", "postgres"):
            return exp.Paren(this=exp.Sub(this=end, expression=start))
        return exp.DateDiff(this=end, expression=start, unit=exp.var("DAY"))

    def after_last_at(self, v: exp.Expression) -> exp.Expression:
        if self.name == "postgres":
            return exp.Anonymous(this="SPLIT_PART", expressions=[v, s("@"), exp.Literal.number(-1)])
        return exp.RegexpExtract(this=v, expression=s("@([^@]*)$"), group=exp.Literal.number(1))

    def array_len(self, v: exp.Expression) -> exp.Expression:
        if self.name == "postgres":
            return exp.Anonymous(this="CARDINALITY", expressions=[v])
        return exp.ArraySize(this=v)

    def array_contains(self, v: exp.Expression, x: exp.Expression) -> exp.Expression:
        return exp.ArrayContains(this=v, expression=x)

    def array_any(self, v: exp.Expression, var: str, pred: exp.Expression) -> exp.Expression:
        """Some element of array `v` satisfies `pred` (which refers to the element as `var`)."""
        if self.name in ("postgres", "bigquery"):
            src = exp.Unnest(expressions=[v], alias=exp.TableAlias(this=ident("lr_u"), columns=[exp.to_identifier(var)]))
            return exp.Exists(this=exp.select(exp.Literal.number(1)).from_(src, copy=False).where(pred, copy=False))
        filtered = exp.ArrayFilter(this=v, expression=lambda_(var, pred))
        return exp.GT(this=self.array_len(filtered), expression=exp.Literal.number(0))

    def array_map_filter(self, v: exp.Expression, var: str, value: exp.Expression, keep_var: str,
                         keep: exp.Expression) -> exp.Expression:
        """[value(x) for x in v] keeping the results that satisfy `keep` (referring to `keep_var`)."""
        if self.name in ("postgres", "bigquery"):
            src = exp.Unnest(expressions=[v], alias=exp.TableAlias(this=ident("lr_u"), columns=[exp.to_identifier(var)]))
            inner = exp.select(alias(value, keep_var)).from_(src, copy=False).subquery("lr_m")
            q = exp.select(col(keep_var)).from_(inner, copy=False).where(keep, copy=False)
            return exp.Anonymous(this="ARRAY", expressions=[q])
        mapped = exp.Transform(this=v, expression=lambda_(var, value))
        return exp.ArrayFilter(this=mapped, expression=lambda_(keep_var, keep))


# ---- the generator -----------------------------------------------------------------------------


class _Gen:
    def __init__(self, checked, dialect: str, as_of: dt.date | None, provenance=None):
        self.checked = checked
        self.as_of_date = as_of
        self.plan = lower(checked)
        self.provenance = provenance if provenance is not None else self.plan.provenance
        self.D = Dialect(dialect)
        self.fields: dict[str, str] = dict(checked.fields)
        self.events: dict[str, dict[str, str]] = {k: dict(v) for k, v in checked.events.items()}
        # the reference engine's own constant folding, so literals and lists mean exactly the same
        self.comp = Resolver(self.fields, self.events, checked.lists)
        self.asof = exp.CurrentDate() if as_of is None else \
            exp.cast(s(as_of.isoformat()), exp.DataType.build("date"))
        self.reason_steps: set[str] = set()       # the CTEs of reasons_ctes (fenced on PostgreSQL)
        self.lead_fields: set[str] = set()        # fields used at lead level
        self.ev_fields: set[str] = set()          # lead fields used inside `where`
        self.ev_attrs: dict[str, str] = {}        # attribute -> type, used inside `where`
        self.derived: dict[str, tuple[str, exp.Expression]] = {}   # key -> (column, expr over lf)
        self.aggs: dict[str, tuple[str, exp.Expression, exp.Expression | None]] = {}
        self.any_event_agg = False
        self.want_criteria = False  # build(criteria=True): per-criterion points, raw and fired too
        self.dim_cols: dict[str, str] = {}       # lead dimensions by name (account `lead where` only)
        self.lead_filters: dict = {}             # account `lead where C`: C (None: every lead) -> index
        self.counting = False                    # compiling account criteria: lead counts are columns
        self.weights: dict[str, tuple[str, float]] = {}
        # `reset on` (docs/language.md, "Resets"): per dimension with resets, the predicate "this event
        # is one of its reset events"; while its criteria compile, `scope` is its index and every event
        # aggregate they use keeps only the events kernel.reset_keeps keeps
        self.resets: list[exp.Expression] = []
        self.scope: int | None = None
        self.scopes_used: set[int] = set()
        self.attr_types: dict[str, str] = {}
        for et, attrs in self.events.items():
            for a, t in attrs.items():
                if self.attr_types.setdefault(a, t) != t:
                    raise SqlGenError(f"event attribute {a!r} has different types in different events "
                                      f"({self.attr_types[a]} and {t}); the events table has one column per "
                                      "attribute, so the SQL backend needs one type per name")

    # -- values ------------------------------------------------------------------------------
    def field_col(self, name: str, ev: str | None) -> Val:
        if name not in self.fields and name in self.dim_cols:
            # a lead's dimension score, inside an account's `lead where` (computed before the accounts)
            return Val(col(self.dim_cols[name]), True, NUMBER)
        if name not in self.fields:
            raise SqlGenError(f"{name!r} is not a declared field")
        (self.ev_fields if ev is not None else self.lead_fields).add(name)
        return Val(col("f_" + name), True, self.fields[name])

    def value(self, v, ev: str | None = None) -> Val:
        if isinstance(v, n.Name):
            if ev is not None and v.name in self.events.get(ev, {}):
                t = self.events[ev][v.name]
                self.ev_attrs[v.name] = t
                return Val(col("e_" + v.name), True, t)
            return self.field_col(v.name, ev)
        if isinstance(v, n.Literal):
            c = self.comp.const(v)
            if c is None:
                return Val(exp.Null(), True, TEXT)
            if v.kind == "text":
                return Val(s(c), False, TEXT)
            if v.kind == "date":
                return Val(date_lit(c), False, DATE)
            if v.kind == "bool":
                return Val(exp.Boolean(this=bool(c)), False, BOOL)
            return Val(num(c), False, NUMBER)
        if isinstance(v, n.Call):
            return self.call(v, ev)
        if isinstance(v, n.Count) and v.filter.event == "lead":
            return Val(self.lead_count(v.filter), False, NUMBER)
        if isinstance(v, (n.Count, n.CountTypes, n.DaysSinceLast)):
            if ev is not None:
                raise SqlGenError("an event count or `days since last` inside `where` is not supported "
                                  "by the SQL backend yet")
            return self.event_value(v)
        if isinstance(v, n.DaysSince):
            f = self.field_col(v.field, ev)
            # a date after the as-of day is not yet known (kernel.known_age): NULL, like a missing date
            return Val(known_age_sql(self.D.days_between(f.sql, self.asof)), True, NUMBER)
        raise SqlGenError(f"unsupported value {type(v).__name__}")

    def call(self, v: n.Call, ev) -> Val:
        arg = self.value(v.arg, ev)
        if v.func == "lower":
            return arg  # text is already compared in lower case
        if v.func == "length":
            if arg.type == TEXT_LIST:
                e = self.D.array_len(arg.sql)
            else:
                e = exp.Length(this=arg.sql)
            out = Val(e, arg.nullable, NUMBER)
        elif v.func == "domain":
            if arg.type != TEXT:
                raise SqlGenError("domain() of a non-text value is not supported by the SQL backend")
            out = Val(domain_sql(arg.sql, self.D), True, TEXT)
        else:
            raise SqlGenError(f"unsupported function {v.func}()")
        if ev is None and isinstance(v.arg, n.Name):
            # computed once per lead (domain(email) is typically used by several criteria)
            key = f"{v.func}({v.arg.name})"
            if key not in self.derived:
                self.derived[key] = (f"v{len(self.derived)}", out.sql)
            return Val(col(self.derived[key][0]), out.nullable, out.type)
        return out

    # -- event aggregates (one GROUP BY over the events) ---------------------------------------
    def agg(self, key: str, e: exp.Expression, default: exp.Expression | None) -> exp.Expression:
        if self.scope is not None:  # the same aggregate under another reset is another column
            key = f"reset{self.scope} {key}"
        if key not in self.aggs:
            self.aggs[key] = (f"a{len(self.aggs)}", e, default)
        return col(self.aggs[key][0])

    def event_pred(self, f: n.EventFilter, *, apply_where: bool) -> exp.Expression:
        parts = []
        if f.event is not None:
            if f.event not in self.events:
                raise SqlGenError(f"unknown event {f.event!r}")
            parts.append(exp.EQ(this=col("lr_t"), expression=s(f.event)))
        else:
            self.any_event_agg = True
        if f.within is not None:
            anchor = None
            if f.anchor is not None:  # `within N days of FIELD`: the field joined to every event row
                fc = self.field_col(f.anchor, f.event or "")
                anchor = known_age_sql(self.D.days_between(fc.sql, self.asof))
            parts.append(in_window_sql(col("lr_age"), f.within.days, anchor))
        if f.where is not None and apply_where:
            parts.append(self.cond(f.where, f.event))
        parts.append(self.reset_pred())
        return and_(*parts)

    def reset_pred(self) -> exp.Expression:
        """Inside a dimension with `reset on`: the event is not voided by its reset (kernel.reset_keeps)."""
        if self.scope is None:
            return TRUE
        self.scopes_used.add(self.scope)
        return reset_keeps_sql(col("lr_age"), col(f"lr_ra{self.scope}"), col(f"lr_rf{self.scope}"))

    def reset_scope(self, resets) -> int:
        """Compile a dimension's `reset on` lines into the predicate of its reset events; its index."""
        preds = [and_(exp.EQ(this=col("lr_t"), expression=s(r.event)),
                      self.cond(r.where, r.event) if r.where is not None else TRUE) for r in resets]
        self.resets.append(or_(*[paren(p) for p in preds]))
        return len(self.resets) - 1

    def event_value(self, v) -> Val:
        from dsl import printer

        if isinstance(v, n.Count):
            # the reference engine ignores `where` on `count event` (any type); so do we
            pred = self.event_pred(v.filter, apply_where=v.filter.event is not None)
            e = exp.Sum(this=case([(pred, exp.Literal.number(1))], exp.Literal.number(0)))
            return Val(self.agg("count " + printer.event_filter(v.filter), e, exp.Literal.number(0)), False, NUMBER)
        if isinstance(v, n.CountTypes):
            within = v.within.days if v.within else None
            self.any_event_agg = True
            flags = []
            for et in self.events:
                p = [exp.EQ(this=col("lr_t"), expression=s(et))]
                if within is not None:
                    p.append(exp.LTE(this=col("lr_age"), expression=num(within)))
                p.append(self.reset_pred())
                flags.append(exp.Max(this=case([(and_(*p), exp.Literal.number(1))], exp.Literal.number(0))))
            if not flags:
                return Val(exp.Literal.number(0), False, NUMBER)
            e = flags[0]
            for f in flags[1:]:
                e = exp.Add(this=e, expression=f)
            return Val(self.agg(f"types {within}", e, exp.Literal.number(0)), False, NUMBER)
        if isinstance(v, n.DaysSinceLast):
            if v.filter is not None:  # `days since last EVENT where C within N days`: the newest match
                # never scoped by a reset, like `days since last` (below)
                scope, self.scope = self.scope, None
                try:
                    pred = self.event_pred(v.filter, apply_where=True)
                    e = exp.Min(this=case([(pred, col("lr_age"))]))
                    return Val(self.agg("last " + printer.event_filter(v.filter), e, None), True, NUMBER)
                finally:
                    self.scope = scope
            if v.event is None:
                self.any_event_agg = True
                e = exp.Min(this=col("lr_age"))
            else:
                e = exp.Min(this=case([(exp.EQ(this=col("lr_t"), expression=s(v.event)), col("lr_age"))]))
            # `days since last` keeps its meaning after a reset: every event, one column for all dimensions
            scope, self.scope = self.scope, None
            try:
                return Val(self.agg(f"last {v.event}", e, None), True, NUMBER)
            finally:
                self.scope = scope
        raise SqlGenError(f"unsupported value {type(v).__name__}")

    # -- conditions ----------------------------------------------------------------------------
    def cond(self, c, ev: str | None = None) -> exp.Expression:
        """A boolean expression that is never NULL."""
        if isinstance(c, n.Paren):
            return self.cond(c.cond, ev)
        if isinstance(c, n.Not):
            return not_(self.cond(c.cond, ev))
        if isinstance(c, n.BoolOp):
            parts = [paren(self.cond(i, ev)) for i in c.items]
            return paren(and_(*parts) if c.op == "and" else or_(*parts))
        if isinstance(c, n.Compare):
            return self.compare(c, ev)
        if isinstance(c, n.In):
            return self.in_(c, ev)
        if isinstance(c, n.TextTest):
            return self.text_test(c, ev)
        if isinstance(c, n.Matches):
            v = self.value(c.value, ev)
            if v.type == TEXT_LIST:
                pred = self.D.regex_search(exp.column("lr_x"), c.pattern, icase=True)
                return guard([v], self.D.array_any(v.sql, "lr_x", pred))
            return guard([v], self.D.regex_search(v.sql, c.pattern, icase=True))
        if isinstance(c, n.Between):
            v, lo, hi = self.value(c.value, ev), self.value(c.low, ev), self.value(c.high, ev)
            if any(isinstance(x.sql, exp.Null) for x in (v, lo, hi)):
                return FALSE
            pred = exp.Between(this=self.collate(v), low=self.collate(lo), high=self.collate(hi))
            return guard([v, lo, hi], pred)
        if isinstance(c, n.IsMissing):
            v = self.value(c.value, ev)
            if not v.nullable:
                return FALSE if c.missing else TRUE
            return is_null(v.sql) if c.missing else is_not_null(v.sql)
        if isinstance(c, n.Has) and c.filter.event == "lead":
            return exp.GT(this=self.lead_count(c.filter), expression=exp.Literal.number(0))
        if isinstance(c, n.Has):
            f = c.filter
            if ev is not None:
                raise SqlGenError("`has` inside `where` is not supported by the SQL backend yet")
            from dsl import printer

            pred = self.event_pred(f, apply_where=f.event is not None)
            e = exp.Max(this=case([(pred, exp.Literal.number(1))], exp.Literal.number(0)))
            flag = self.agg("has " + printer.event_filter(f), e, exp.Literal.number(0))
            return exp.EQ(this=flag, expression=exp.Literal.number(1))
        raise SqlGenError(f"unsupported condition {type(c).__name__}")

    def collate(self, v: Val) -> exp.Expression:
        # the reference compares text by code point; PostgreSQL compares by collation unless told
        if self.D.name == "postgres" and v.type == TEXT and not isinstance(v.sql, exp.Null):
            return exp.Collate(this=paren(v.sql), expression=ident("C"))
        return v.sql

    def compare(self, c: n.Compare, ev) -> exp.Expression:
        a, b = self.value(c.left, ev), self.value(c.right, ev)
        if isinstance(a.sql, exp.Null) or isinstance(b.sql, exp.Null):
            return FALSE
        if a.type == TEXT_LIST or b.type == TEXT_LIST:
            raise SqlGenError("a text list cannot be compared with a comparison operator")
        cls = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE, ">": exp.GT, ">=": exp.GTE}[c.op]
        if c.op in ("=", "!="):
            pred = cls(this=a.sql, expression=b.sql)
        else:
            pred = cls(this=self.collate(a), expression=self.collate(b))
        return guard([a, b], pred)

    def in_(self, c: n.In, ev) -> exp.Expression:
        v = self.value(c.value, ev)
        if isinstance(v.sql, exp.Null):
            return FALSE
        raw = self.comp.list_values(c.items)
        if v.type == TEXT_LIST:
            # the reference compares the whole list with each item: never equal
            return FALSE if not c.negated else is_not_null(v.sql)
        items: list[exp.Expression] = []
        seen = set()
        for x in raw:
            if v.type == TEXT:
                if isinstance(x, str) and x not in seen:
                    seen.add(x)
                    items.append(s(x))
            elif v.type == NUMBER:
                if isinstance(x, (int, float)) and not isinstance(x, bool) and float(x) not in seen:
                    seen.add(float(x))
                    items.append(num(float(x)))
            elif v.type == DATE:
                if isinstance(x, (int, float)) and float(x).is_integer() and 1 <= x <= 3652059 and int(x) not in seen:
                    seen.add(int(x))
                    items.append(date_lit(int(x)))
            elif v.type == BOOL:
                if isinstance(x, (int, float)) and x in (0, 1) and bool(x) not in seen:
                    seen.add(bool(x))
                    items.append(exp.Boolean(this=bool(x)))
        if not items:
            return FALSE if not c.negated else (is_not_null(v.sql) if v.nullable else TRUE)
        pred = exp.In(this=paren(v.sql), expressions=items)
        return guard([v], not_(pred) if c.negated else pred)

    def text_test(self, c: n.TextTest, ev) -> exp.Expression:
        v = self.value(c.value, ev)
        if isinstance(v.sql, exp.Null):
            return FALSE
        islist = v.type == TEXT_LIST
        op = c.op
        D = self.D
        if op in ("contains_any", "contains_all", "contains_any_word"):
            items = tuple(x for x in self.comp.list_values(c.arg) if x is not None)
            items = tuple(x if isinstance(x, str) else str(x) for x in items)
        if op in ("contains_word", "contains_any_word"):
            if op == "contains_word":
                if not isinstance(c.arg, n.Literal):
                    return self.dynamic_word(v, self.value(c.arg, ev))
                phrases = [self.comp.const(c.arg) or ""]
            else:
                phrases = list(items)
            pattern = self.word_pattern(phrases)
            if pattern is None:
                return FALSE
            if islist:
                return guard([v], D.array_any(v.sql, "lr_x", D.regex_search(exp.column("lr_x"), pattern, icase=False)))
            return guard([v], D.regex_search(v.sql, pattern, icase=False))
        if op == "contains_any":
            if islist:
                return guard([v], or_(*[D.array_contains(v.sql, s(x)) for x in dict.fromkeys(items)]))
            return guard([v], paren(or_(*[D.contains(v.sql, s(x)) for x in dict.fromkeys(items)])))
        if op == "contains_all":
            if islist:
                return guard([v], and_(*[D.array_contains(v.sql, s(x)) for x in dict.fromkeys(items)]))
            return guard([v], and_(*[D.contains(v.sql, s(x)) for x in dict.fromkeys(items)]))
        a = self.value(c.arg, ev)
        if isinstance(a.sql, exp.Null):
            return FALSE
        if op == "contains":
            if islist:
                return guard([v, a], D.array_contains(v.sql, a.sql))
            return guard([v, a], D.contains(v.sql, a.sql))
        if islist:
            raise SqlGenError(f"`{op.replace('_', ' ')}` on a text list is not supported")
        if op == "starts_with":
            return guard([v, a], D.starts_with(v.sql, a.sql))
        if op == "ends_with":
            return guard([v, a], D.ends_with(v.sql, a.sql))
        raise SqlGenError(f"unsupported text test {op}")

    def word_pattern(self, phrases) -> str | None:
        """A search pattern for any of the phrases as whole words (words: runs of letters/digits)."""
        nw = self.D.nonword
        alts = []
        for p in phrases:
            ws = words_of(p)
            if ws:
                # words hold letters and digits only, so there is nothing to escape in them
                alts.append((nw + "+").join(ws))
        if not alts:
            return None
        return f"(^|{nw})({'|'.join(dict.fromkeys(alts))})({nw}|$)"

    def dynamic_word(self, v: Val, a: Val) -> exp.Expression:
        """`x contains word y` with y not a literal: the pattern is built from y at run time."""
        if self.D.name != "duckdb":
            raise SqlGenError("`contains word` with a phrase that is not a literal is only supported for "
                              "the duckdb dialect")
        nw = self.D.nonword
        word = nw.replace("[^", "[")
        # strip non-word characters at both ends, join the words with "one or more non-word"
        core = exp.Anonymous(this="REGEXP_REPLACE", expressions=[a.sql, s(f"^{nw}+|{nw}+$"), s(""), s("g")])
        # in a RE2 rewrite string a backslash is written twice
        core = exp.Anonymous(this="REGEXP_REPLACE", expressions=[core, s(f"{nw}+"), s(nw.replace("\\", "\\\\") + "+"), s("g")])
        pattern = exp.DPipe(this=exp.DPipe(this=s(f"(^|{nw})("), expression=core), expression=s(f")({nw}|$)"))
        has_word = self.D.regex_search(a.sql, word, icase=False)
        if v.type == TEXT_LIST:
            m = self.D.array_any(v.sql, "lr_x", exp.Anonymous(this="REGEXP_MATCHES", expressions=[exp.column("lr_x"), pattern]))
        else:
            m = exp.Anonymous(this="REGEXP_MATCHES", expressions=[v.sql, pattern])
        return guard([v, a], and_(has_word, m))

    def weight_col(self, hl) -> str:
        """The events CTE column holding 0.5 ** (age / hl), computed once per event."""
        key = repr(float(hl))
        if key not in self.weights:
            self.weights[key] = (f"lr_w{len(self.weights)}", hl)
        return self.weights[key][0]

    # -- criteria ------------------------------------------------------------------------------
    def criterion(self, c: n.Criterion, half_life) -> tuple[exp.Expression, exp.Expression | None, exp.Expression]:
        """(points, raw, fired) of one criterion, as runtime/backends/closure.py's Result has them: points after
        the cap, raw before it (None: the same as points) and whether it fired (a condition held,
        a tier matched, at least one event matched)."""
        if c.kind == "when":
            cond = self.cond(c.cond)
            fired = case([(cond.copy() if cond not in (TRUE, FALSE) else cond, exp.true())], exp.false())
            return case([(cond, num(c.points))], exp.Literal.number(0)), None, fired
        if c.kind == "first":
            ifs = []
            for t in c.tiers:
                ifs.append((TRUE if t.cond is None else self.cond(t.cond), num(t.points)))
                if t.cond is None:
                    break
            fired = case([(cnd if cnd in (TRUE, FALSE) else cnd.copy(), exp.true()) for cnd, _ in ifs], exp.false())
            if ifs and ifs[-1][0] is TRUE and len(ifs) > 1:
                last = ifs.pop()
                return case(ifs, last[1]), None, fired
            return case(ifs, exp.Literal.number(0)), None, fired
        # each
        f = c.filter
        if f.event == "lead":
            raise SqlGenError("account criteria are not supported by the SQL backend yet")
        hl = None if c.no_decay else half_life

        def matching():
            pred = self.event_pred(f, apply_where=True)
            if c.per is not None:  # an event without the attribute adds nothing (kernel.per_unit)
                amount = self.value(n.Name(c.per), f.event)
                pred = and_(pred, is_not_null(amount.sql))
            return pred
        pred = matching()
        if c.per is not None:
            amount = self.value(n.Name(c.per), f.event).sql
            contrib = per_unit_sql(c.points, amount, col(self.weight_col(hl)) if hl is not None else None)
        elif hl is None:
            contrib = num(c.points)
        else:
            contrib = exp.Mul(this=num(c.points), expression=col(self.weight_col(hl)))
        from dsl import printer

        key = f"each {printer.criterion_rule(c)} hl={hl}"
        total = self.agg(key, exp.Sum(this=case([(pred, contrib)])), exp.Literal.number(0))
        # how many events matched: computed only when the caller asks for it (the column is unused
        # otherwise and the engines drop it)
        fired = None
        if self.want_criteria:
            pred2 = matching()
            matched = self.agg(f"matched {key}", exp.Sum(this=case([(pred2, exp.Literal.number(1))],
                                                                  exp.Literal.number(0))), exp.Literal.number(0))
            fired = exp.GT(this=matched, expression=exp.Literal.number(0))
        if c.max is None:
            return total, None, fired
        return cap_sql(total, c.points, c.max), total.copy(), fired

    # -- accounts --------------------------------------------------------------------------------
    def lead_count(self, f: n.EventFilter) -> exp.Expression:
        """Inside account criteria: how many of the account's leads (not disqualified) satisfy the
        filter's `where` (runtime/backends/accounts.py: one flag per distinct `where`, counted per account)."""
        if not self.counting:
            raise SqlGenError("`lead` filters belong in the accounts block")
        if f.where not in self.lead_filters:
            self.lead_filters[f.where] = len(self.lead_filters)
        return col(f"lr_an{self.lead_filters[f.where]}")

    def account_criterion(self, c: n.Criterion) -> tuple[exp.Expression, exp.Expression]:
        """An account criterion's (points, fired) from the account's counts (`lr_an<i>` columns)."""
        def fired_of(conds):
            return case([(cnd if cnd in (TRUE, FALSE) else cnd.copy(), exp.true()) for cnd in conds], exp.false())

        if c.kind == "when":
            cond = self.cond(c.cond)
            return case([(cond, num(c.points))], exp.Literal.number(0)), fired_of([cond])
        if c.kind == "first":
            ifs = []
            for t in c.tiers:
                ifs.append((TRUE if t.cond is None else self.cond(t.cond), num(t.points)))
                if t.cond is None:
                    break
            fired = fired_of([cnd for cnd, _ in ifs])
            if ifs and ifs[-1][0] is TRUE and len(ifs) > 1:
                last = ifs.pop()
                return case(ifs, last[1]), fired
            return case(ifs, exp.Literal.number(0)), fired
        if c.filter.event != "lead":
            raise SqlGenError("an account's `each` criterion counts leads (`each lead where ...`)")
        k = self.lead_count(c.filter)
        fired = exp.GT(this=k.copy(), expression=exp.Literal.number(0))
        total = exp.Mul(this=num(c.points), expression=k)
        if c.max is None:
            return total, fired
        if c.points >= 0:
            return case([(exp.GT(this=total, expression=num(c.max)), num(c.max))], total.copy()), fired
        return case([(exp.LT(this=total, expression=num(-c.max)), num(-c.max))], total.copy()), fired

    def _account_ctes(self, ctes, carry, dims, acc_dims, acc_grades, key, flags, skip_column, criteria) -> str:
        """The account CTEs after lr_s (scores): flags and key per lead, counts per account, each lead
        with its account's counts (its own when it has no key), account points, scores and bands.
        Returns the name of the last one (a row per lead)."""
        live = is_null(col("lr_dq"))
        ok = not_(exp.Coalesce(this=col("x_" + skip_column), expressions=[exp.false()])) if skip_column else TRUE
        scores = ["s_" + d[0] for d in dims]
        base = carry + ["lr_dq"] + scores
        af = [col(c_) for c_ in base] + [alias(case([(ok, key)]) if skip_column else key, "lr_ak")]
        for i, fl in enumerate(flags):
            af.append(alias(case([(and_(live, ok, paren(fl)), exp.Literal.number(1))], exp.Literal.number(0)), f"lr_af{i}"))
        ctes.append(("lr_af", exp.select(*af).from_(table("lr_s"), copy=False)))
        grp = [col("lr_ak")] + [alias(exp.Sum(this=col(f"lr_af{i}")), f"lr_gn{i}") for i in range(len(flags))]
        grp.append(alias(exp.Count(this=exp.Star()), "lr_gsize"))
        ctes.append(("lr_acc", exp.select(*grp).from_(table("lr_af"), copy=False).where(is_not_null(col("lr_ak")), copy=False)
                     .group_by(col("lr_ak"), copy=False)))
        ac = [col(c_, "f") for c_ in base + ["lr_ak"]]
        for i in range(len(flags)):
            ac.append(alias(case([(is_null(col("lr_ak", "f")), col(f"lr_af{i}", "f"))], col(f"lr_gn{i}", "a")), f"lr_an{i}"))
        ac.append(alias(exp.Coalesce(this=col("lr_gsize", "a"), expressions=[exp.Literal.number(1)]), "lr_asize"))
        ctes.append(("lr_ac", exp.select(*ac).from_(table("lr_af", "f"), copy=False)
                     .join(table("lr_acc", "a"), on=exp.EQ(this=col("lr_ak", "a"), expression=col("lr_ak", "f")),
                           join_type="left", copy=False)))
        keep = base + ["lr_ak", "lr_asize"]
        ap = [col(c_) for c_ in keep]
        j = 0
        names = []
        fired_cols = []
        for _dim, _mx, _fl, crits in acc_dims:
            nm = []
            for pts, fired in crits:
                ap.append(alias(pts, f"lr_ap{j}"))
                nm.append(f"lr_ap{j}")
                if criteria:
                    ap.append(alias(fired, f"lr_afired{j}"))
                    fired_cols.append(f"lr_afired{j}")
                j += 1
            names.append(nm)
        ctes.append(("lr_ap", exp.select(*ap).from_(table("lr_ac"), copy=False)))
        keep = keep + fired_cols
        as_ = [col(c_) for c_ in keep]
        for (dim, mx, fl, _c), nm in zip(acc_dims, names):
            as_.append(alias(clamp_round_sql([col(x) for x in nm], mx, fl), f"lr_as_{dim}"))
        ctes.append(("lr_as", exp.select(*as_).from_(table("lr_ap"), copy=False)))
        keep = keep + [f"lr_as_{d[0]}" for d in acc_dims]
        ab = [col(c_) for c_ in keep]
        for dim, bands in acc_grades:
            ab.append(alias(band_sql(col(f"lr_as_{dim}"), bands), f"lr_ab_{dim}"))
        ctes.append(("lr_abx", exp.select(*ab).from_(table("lr_as"), copy=False)))
        return "lr_abx"

    def account_key(self, acc: n.Accounts) -> exp.Expression:
        """The account key as runtime/backends/accounts.py takes it: the field's text, trimmed and lower case,
        or its e-mail domain; NULL (missing) makes the lead an account of its own."""
        key = acc.key
        name = key.arg.name if isinstance(key, n.Call) else getattr(key, "name", None)
        if name is None or self.fields.get(name) != TEXT:
            raise SqlGenError("accounts by a field that is not text are not supported by the SQL backend yet")
        return self.value(key).sql

    # -- the whole query -----------------------------------------------------------------------
    def build(self, *, id_column: str, key_column: str, order_column: str | None,
              passthrough: tuple[str, ...] = (), criteria: bool = False,
              skip_column: str | None = None, reasons: bool = True,
              source_columns: bool = False) -> exp.Expression:
        plan = self.plan
        self.want_criteria = criteria
        disq = [(reason, self.cond(cond)) for reason, cond, _line in plan.disqualify]
        dims = []  # (dim, max, floor, [criterion exprs])
        for d in plan.dimensions:
            self.scope = self.reset_scope(d.resets) if d.resets else None
            try:
                dims.append((d.name, d.max, d.floor, [self.criterion(c.node, d.half_life) for c in d.criteria]))
            finally:
                self.scope = None
        # accounts (runtime/backends/accounts.py): the account criteria first, over per-account counts of the
        # leads that pass each distinct `lead where C`; then every C as a per-lead flag, which may read
        # the lead's fields, events and (rounded) dimension scores
        acc = plan.accounts.node if plan.accounts is not None else None
        if acc is not None:
            if skip_column is not None and skip_column not in passthrough:
                raise SqlGenError("skip_column must be a passthrough column")
            self.counting = True
            acc_dims = []  # (dim, max, floor, [(points, fired) per criterion])
            for sc in acc.scores:
                acc_dims.append((sc.dim, sc.max, sc.floor, [self.account_criterion(c) for c in sc.criteria]))
            self.counting = False
            acc_grades = [(g.dim, [(b.name, b.threshold) for b in g.bands]) for g in acc.grades]
            acc_key = self.account_key(acc)
            self.dim_cols = {d[0]: "s_" + d[0] for d in dims}
            flags = [TRUE if where is None else self.cond(where) for where in self.lead_filters]
            self.dim_cols = {}
        grade_blocks = [(g.dim, list(g.bands)) for g in plan.grades]
        lines = plan.routes.lines

        # the tables' columns: the fields' own names, or (source_columns) the columns the rule file
        # reads them from (`from "Job Title"`, docs/input.md), quoted like every identifier
        c = self.checked
        fsrc = dict(c.sources) if source_columns else {}
        ecols = dict(c.event_columns) if source_columns else {}
        esrc = dict(c.event_sources) if source_columns else {}
        asrc: dict[str, str] = {}
        for et, cols in (c.attr_sources.items() if source_columns else ()):
            for a_, cname in cols.items():
                asrc.setdefault(a_, cname)
        if source_columns and c.id_column and id_column == "id":
            id_column = key_column = c.id_column
        # lf: one row per lead, the fields it needs, normalized
        lf_cols = [alias(col(key_column, "l"), "lr_k"), alias(exp.cast(col(id_column, "l"), exp.DataType.build("text")), "lr_id")]
        if order_column:
            lf_cols.append(alias(col(order_column, "l"), "lr_ord"))
        for pcol in passthrough:
            lf_cols.append(alias(col(pcol, "l"), "x_" + pcol))
        carry = ["lr_id"] + (["lr_ord"] if order_column else []) + ["x_" + pcol for pcol in passthrough]
        for f in sorted(self.lead_fields | self.ev_fields):
            lf_cols.append(alias(self.normalize(col(fsrc.get(f, f), "l"), self.fields[f]), "f_" + f))
        lf = exp.select(*lf_cols).from_(table("leads", "l"), copy=False)
        if self.derived:
            inner = lf.subquery("lr_l0")
            lf = exp.select(exp.Star(), *[alias(e, name) for name, e in self.derived.values()]).from_(inner, copy=False)
        ctes = [("lr_lf", lf)]

        x_from = table("lr_lf")
        x_cols = [col(c_, "lr_lf") for c_ in self._lf_names(carry)]
        if self.aggs:
            def age():
                return self.D.days_between(exp.cast(col(ecols.get("at", "at"), "e"), exp.DataType.build("date")), self.asof)

            def etype():  # the type as the rule file names it (`form_submit from "Form Submission"`)
                t_ = col(ecols.get("type", "type"), "e")
                if not esrc:
                    return t_
                return exp.Case(ifs=[exp.If(this=exp.EQ(this=t_.copy(), expression=s(text)), true=s(name))
                                     for name, text in esrc.items()], default=t_)

            ev_cols = [alias(col(ecols.get("lead_id", "lead_id"), "e"), "lr_k"), alias(etype(), "lr_t"),
                       alias(age(), "lr_age")]
            for a_, t in sorted(self.ev_attrs.items()):
                ev_cols.append(alias(self.normalize(col(asrc.get(a_, a_), "e"), t), "e_" + a_))
            for wname, hl in self.weights.values():
                # exactly the reference's 0.5 ** (age / H): age and H as doubles, one division, one power
                ev_cols.append(alias(decay_sql(age(), hl), wname))
            where = [exp.GTE(this=age(), expression=exp.Literal.number(0))]
            if self.any_event_agg:
                # events of undeclared types are not the language's (the Python reader rejects them)
                where.append(exp.In(this=etype(), expressions=[s(t) for t in self.events]))
            ev = exp.select(*ev_cols).from_(table("events", "e"), copy=False).where(and_(*where), copy=False)
            src = "lr_ev"
            ctes.append(("lr_ev", ev))
            if self.ev_fields:
                evl = exp.select(exp.Column(this=exp.Star(), table=ident("ev")), *[col("f_" + f, "lf") for f in sorted(self.ev_fields)]) \
                    .from_(table("lr_ev", "ev"), copy=False).join(table("lr_lf", "lf"),
                                                     on=exp.EQ(this=col("lr_k", "lf"), expression=col("lr_k", "ev")), copy=False)
                ctes.append(("lr_evl", evl))
                src = "lr_evl"
            if self.scopes_used:
                # per lead and reset: the age of its latest reset event (kernel.reset_age) and, per event,
                # whether it is one of the reset events (kernel.reset_keeps keeps those of the reset's day)
                r_cols: list[exp.Expression] = [exp.Star()]
                for i in sorted(self.scopes_used):
                    is_reset = self.resets[i]
                    latest = exp.Window(this=reset_age_sql(col("lr_age"), is_reset.copy()),
                                        partition_by=[col("lr_k")])
                    r_cols += [alias(latest, f"lr_ra{i}"), alias(is_reset.copy(), f"lr_rf{i}")]
                ctes.append(("lr_evr", exp.select(*r_cols).from_(table(src), copy=False)))
                src = "lr_evr"
            agg = exp.select(col("lr_k"), *[alias(e, name) for name, e, _ in self.aggs.values()]) \
                .from_(table(src), copy=False).group_by(col("lr_k"), copy=False)
            ctes.append(("lr_agg", agg))
            x_from_join = table("lr_agg")
            for name, _e, default in self.aggs.values():
                e = col(name, "lr_agg")
                x_cols.append(alias(exp.Coalesce(this=e, expressions=[default]) if default is not None else e, name))
        x = exp.select(*x_cols).from_(x_from, copy=False)
        if self.aggs:
            x = x.join(x_from_join, on=exp.EQ(this=col("lr_k", "lr_agg"), expression=col("lr_k", "lr_lf")),
                       join_type="left", copy=False)
        ctes.append(("lr_x", x))
        # the account flags read lr_x's columns after the scores: carried that far
        acc_carry = []
        if acc is not None:
            acc_carry = [c_ for c_ in self._lf_names(carry) + [name for name, _e, _d in self.aggs.values()]
                         if c_ not in carry]

        # points per criterion, disqualification
        p_cols = [col(c_) for c_ in carry + acc_carry]
        dq_expr = case([(cond, s(reason)) for reason, cond in disq])
        if isinstance(dq_expr, exp.Null):
            dq_expr = exp.cast(exp.Null(), exp.DataType.build("text"))  # typed, for every engine
        p_cols.append(alias(dq_expr, "lr_dq"))
        k = 0
        crit_names = []
        crit_out = []  # with criteria=True: (points, raw, fired) column names per criterion
        for dim, _mx, _fl, crits in dims:
            names = []
            for e, raw, fired in crits:
                p_cols.append(alias(e, f"c{k}"))
                names.append(f"c{k}")
                if criteria:
                    if raw is not None:
                        p_cols.append(alias(raw, f"lr_r{k}"))
                    p_cols.append(alias(fired, f"lr_f{k}"))
                    crit_out.append((f"c{k}", f"lr_r{k}" if raw is not None else f"c{k}", f"lr_f{k}"))
                k += 1
            crit_names.append(names)
        ctes.append(("lr_p", exp.select(*p_cols).from_(table("lr_x"), copy=False)))
        points_out = []  # reasons=False without criteria: each criterion's points, for the caller's kernel.reasons
        if criteria:  # carried to the output like the id
            carry = carry + sorted({c_ for triple in crit_out for c_ in triple})
        elif not reasons:
            points_out = [nm for names in crit_names for nm in names]
            carry = carry + points_out
        # the reasons a rep reads (kernel.reasons), carried to the output like the id
        p_from = "lr_p"
        if reasons:
            crit_names_flat = [c.name for c in plan.criteria]
            make = reasons_list_ctes if self.D.name == "duckdb" else reasons_ctes
            steps = make(crit_names_flat, [nm for names in crit_names for nm in names], "lr_dq", "lr_p")
            self.reason_steps = {name for name, _ in steps}
            ctes += steps
            carry = carry + ["lr_reasons"]
            p_from = "lr_rs"

        # dimension scores: sum in file order, clamp, round
        s_cols = [col(c_) for c_ in carry + acc_carry] + [col("lr_dq")]
        for (dim, mx, fl, _), names in zip(dims, crit_names):
            s_cols.append(alias(clamp_round_sql([col(nm) for nm in names], mx, fl), "s_" + dim))
        ctes.append(("lr_s", exp.select(*s_cols).from_(table(p_from), copy=False)))
        b_from = "lr_s"
        acc_out = []  # (output column, carried column)
        if acc is not None:
            b_from = self._account_ctes(ctes, carry, dims, acc_dims, acc_grades, acc_key, flags, skip_column,
                                        criteria)
            carry = carry + ["lr_ak"] + [f"lr_as_{d[0]}" for d in acc_dims] + [f"lr_ab_{g[0]}" for g in acc_grades]
            if criteria:
                carry = carry + ["lr_asize"] + [f"lr_afired{j}" for j in range(sum(len(d[3]) for d in acc_dims))]
            graded_acc = {g[0] for g in acc_grades}
            acc_out.append(("account", "lr_ak"))
            for d in acc_dims:
                acc_out.append((f"account_{d[0]}_score", f"lr_as_{d[0]}"))
                if d[0] in graded_acc:
                    acc_out.append((f"account_{d[0]}_band", f"lr_ab_{d[0]}"))

        # bands and grade
        g_cols = [col(c_) for c_ in carry] + [col("lr_dq")]
        g_cols += [col("s_" + d[0]) for d in dims]
        grade_parts = []
        for dim, bands in grade_blocks:
            g_cols.append(alias(band_sql(col("s_" + dim), bands), "b_" + dim))
            grade_parts.append(exp.Coalesce(this=col("b_" + dim), expressions=[s("")]))
        ctes.append(("lr_b", exp.select(*g_cols).from_(table(b_from), copy=False)))
        grade: exp.Expression = s("")
        if grade_parts:
            grade = grade_parts[0]
            for gp in grade_parts[1:]:
                grade = exp.DPipe(this=grade, expression=gp, safe=True)

        # routes: every possible grade is known, so route lines are matched here, in Python, with
        # the reference engine's own pattern matcher; the query only looks the answer up
        route_view = [(ln.patterns, ln.account_band) for ln in lines]

        def line_for(g: str | None, dq: bool):
            return K.route_choice(route_view, g, dq)

        choices = []
        for _dim, bands in grade_blocks:
            names = [b for b, _ in bands]
            if bands and bands[-1][1] is not None:
                names.append("")  # no `otherwise`: a lead can have no band
            choices.append(names)
        n_grades = 1
        for ch in choices:
            n_grades *= max(1, len(ch))
        gcol = col("lr_grade")
        li_ifs = []
        dq_line = line_for(None, True)
        li_ifs.append((is_not_null(col("lr_dq")), exp.Literal.number(dq_line) if dq_line is not None else exp.Null()))
        if acc is not None:
            # line by line in order: an `account BAND and ...` line also needs one of the account's bands
            if n_grades > _MAX_GRADE_TABLE:
                raise SqlGenError("too many possible grades for account routes in SQL")
            all_grades = list(dict.fromkeys("".join(combo) for combo in itertools.product(*choices)))
            graded_acc = [g[0] for g in acc_grades]
            for i, line in enumerate(lines):
                gs = [g for g in all_grades if any(K.pattern_matches(kind, text, g, False) for kind, text in line.patterns)]
                if not gs:
                    continue
                cond = TRUE if len(gs) == len(all_grades) else exp.In(this=gcol, expressions=[s(g) for g in gs])
                if line.account_band is not None:
                    band = or_(*[exp.EQ(this=col(f"lr_ab_{d}"), expression=s(line.account_band)) for d in graded_acc])
                    cond = and_(paren(band), cond)
                li_ifs.append((cond, exp.Literal.number(i)))
                if cond is TRUE:
                    break
        elif n_grades <= _MAX_GRADE_TABLE:
            by_line: dict[int, list[str]] = {}
            order = []
            for combo in itertools.product(*choices):
                g = "".join(combo)
                li = line_for(g, False)
                if li is None:
                    continue
                if li not in by_line:
                    by_line[li] = []
                    order.append(li)
                if g not in by_line[li]:
                    by_line[li].append(g)
            for li in sorted(order):
                li_ifs.append((exp.In(this=gcol, expressions=[s(g) for g in by_line[li]]), exp.Literal.number(li)))
        else:
            for i, line in enumerate(lines):
                if line.account_band is not None:
                    continue
                conds = []
                for kind, text in line.patterns:
                    if kind == "otherwise":
                        conds.append(TRUE)
                    elif kind == "grade":
                        conds.append(self.D.regex_search(gcol, grade_pattern_regex(text), icase=False))
                cond = or_(*conds)
                if cond is not FALSE:
                    li_ifs.append((cond, exp.Literal.number(i)))
                if cond is TRUE:
                    break
        r_cols = [col(c_) for c_ in carry] + [col("lr_dq")]
        r_cols += [col("s_" + d[0]) for d in dims] + [col("b_" + g[0]) for g in grade_blocks]
        r_cols.append(alias(grade, "lr_grade"))
        ctes.append(("lr_g", exp.select(*r_cols).from_(table("lr_b"), copy=False)))
        r2 = [col(c_.alias_or_name) if isinstance(c_, exp.Alias) else c_ for c_ in r_cols]
        r2.append(alias(case(li_ifs), "lr_li"))
        ctes.append(("lr_r", exp.select(*r2).from_(table("lr_g"), copy=False)))

        # final projection: score's CSV columns
        dq = col("lr_dq")
        live = is_null(dq)
        out = [alias(col("lr_id"), "id")]
        graded = {g[0] for g in grade_blocks}
        for dim, *_ in dims:
            out.append(alias(case([(live, col("s_" + dim))]), f"{dim}_score"))
            if dim in graded:
                out.append(alias(case([(live, col("b_" + dim))]), f"{dim}_band"))
        out.append(alias(case([(live, gcol)], s("disqualified")), "grade"))
        li = col("lr_li")
        for what in ("route", "queue", "sla"):
            ifs = []
            for i, line in enumerate(lines):
                val = {"route": line.action, "queue": line.queue, "sla": line.sla}[what]
                if val is not None:
                    ifs.append((exp.EQ(this=li, expression=exp.Literal.number(i)), s(val)))
            out.append(alias(case(ifs, None) if ifs else exp.cast(exp.Null(), exp.DataType.build("text")), what))
        out.append(alias(dq, "disqualified"))
        out += [alias(col(c_), name) for name, c_ in acc_out]
        # reasons and provenance (runtime/io/writers.py: the same columns as `score`'s CSV)
        prov = self.provenance
        if reasons:
            out.append(alias(col("lr_reasons"), "reasons"))
        out.append(alias(s(prov.ruleset), "ruleset"))
        out.append(alias(num(prov.version) if prov.version is not None else
                         exp.cast(exp.Null(), exp.DataType.build("double")), "ruleset_version"))
        out.append(alias(s(prov.rules_sha256) if prov.rules_sha256 else
                         exp.cast(exp.Null(), exp.DataType.build("text")), "rules_sha256"))
        out.append(alias(s(self.as_of_date.isoformat()) if self.as_of_date is not None else _text(exp.CurrentDate()),
                         "as_of"))
        out += [alias(col("x_" + pcol), pcol) for pcol in passthrough]
        if acc is not None and criteria:  # for simulate's account statistics
            out.append(alias(col("lr_asize"), "lr_account_size"))
            nacc = sum(len(d[3]) for d in acc_dims)
            out += [alias(col(f"lr_afired{j}"), f"lr_account_fired_{j}") for j in range(nacc)]
        if criteria:
            out.append(alias(col("lr_li"), "lr_route_line"))
        out += [alias(col(pc), f"lr_points_{k_}") for k_, pc in enumerate(points_out)]
        for k_, (pc, rc, fc) in enumerate(crit_out):
            out += [alias(col(pc), f"lr_points_{k_}"), alias(col(rc), f"lr_raw_{k_}"), alias(col(fc), f"lr_fired_{k_}")]
        q = exp.select(*out).from_(table("lr_r"), copy=False)
        if order_column:
            q = q.order_by(col("lr_ord"))
        # PostgreSQL inlines a CTE used once, pasting its expressions wherever a later step reads its
        # columns: each step of the reasons reads the last one's column k times (k^steps: the server
        # ran out of memory planning acme), so there every step of the reasons is materialized
        fence = self.reason_steps if self.D.name == "postgres" else set()
        for name, body in ctes:
            # copy=False: no copy of the query so far per CTE (linear, not quadratic, in the CTEs)
            q = q.with_(ident(name), as_=body, materialized=name in fence or None, copy=False)
        return q

    def _lf_names(self, carry):
        names = ["lr_k"] + list(carry)
        names += ["f_" + f for f in sorted(self.lead_fields | self.ev_fields)]
        names += [name for name, _e in self.derived.values()]
        return names

    def normalize(self, c: exp.Expression, typ: str) -> exp.Expression:
        """A column as the language sees it: text trimmed and lower-cased, empty text missing."""
        if typ == TEXT:
            return norm_sql(c, self.D)
        if typ == TEXT_LIST:
            item = norm_sql(exp.column("lr_i"), self.D)
            lst = self.D.array_map_filter(c, "lr_i", item, "lr_j", is_not_null(exp.column("lr_j")))
            return case([(exp.EQ(this=exp.Coalesce(this=self.D.array_len(lst), expressions=[exp.Literal.number(0)]),
                                 expression=exp.Literal.number(0)), exp.Null())], lst)
        return c


# ---- one builder per rule of the kernel (runtime/core/kernel.py), each pinned to it by a property
# test that runs the SQL in DuckDB (tests/test_kernel.py) ------------------------------------------


def norm_sql(c: exp.Expression, dialect: "Dialect") -> exp.Expression:
    """kernel.norm: trimmed (str.strip's whitespace), lower case, empty text missing."""
    return exp.Nullif(this=exp.Lower(this=dialect.trim_ws(c)), expression=s(""))


def domain_sql(v: exp.Expression, dialect: "Dialect") -> exp.Expression:
    """kernel.domain of a normalized text: after the last `@`, trimmed, empty is missing."""
    tail = dialect.trim_ws(dialect.after_last_at(v))
    return case([(dialect.contains(v, s("@")), exp.Nullif(this=tail, expression=s("")))])


def grade_pattern_regex(pattern: str) -> str:
    """kernel.grade_matches as a regular expression (for files with too many grades to tabulate):
    `*` any run of characters and, in a pattern with a `*`, `?` any one character."""
    if "*" not in pattern:
        return "^" + re.escape(pattern) + "$"
    out = []
    for ch in pattern:
        out.append(".*" if ch == "*" else "." if ch == "?" else re.escape(ch))
    return "^" + "".join(out) + "$"


def whole_points_sql(p: exp.Expression) -> exp.Expression:
    """kernel.whole_points, without its sign: floor(|p| + 0.5), as a double."""
    return exp.Floor(this=exp.Add(this=exp.Abs(this=p), expression=num(0.5)))


def _text(e: exp.Expression) -> exp.Expression:
    return exp.cast(e, exp.DataType.build("text"))


def _concat(*parts: exp.Expression) -> exp.Expression:
    out = parts[0]
    for p in parts[1:]:
        out = exp.DPipe(this=out, expression=p, safe=True)
    return out


def reasons_ctes(names: list[str], point_cols: list[str], dq_col: str, source: str) -> list[tuple[str, exp.Expression]]:
    """kernel.reasons as CTEs over `source` (which has the criteria's points in `point_cols` and the
    disqualification reason in `dq_col`), in work linear in the number of criteria: each criterion
    gets one exact BIGINT order key (its whole points, at most kernel.REASONS_ORDER_CAP, times k,
    plus its place from the end: unique and > 0, largest first, ties in file order; 0 for a
    criterion whose whole points are 0); then one step per place that can fit in
    kernel.REASONS_MAX characters takes the largest key below the last one (GREATEST), the place's
    text (`lr_rt1` ...) is the criterion with that key, and `lr_reasons` is as many whole items as
    fit. Plain arithmetic, GREATEST, CASE and ||: every dialect runs it. (A form that ranks every
    criterion against every other in one step is k² and was no faster in DuckDB at 24 criteria.)"""
    k = len(names)
    if k * (K.REASONS_ORDER_CAP + 1) >= 2**63:
        raise SqlGenError(f"{k:,} criteria are more than the SQL reasons take")
    bigint = exp.DataType.build("bigint")
    a = [f"lr_ra{i}" for i in range(k)]
    key = [f"lr_rk{i}" for i in range(k)]
    # at most this many items fit: each is its name, a space, a sign and a digit, and "; " between
    # (so the shortest names, each + 5, add up to at most REASONS_MAX + 2)
    places, room = 0, K.REASONS_MAX + 2
    for ln in sorted(len(nm) for nm in names):
        room -= ln + 5
        if room < 0:
            break
        places += 1

    def zero() -> exp.Literal:
        return exp.Literal(this="0", is_string=False)  # (Literal.number costs a parse per call)

    def item(i: int) -> exp.Expression:
        """Criterion i's text, `Name +40`: built only where it is picked (a fresh tree each time)."""
        sign = case([(exp.GTE(this=col(point_cols[i]), expression=zero()), s("+"))], s("-"))
        return _concat(s(names[i] + " "), sign, _text(exp.cast(col(a[i]), exp.DataType.build("bigint"))))

    cols1 = [exp.Star()] + [alias(whole_points_sql(col(c)), a[i]) for i, c in enumerate(point_cols)]
    cols2: list[exp.Expression] = [exp.Star()]
    for i in range(k):
        capped = case([(exp.GT(this=col(a[i]), expression=exp.Literal.number(K.REASONS_ORDER_CAP)),
                        exp.Literal.number(K.REASONS_ORDER_CAP))], col(a[i]))
        order = exp.Add(this=exp.Mul(this=exp.cast(paren(capped), bigint), expression=exp.Literal.number(k)),
                        expression=exp.Literal.number(k - 1 - i))
        cols2.append(alias(case([(exp.GT(this=col(a[i]), expression=zero()), order)], exp.cast(zero(), bigint)),
                           key[i]))
    ctes = [("lr_rw", exp.select(*cols1).from_(table(source), copy=False)),
            ("lr_rx", exp.select(*cols2).from_(table("lr_rw"), copy=False))]
    prev = "lr_rx"
    for r in range(1, places + 1):
        if r == 1:
            cands = [col(key[i]) for i in range(k)]
        else:
            below = col(f"lr_rm{r - 1}")
            cands = [case([(exp.LT(this=col(key[i]), expression=below.copy()), col(key[i]))], zero())
                     for i in range(k)]
        # (no candidate is NULL: ignore_nulls only spares DuckDB's NULL guard around GREATEST)
        m = cands[0] if k == 1 else exp.Greatest(this=cands[0], expressions=cands[1:], ignore_nulls=True)
        name = f"lr_rm{r}"
        ctes.append((name + "s", exp.select(exp.Star(), alias(m, name)).from_(table(prev), copy=False)))
        prev = name + "s"
    t = []
    for r in range(1, places + 1):
        m = col(f"lr_rm{r}")
        pick = exp.Case(this=m, ifs=[exp.If(this=col(key[i]), true=item(i)) for i in range(k)])
        t.append(alias(case([(exp.GT(this=m.copy(), expression=zero()), pick)]), f"lr_rt{r}"))
    ctes.append(("lr_rt", exp.select(exp.Star(), *t).from_(table(prev), copy=False)))
    parts: list[exp.Expression] = []
    size: exp.Expression = exp.Literal.number(-2)
    for r in range(1, places + 1):
        tr = col(f"lr_rt{r}")
        size = exp.Add(this=size, expression=exp.Add(this=exp.Length(this=exp.Coalesce(this=tr, expressions=[s("")])),
                                                     expression=exp.Literal.number(2)))
        fits = and_(is_not_null(tr.copy()), exp.LTE(this=paren(size.copy()), expression=exp.Literal.number(K.REASONS_MAX)))
        parts.append(case([(fits, _concat(s("; "), tr.copy()) if r > 1 else tr.copy())], s("")))
    text = _concat(*parts) if parts else s("")
    dq = col(dq_col)
    reasons = case([(is_not_null(dq), exp.Substring(this=dq.copy(), start=exp.Literal.number(1),
                                                      length=exp.Literal.number(K.REASONS_MAX)))], text)
    ctes.append(("lr_rs", exp.select(exp.Star(), alias(reasons, "lr_reasons")).from_(table("lr_rt"), copy=False)))
    return ctes


# the rest of kernel.reasons over the sorted items `lr_ri` (a list of {k, t}): every text joined by
# "; " when that fits, else as many whole items as fit (a running length per place, only for such rows)
_REASONS_FROM_LIST = """
CASE WHEN lr_dq_ IS NOT NULL THEN SUBSTRING(lr_dq_, 1, {max})
     WHEN LENGTH(lr_rf) <= {max} THEN lr_rf
     ELSE ARRAY_TO_STRING(LIST_TRANSFORM(lr_ri[1:LEN(LIST_FILTER(LIST_TRANSFORM(RANGE(1, LEN(lr_ri) + 1),
              LAMBDA j : LIST_SUM(LIST_TRANSFORM(lr_ri[1:j], LAMBDA x : LENGTH(x.t) + 2)) - 2),
              LAMBDA c : c <= {max}))], LAMBDA x : x.t), '; ')
END"""


def reasons_list_ctes(names: list[str], point_cols: list[str], dq_col: str,
                      source: str) -> list[tuple[str, exp.Expression]]:
    """reasons_ctes in DuckDB's list functions (~2.5x faster there at 24 criteria): each criterion
    whose whole points are not 0 becomes {k: its order key, as in reasons_ctes; t: its text}, the
    list is sorted by key, largest first, and joined; a row whose text is too long takes as many
    whole items as fit. The same CTE names in and out (`lr_rs` with `lr_reasons`)."""
    import sqlglot

    k = len(names)
    if k * (K.REASONS_ORDER_CAP + 1) >= 2**63:
        raise SqlGenError(f"{k:,} criteria are more than the SQL reasons take")
    if k == 0:
        return [("lr_rs", exp.select(exp.Star(), alias(case([(is_not_null(col(dq_col)), exp.Substring(
            this=col(dq_col), start=exp.Literal.number(1), length=exp.Literal.number(K.REASONS_MAX)))], s("")),
            "lr_reasons")).from_(table(source), copy=False))]
    bigint = exp.DataType.build("bigint")
    a = [f"lr_ra{i}" for i in range(k)]
    cols1 = [exp.Star()] + [alias(exp.cast(whole_points_sql(col(c)), bigint), a[i]) for i, c in enumerate(point_cols)]
    cap = exp.Literal.number(K.REASONS_ORDER_CAP)
    items = []
    for i in range(k):
        w = col(a[i])
        key = exp.Add(this=exp.Mul(this=exp.Least(this=w, expressions=[cap.copy()]), expression=exp.Literal.number(k)),
                      expression=exp.Literal.number(k - 1 - i))
        sign = case([(exp.GTE(this=col(point_cols[i]), expression=exp.Literal.number(0)), s("+"))], s("-"))
        text = _concat(s(names[i] + " "), sign, _text(w.copy()))
        struct = exp.Struct(expressions=[exp.PropertyEQ(this=exp.to_identifier("k"), expression=key),
                                         exp.PropertyEQ(this=exp.to_identifier("t"), expression=text)])
        items.append(case([(exp.GT(this=w.copy(), expression=exp.Literal.number(0)), struct)]))
    x = exp.to_identifier("x")
    kept = exp.Anonymous(this="LIST_FILTER", expressions=[
        exp.Array(expressions=items),
        exp.Lambda(this=exp.Not(this=exp.Is(this=exp.column("x"), expression=exp.Null())), expressions=[x])])
    sorted_ = exp.Anonymous(this="ARRAY_REVERSE_SORT", expressions=[kept])
    texts = exp.Anonymous(this="LIST_TRANSFORM", expressions=[
        exp.column("lr_ri"), exp.Lambda(this=exp.Dot(this=exp.column("x"), expression=exp.to_identifier("t")),
                                        expressions=[x.copy()])])
    full = exp.Anonymous(this="ARRAY_TO_STRING", expressions=[texts, s("; ")])
    reasons = sqlglot.parse_one(_REASONS_FROM_LIST.format(max=K.REASONS_MAX), read="duckdb")
    return [("lr_rw", exp.select(*cols1).from_(table(source), copy=False)),
            ("lr_rl", exp.select(exp.Star(), alias(sorted_, "lr_ri"), alias(col(dq_col), "lr_dq_"))
             .from_(table("lr_rw"), copy=False)),
            ("lr_rj", exp.select(exp.Star(), alias(full, "lr_rf")).from_(table("lr_rl"), copy=False)),
            ("lr_rs", exp.select(exp.Star(), alias(reasons, "lr_reasons")).from_(table("lr_rj"), copy=False))]


def decay_sql(age: exp.Expression, hl) -> exp.Expression:
    """kernel.decay_weight: 0.5 ** (age / H), age and H as doubles, one division, one power."""
    return exp.Pow(this=num(0.5), expression=exp.Div(this=dbl(age), expression=dbl(num(hl))))


def reset_age_sql(age: exp.Expression, is_reset: exp.Expression) -> exp.Expression:
    """kernel.reset_age, as an aggregate over a lead's events: the smallest age of its reset events
    (NULL when it has none). The query runs it as a window per lead (the `lr_evr` step)."""
    return exp.Min(this=case([(is_reset, age)]))


def reset_keeps_sql(age: exp.Expression, reset: exp.Expression, is_reset: exp.Expression) -> exp.Expression:
    """kernel.reset_keeps: the event counts when there is no reset (NULL), it is younger than the
    reset, or it is a reset event of the reset's own day. Never NULL (`is_reset` never is)."""
    return paren(or_(is_null(reset), exp.LT(this=age, expression=reset.copy()),
                     paren(and_(exp.EQ(this=age.copy(), expression=reset.copy()), is_reset))))
def known_age_sql(days: exp.Expression) -> exp.Expression:
    """kernel.known_age, given `days` = the whole days from the date to the as-of day (NULL when the
    date is missing): NULL when negative (a date after the as-of day is not yet known)."""
    return exp.Case(ifs=[exp.If(this=exp.LT(this=days, expression=exp.Literal.number(0)), true=exp.Null())],
                    default=days.copy())


def in_window_sql(age: exp.Expression, within, anchor_age: exp.Expression | None = None) -> exp.Expression:
    """kernel.in_window: `age <= N`; with an anchor (its known_age_sql), 0 <= anchor_age - age <= N and
    false (never NULL) when the anchor is not known."""
    if anchor_age is None:
        return exp.LTE(this=age, expression=num(within))
    gap = exp.Paren(this=exp.Sub(this=anchor_age, expression=age.copy()))
    return and_(is_not_null(anchor_age.copy()), exp.GTE(this=gap, expression=exp.Literal.number(0)),
                exp.LTE(this=gap.copy(), expression=num(within)))


def per_unit_sql(points, amount: exp.Expression, weight: exp.Expression | None) -> exp.Expression:
    """kernel.per_unit: (P × amount) × weight, as doubles (the caller keeps events without an amount out)."""
    e = exp.Mul(this=dbl(num(points)), expression=dbl(amount))
    return e if weight is None else exp.Mul(this=exp.Paren(this=e), expression=weight)


def cap_sql(total: exp.Expression, points, limit) -> exp.Expression:
    """kernel.cap: positive points capped at M, negative ones at -M."""
    if points >= 0:
        return case([(exp.GT(this=total, expression=num(limit)), num(limit))], total.copy())
    return case([(exp.LT(this=total, expression=num(-limit)), num(-limit))], total.copy())


def clamp_round_sql(terms: list[exp.Expression], mx, fl) -> exp.Expression:
    """kernel.clamp_round of the sum of `terms` (in order): clamp to [floor, max], round as
    floor(x*100+0.5)/100, as a double."""
    total: exp.Expression = exp.Literal.number(0)
    if terms:
        total = terms[0]
        for t in terms[1:]:
            total = exp.Add(this=total, expression=t)
    clamped = case([(exp.GT(this=paren(total), expression=num(mx)), num(mx)),
                    (exp.LT(this=paren(total.copy()), expression=num(fl)), num(fl))], paren(total.copy()))
    rounded = exp.Div(this=exp.Floor(this=exp.Add(this=exp.Mul(this=paren(clamped), expression=exp.Literal.number(100)),
                                                  expression=num(0.5))),
                      expression=exp.Literal.number(100))
    return dbl(rounded)


def band_sql(score: exp.Expression, bands) -> exp.Expression:
    """kernel.band: a grade block's band of a (rounded) score, the first whose threshold it reaches."""
    ifs = [(TRUE if th is None else exp.GTE(this=score.copy(), expression=num(th)), s(name)) for name, th in bands]
    b = case(ifs) if not (ifs and ifs[0][0] is TRUE) else ifs[0][1]
    if ifs and ifs[-1][0] is TRUE and len(ifs) > 1:
        b = case(ifs[:-1], ifs[-1][1])
    return b


def build_query(checked, dialect: str = "duckdb", as_of: dt.date | None = None, *, id_column: str = "id",
                key_column: str | None = None, order_column: str | None = None,
                passthrough: tuple[str, ...] = (), criteria: bool = False,
                skip_column: str | None = None, provenance=None, reasons: bool = True,
                source_columns: bool = False) -> exp.Expression:
    """The rule file as one sqlglot SELECT. `as_of=None` scores as of the engine's CURRENT_DATE.
    `key_column` is the leads column that events.lead_id refers to (default: `id_column`);
    `order_column`, if given, orders the output (the DuckDB engine passes the input row number);
    `passthrough` columns of `leads` are copied to the output unchanged. `criteria=True` adds, for
    every criterion k in file order, `lr_points_k` (after its cap), `lr_raw_k` (before it) and
    `lr_fired_k` (boolean), and `lr_route_line` (the index of the route line taken): what `--explain`,
    `simulate` and `diff` need from a lead. With an accounts block the output also has `account` and
    `account_<dim>_score` / `account_<dim>_band` (after `disqualified`, as in `score`'s CSV), and
    `skip_column` (a passthrough boolean column) names rows that are no lead (the DuckDB engine's bad
    rows): they count towards no account. Every row also has `reasons`, `ruleset`, `ruleset_version`,
    `rules_sha256` (from `provenance`, a runtime.core.plan.Provenance; by default the one of the
    checked file's own source) and `as_of`, as `score` writes them. `reasons=False` leaves `reasons`
    out and gives every criterion's `lr_points_k` instead (the DuckDB engine computes the reasons with
    the kernel: the portable SQL form costs O(criteria × the items that fit) per row). `source_columns=True` reads the
    tables by the columns the rule file names (`from "..."`): what `leadrules compile` gives a
    warehouse."""
    with paused_gc():  # (dsl/gcpause.py: a query of 1,000 criteria is a tree of ~10⁶ nodes)
        g = _Gen(checked, dialect, as_of, provenance)
        return g.build(id_column=id_column, key_column=key_column or id_column, order_column=order_column,
                       passthrough=tuple(passthrough), criteria=criteria, skip_column=skip_column,
                       reasons=reasons, source_columns=source_columns)


def to_sql(checked, dialect: str = "duckdb", as_of: dt.date | None = None, *, pretty: bool = True, **kw) -> str:
    """The query as text in the dialect's syntax."""
    q = build_query(checked, dialect, as_of, **kw)
    with paused_gc():
        return q.sql(dialect=dialect, pretty=pretty)  # (copied first: a node may sit in two places)
