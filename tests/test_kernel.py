"""The kernel of meaning (runtime/core/kernel.py) and every other form of its rules, pinned to it:

- the SQL builders of runtime/backends/sql.py, run in DuckDB on the same values;
- the forms generated Python inlines for speed (runtime/backends/pygen.py), compiled and run;
- the closure engine, which calls the kernel itself (checked through whole rule files elsewhere).
"""
from __future__ import annotations

import ast
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.backends import pygen
from runtime.core import kernel as K

duckdb = pytest.importorskip("duckdb")
sqlglot = pytest.importorskip("sqlglot")
from sqlglot import exp  # noqa: E402

from runtime.backends import sql as S  # noqa: E402

CON = duckdb.connect()
CON.execute("SET TimeZone = 'UTC'")
DUCK = S.Dialect("duckdb")

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
points = st.one_of(st.integers(-500, 500), finite)
# text the language meets in exports: letters (accents too), digits, punctuation, every kind of space
TEXT = st.text(alphabet=st.sampled_from(list("abcXYZ éÉüß019@.-_;,'\"") + [" ", "\t", "\n", "\u00a0", "\u2003",
                                                                          "\u3000", "\x0b", "\x1c", "\x85"]),
               max_size=20)


def run(e: exp.Expression):
    return CON.execute("SELECT " + e.sql(dialect="duckdb")).fetchone()[0]


# ---- SQL builders against the kernel -------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(age=st.integers(0, 400), reset=st.one_of(st.none(), st.integers(0, 400)), is_reset=st.booleans())
def test_reset_keeps_in_sql_is_the_kernels(age, reset, is_reset):
    e = S.reset_keeps_sql(exp.column("age"), exp.column("r"), exp.column("f"))
    sql = f"SELECT {e.sql('duckdb')} FROM (SELECT ?::INTEGER AS age, ?::INTEGER AS r, ?::BOOLEAN AS f)"
    assert CON.execute(sql, [age, reset, is_reset]).fetchone()[0] is K.reset_keeps(age, reset, is_reset)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.booleans()), max_size=8))
def test_reset_age_in_sql_is_the_kernels(events):
    e = S.reset_age_sql(exp.column("age"), exp.column("f"))
    rows = " UNION ALL ".join(f"SELECT {a} AS age, {str(f).upper()} AS f" for a, f in events) or \
        "SELECT 0 AS age, FALSE AS f WHERE FALSE"
    got = CON.execute(f"SELECT {e.sql('duckdb')} FROM ({rows})").fetchone()[0]
    assert got == K.reset_age(a for a, f in events if f)


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_text_normalisation_in_sql_is_the_kernels(v):
    assert run(S.norm_sql(S.s(v), DUCK)) == K.norm(v)


@settings(max_examples=150, deadline=None)
@given(TEXT)
def test_domain_in_sql_is_the_kernels(v):
    t = K.norm(v)
    if t is None:
        return
    assert run(S.domain_sql(S.s(t), DUCK)) == K.domain(t)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 20000), st.one_of(st.integers(1, 3650), st.floats(0.5, 3650)))
def test_decay_weight_in_sql_is_the_kernels(age, hl):
    assert run(S.decay_sql(exp.Literal.number(age), hl)) == K.decay_weight(age, hl)


@settings(max_examples=200, deadline=None)
@given(finite, points, st.one_of(st.none(), st.integers(0, 1000), st.floats(0, 1000)))
def test_cap_in_sql_is_the_kernels(total, pts, limit):
    want = K.cap(total, pts, limit)
    got = total if limit is None else run(S.cap_sql(S.dbl(S.num(total)), pts, limit))
    assert got == want


@settings(max_examples=200, deadline=None)
@given(st.lists(finite, max_size=6), st.integers(0, 500), st.integers(-500, 0))
def test_clamp_and_round_in_sql_is_the_kernels(terms, mx, fl):
    got = run(S.clamp_round_sql([S.dbl(S.num(t)) for t in terms], mx, fl))
    assert got == K.clamp_round(sum(terms), mx, fl)  # summed in order, as the engines do


@settings(max_examples=200, deadline=None)
@given(st.floats(-1000, 1000).map(K.round2),
       st.lists(st.tuples(st.sampled_from("ABCDE"), st.integers(-100, 100)), min_size=1, max_size=4),
       st.booleans())
def test_band_in_sql_is_the_kernels(score, bands, otherwise):
    bands = sorted(bands, key=lambda b: -b[1]) + ([("Z", None)] if otherwise else [])
    assert run(S.band_sql(S.dbl(S.num(score)), bands)) == K.band(score, bands)


REASON_BUILDERS = [S.reasons_ctes, S.reasons_list_ctes]  # every dialect / DuckDB's list functions


@pytest.mark.parametrize("build", REASON_BUILDERS)
@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="abc XY'é", min_size=1, max_size=40), points), min_size=1, max_size=8),
       st.one_of(st.none(), st.text(alphabet="abc '", min_size=1, max_size=300)))
def test_reasons_in_sql_are_the_kernels(build, crits, disq):
    names = [n for n, _ in crits]
    cols = [f"p{i}" for i in range(len(crits))]
    dq = S.s(disq) if disq is not None else exp.cast(exp.Null(), exp.DataType.build("text"))
    base = exp.select(*[S.alias(S.dbl(S.num(p)), c) for (_n, p), c in zip(crits, cols)], S.alias(dq, "dq"))
    q = exp.select(S.col("lr_reasons")).from_(S.table("lr_rs"))
    for name, body in [("src", base)] + build(names, cols, "dq", "src"):
        q = q.with_(S.ident(name), as_=body)
    got = CON.execute(q.sql(dialect="duckdb")).fetchone()[0]
    assert got == K.reasons(names, [p for _n, p in crits], disq)


@settings(max_examples=200, deadline=None)
@given(st.integers(-400, 400), st.one_of(st.none(), st.integers(-400, 400)))
def test_known_age_in_sql_is_the_kernels(asof_minus_day, missing):
    # `days` is what Dialect.days_between gives: the days from the date to the as-of day (NULL: missing)
    days = exp.Null() if missing is None and asof_minus_day % 7 == 0 else exp.Literal.number(asof_minus_day)
    want = K.known_age(1000, None if isinstance(days, exp.Null) else 1000 - asof_minus_day)
    assert run(S.known_age_sql(days)) == want


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 500), st.integers(0, 400), st.one_of(st.none(), st.integers(0, 500)), st.booleans())
def test_window_in_sql_is_the_kernels(age, within, anchor_age, anchored):
    a = None
    if anchored:
        a = exp.cast(exp.Null(), exp.DataType.build("int")) if anchor_age is None else exp.Literal.number(anchor_age)
    got = run(S.in_window_sql(exp.Literal.number(age), within, a))
    assert got is K.in_window(age, within, anchor_age, anchored)  # never NULL


@settings(max_examples=300, deadline=None)
@given(points, st.one_of(st.integers(-10**6, 10**6), finite), st.one_of(st.none(), st.integers(1, 3650)),
       st.integers(0, 5000))
def test_per_unit_in_sql_is_the_kernels(pts, amount, hl, age):
    w = None if hl is None else S.decay_sql(exp.Literal.number(age), hl)
    want = K.per_unit(pts, amount, K.decay_weight(age, hl))
    assert run(S.per_unit_sql(pts, S.num(amount), w)) == want


def test_route_choice_has_no_second_definition():
    # the SQL generator chooses routes with the kernel in Python (the query only looks them up)
    src = open(S.__file__, encoding="utf-8").read()
    assert "K.route_choice(" in src and "fnmatch" not in src


# ---- the kernel's own rules, on examples a reader can check ------------------------------------


def test_reasons_examples():
    names = ["Demo request", "Seniority", "Pricing page", "Personal email", "Tiny"]
    assert K.reasons(names, [40, 35, 30, -20, 0.4]) == "Demo request +40; Seniority +35; Pricing page +30; " \
                                                        "Personal email -20"
    assert K.reasons(names, [0, 0, 0, 0, 0]) == ""
    assert K.reasons(names, [40, 35, 30, -20, 0], "competitor") == "competitor"
    long = K.reasons(["x" * 100] * 5, [5, 4, 3, 2, 1])
    assert len(long) <= K.REASONS_MAX and long.count(";") == 1  # whole items only: two fit


def test_cap_is_sign_aware_and_clamp_round_half_up():
    assert K.cap(50, 10, 30) == 30 and K.cap(-50, -10, 30) == -30 and K.cap(-50, 10, 30) == -50
    assert K.clamp_round(104.999, 100, 0) == 100 and K.clamp_round(-3, 100, 0) == 0
    assert K.round2(0.125) == 0.13 and K.round2(-0.125) == -0.12


def test_route_choice_skips_account_lines_until_the_account_is_scored():
    lines = [((("grade", "A*"),), "hot"), ((("grade", "A*"),), None), ((("otherwise", ""),), None)]
    assert K.route_choice(lines, "A1", False) == 1
    assert K.route_choice(lines, "A1", False, ("hot",)) == 0
    assert K.route_choice(lines, None, True, ("hot",)) == 2
    assert K.grade_matches("A*", "A[1]") and not K.grade_matches("A", "A1")


# ---- generated Python's inlined forms against the kernel ----------------------------------------


def _compiled(stmts: list[ast.stmt], args: list[str], result: str, env: dict):
    fn = ast.FunctionDef(name="f", args=ast.arguments(posonlyargs=[], args=[ast.arg(a) for a in args],
                                                      kwonlyargs=[], kw_defaults=[], defaults=[]),
                         body=stmts + [ast.Return(value=ast.Name(id=result, ctx=ast.Load()))], decorator_list=[],
                         returns=None, type_params=[])
    mod = ast.fix_missing_locations(ast.Module(body=[fn], type_ignores=[]))
    ns = dict(env)
    exec(compile(mod, "<inline>", "exec"), ns)
    return ns["f"]


@settings(max_examples=300, deadline=None)
@given(finite, points, st.one_of(st.none(), st.integers(0, 1000), st.floats(0, 1000)))
def test_inlined_cap_is_the_kernels(total, pts, limit):
    f = _compiled(pygen.inline_cap("p", pts, limit), ["p"], "p", {})
    assert f(total) == K.cap(total, pts, limit)


@settings(max_examples=300, deadline=None)
@given(finite, st.integers(0, 500), st.integers(-500, 0))
def test_inlined_clamp_round_is_the_kernels(total, mx, fl):
    f = _compiled(pygen.inline_clamp_round("s", mx, fl), ["s"], "s", {"_floor": math.floor})
    assert f(total) == K.clamp_round(total, mx, fl)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 3 * K.DECAY_TABLE_SIZE), st.one_of(st.integers(1, 3650), st.floats(0.5, 3650)))
def test_inlined_decay_is_the_kernels(age, hl):
    e = pygen.inline_decay(ast.Name(id="T", ctx=ast.Load()), hl)
    f = _compiled([ast.Assign(targets=[ast.Name(id="w", ctx=ast.Store())], value=e)], ["age"], "w",
                  {"T": K.decay_table(hl)})
    assert f(age) == K.decay_weight(age, hl)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 2000), st.one_of(st.none(), st.integers(0, 3000)))
def test_inlined_known_age_is_the_kernels(asof, day):
    e = pygen.inline_known_age(ast.Name(id="d", ctx=ast.Load()))
    f = _compiled([ast.Assign(targets=[ast.Name(id="y", ctx=ast.Store())], value=e)], ["asof", "d"], "y", {})
    assert f(asof, day) == K.known_age(asof, day)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 500), st.integers(0, 400), st.one_of(st.none(), st.integers(-5, 500)))
def test_inlined_anchored_window_is_the_kernels(age, within, anchor_age):
    e = pygen.inline_anchored_window(ast.Name(id="age", ctx=ast.Load()), within, ast.Name(id="a", ctx=ast.Load()))
    f = _compiled([ast.Assign(targets=[ast.Name(id="y", ctx=ast.Store())], value=e)], ["age", "a"], "y", {})
    assert bool(f(age, anchor_age)) is K.in_window(age, within, anchor_age, True)


@settings(max_examples=300, deadline=None)
@given(st.one_of(TEXT, st.none(), st.integers()))
def test_inlined_text_normalisation_is_the_kernels(v):
    e = pygen._inline_norm(ast.Name(id="x", ctx=ast.Load()))
    f = _compiled([ast.Assign(targets=[ast.Name(id="y", ctx=ast.Store())], value=e)], ["x"], "y",
                  {"_norm": K.norm})
    assert f(v) == K.norm(v)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(TEXT, st.none()), max_size=5))
def test_generated_list_reading_is_the_kernels(v):
    assert pygen.obj_list(v) == K.norm_list(v)


def test_generated_code_imports_the_kernel_by_its_export_list():
    import textwrap

    from dsl.checker import check_text

    checked = check_text(textwrap.dedent('''
        ruleset "k" version 1
        fields { email: text }
        score fit "Fit" max 100 { "Work email" +10 when domain(email) = "acme.com" }
    '''), "k.rules")
    src = pygen.python_source(checked)
    line = next(ln for ln in src.splitlines() if ln.startswith("from runtime.core.kernel import"))
    assert all(f"{name} as _{name}" in line for name in K.__all__)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="AB12*?[].", min_size=1, max_size=5), st.text(alphabet="AB12?[].", max_size=5))
def test_grade_patterns_as_sql_regex_are_the_kernels(pattern, grade):
    q = f"SELECT regexp_matches({S.s(grade).sql('duckdb')}, {S.s(S.grade_pattern_regex(pattern)).sql('duckdb')})"
    assert CON.execute(q).fetchone()[0] == K.grade_matches(pattern, grade)


@settings(max_examples=300, deadline=None)
@given(st.lists(points, max_size=12))
def test_reasons_use_whole_points(pts):
    names = [f"c{i}" for i in range(len(pts))]
    got = K.reasons(names, pts)
    want = sorted(((-abs(K.whole_points(p)), i) for i, p in enumerate(pts) if K.whole_points(p)))
    items = [f"c{i} {'+' if K.whole_points(pts[i]) > 0 else '-'}{abs(K.whole_points(pts[i]))}" for _a, i in want]
    text = ""
    for it in items:
        nxt = it if not text else text + "; " + it
        if len(nxt) > K.REASONS_MAX:
            break
        text = nxt
    assert got == text


@settings(max_examples=300, deadline=None)
@given(st.lists(TEXT, min_size=1, max_size=8), st.lists(st.text(max_size=12), min_size=1, max_size=3),
       st.booleans())
def test_memoized_word_search_is_the_kernels(values, phrases, full):
    """Generated code searches a text for words through a memo of the values seen (pygen.search_memo):
    the same answer as the kernel's words_regex, first time and remembered, and once the memo is full."""
    rx = K.words_regex(phrases)
    memo: dict = {f"filler{i}": True for i in range(pygen._MEMO_MAX)} if full else {}
    gen = pygen._Gen.__new__(pygen._Gen)
    gen.consts, gen.const_keys = [], {}
    e = gen.search(ast.Name(id="RX", ctx=ast.Load()), pygen.V(ast.Name(id="x", ctx=ast.Load()), False, "text"),
                   memo=True)
    f = _compiled([ast.Assign(targets=[ast.Name(id="y", ctx=ast.Store())], value=e)], ["x"], "y",
                  {"RX": rx, "_search_memo": pygen.search_memo})
    f.__globals__[gen.const_keys[("memo", "RX")]] = memo
    for v in values + values:
        assert f(v) == (rx.search(v) is not None)
    assert len(memo) == (pygen._MEMO_MAX if full else len(set(values)))


def test_reasons_order_points_beyond_the_cap_as_the_cap():
    # the SQL form orders by one exact BIGINT key: beyond REASONS_ORDER_CAP, the file's order decides
    cap = K.REASONS_ORDER_CAP
    assert K.reasons(["a", "b", "c"], [cap * 3, cap * 5, 7]) == f"a +{cap * 3}; b +{cap * 5}; c +7"
    assert K.reasons(["a", "b"], [cap - 1, cap]) == f"b +{cap}; a +{cap - 1}"


@pytest.mark.parametrize("build", REASON_BUILDERS)
def test_reasons_in_sql_beyond_the_cap_and_over_many_criteria(build):
    names = [f"n{i}" for i in range(300)] + ["big", "bigger"]
    pts = [(i * 7919) % 61 - 30 for i in range(len(names) - 2)] + [K.REASONS_ORDER_CAP * 2, K.REASONS_ORDER_CAP * 3]
    cols = [f"p{i}" for i in range(len(pts))]
    base = exp.select(*[S.alias(S.dbl(S.num(p)), c) for p, c in zip(pts, cols)],
                      S.alias(exp.cast(exp.Null(), exp.DataType.build("text")), "dq"))
    q = exp.select(S.col("lr_reasons")).from_(S.table("lr_rs"))
    for name, body in [("src", base)] + build(names, cols, "dq", "src"):
        q = q.with_(S.ident(name), as_=body)
    got = CON.execute(q.sql(dialect="duckdb")).fetchone()[0]
    assert got == K.reasons(names, pts) and got.startswith("big +"), got
