"""The fast paths against the reference: generated Python (runtime/backends/pygen.py: `score` over a Lead and
`score_obj` over a JSON object) and `score --workers N` (runtime/backends/parallel.py), which must give what
runtime/io/readers.py + runtime/backends/closure.py + runtime/io/writers.py give, bad rows included."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dsl.checker import check
from dsl.parser import parse
from runtime.backends.pygen import FastEngine, compile_fast, python_source
from runtime.commands.options import schema_of
from runtime.backends.closure import compile_checked
from runtime.io.writers import ScoredWriter
from runtime.io.readers import BadRowsError, LeadReader, lead_from_object
from tests.test_sql import HEADER, LANGUAGE_EXAMPLE, lead_, rule_file

AS_OF = dt.date(2026, 11, 1)
A = AS_OF.toordinal()


class _Rules:
    """Enough of runtime.backends.load.LoadedRules for schema_of and runtime.backends.parallel."""

    def __init__(self, text: str, path: str = "t.rules"):
        self.checked = check(parse(text, path))
        assert not any(d.is_error for d in self.checked.diagnostics)
        self.engine = compile_fast(self.checked)
        self.spec = path


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=rule_file(), data=st.data())
def test_generated_score_equals_the_engine(text, data):
    c = check(parse(text, "gen.rules"))
    assume(not any(d.is_error for d in c.diagnostics))
    ref, fast = compile_checked(c), compile_fast(c)
    # generated code, or the closure engine with the construct it does not take named (capability.py)
    assert isinstance(fast, FastEngine) != bool(fast.limits)
    for i in range(data.draw(st.integers(1, 8))):
        lead = data.draw(lead_(i))
        asof = A + data.draw(st.integers(-3, 3))
        got, want = fast.score(lead, asof), ref.score(lead, asof)
        if getattr(fast, "account_flags", False):
            # an accounts block: the generated key and flags are the accounts model's (accounts.py)
            m = ref.accounts
            assert (got.account, got.flags) == (m.key_of(lead), m.flags(lead, want, asof))
            got.account = got.flags = None
        assert got == want  # points, raw and fired too


# JSON values in every form the reader accepts or rejects
ODD = st.sampled_from([None, "", "  ", "x", " VP Sales ", 7, 7.0, 2.5, -1, True, False, "12", " 7 ", "1e3", "nan",
                       float("inf"), [], ["a", " b ", None, ""], ["a", 1], [["x"]], {"a": 1}, "a;b; ;c",
                       "2026-10-01", "2026-10-01T23:30:00Z", "2026-10-01T23:30:00-02:00", "2026-13-45",
                       "2026-10-01T25:00:00Z", "yes", "NO", "1", "0"])
AT = st.sampled_from(["2026-10-01", "2026-10-31T23:59:59Z", "2026-10-31T23:30:00-02:00", "2026-11-03T00:00:00Z",
                      "2026-10-01T12:00:00", "2026-10-01 12:00:00", "2026-02-30T00:00:00Z", "bad", "", None, 5,
                      "2026-10-01T12:00:00.123456Z", "2026-10-01T12:00Z", " 2026-10-01"])


@st.composite
def json_lead(draw):
    obj = {}
    for f in ("t1", "t2", "n1", "n2", "d1", "b1", "tl", "id"):
        if draw(st.booleans()):
            obj[f] = draw(ODD)
    if draw(st.booleans()):
        evs = []
        for _ in range(draw(st.integers(0, 4))):
            e = {"type": draw(st.sampled_from(["ev_a", "ev_b", "ev_c", "ev_x", None, 3])), "at": draw(AT)}
            if draw(st.booleans()):
                e["x"] = draw(ODD)
            if draw(st.booleans()):
                e["k"] = draw(ODD)
            evs.append(e if draw(st.integers(0, 20)) else "not an event")
        obj["events"] = evs if draw(st.integers(0, 20)) else "x"
    return obj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=rule_file(), objs=st.lists(json_lead(), min_size=1, max_size=8))
def test_score_obj_is_the_reader_and_the_engine(text, objs):
    c = check(parse(text, "gen.rules"))
    assume(not any(d.is_error for d in c.diagnostics))
    fast = compile_fast(c)
    if fast.score_obj is None:  # the closure engine (capability.py names why): no fast path to compare
        return

    class R:
        checked = c

    schema = schema_of(R)
    for line, obj in enumerate(objs, 1):
        # (the closure engine, when capability.python_limits names something, has no score_obj)
        got = fast.score_obj(obj, A, line) if fast.score_obj is not None else None
        try:
            lead = lead_from_object(obj, schema, line=line)
        except BadRowsError:
            assert got is None, obj  # a bad row is never scored on the fast path
            continue
        if got is not None:
            ref = compile_checked(c).score(lead, A)
            assert got == fast.score(lead, A), obj
            if got.flags is not None:  # an accounts block: key and flags pinned in the test above
                got.account = got.flags = None
            assert got == ref, obj


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=rule_file(), objs=st.lists(json_lead(), min_size=1, max_size=8), extra=st.booleans())
def test_score_struct_is_score_obj(text, objs, extra):
    """The msgspec struct path (runtime.io.fastjson.row_reader + generated score_struct) gives what
    score_obj gives on the same line's dict, or declines (None) and the line goes the dict way."""
    pytest.importorskip("msgspec")
    from runtime.backends.parallel import struct_reader
    from runtime.io import fastjson
    from runtime.io.readers import Builder

    c = check(parse(text, "gen.rules"))
    assume(not any(d.is_error for d in c.diagnostics))
    fast = compile_fast(c)
    if fast.score_obj is None:
        return

    class R:
        checked = c

    schema = schema_of(R)
    assert fastjson.use("msgspec") == "msgspec"
    read = struct_reader(fast, Builder(schema), schema, True)
    assert read is not None and fast.score_struct is not None
    for line, obj in enumerate(objs, 1):
        if extra:
            obj = dict(obj, **{"Other column": 1})
        raw = json.dumps(obj, ensure_ascii=False)
        s = read(raw)
        if extra:
            assert s is None  # another column: the reader matches columns, not the struct
            continue
        got = fast.score_struct(s, A, line) if s is not None else None
        want = fast.score_obj(json.loads(raw), A, line)
        if s is not None:
            assert got == want, raw


def test_score_obj_takes_the_plain_path_for_plain_rows():
    r = _Rules(LANGUAGE_EXAMPLE)
    obj = {"id": "a", "email": "ana@bigco.com", "title": "VP Marketing", "company_size": 5000,
           "industry": "Software", "created_at": "2026-01-02", "interests": ["abm"],
           "events": [{"type": "form_submit", "at": "2026-10-30T08:00:00Z", "form": "demo-request"},
                      {"type": "webinar_attended", "at": "2026-10-01", "webinar": "w"}]}
    res = r.engine.score_obj(obj, A, 1)
    assert res is not None and res.grade == "A3" and res.scores["engagement"] == 45.52
    assert r.engine.score_obj(dict(obj, id=None), A, 9).id == "9"
    # an offset needs the reader's conversion: not the plain path
    odd = dict(obj, events=[{"type": "form_submit", "at": "2026-10-31T01:30:00+02:00", "form": "demo-request"}])
    assert r.engine.score_obj(odd, A, 1) is None
    # the msgspec struct path takes the same row and gives the same Result
    pytest.importorskip("msgspec")
    from runtime.backends.parallel import struct_reader
    from runtime.io import fastjson
    from runtime.io.readers import Builder

    assert fastjson.use("msgspec") == "msgspec"
    schema = schema_of(r)
    s = struct_reader(r.engine, Builder(schema), schema, True)(json.dumps(obj))
    assert s is not None and r.engine.score_struct(s, A, 1) == res
    assert r.engine.score_struct(struct_reader(r.engine, Builder(schema), schema, True)(json.dumps(odd)), A, 1) is None


def test_compile_target_python_source_is_what_runs():
    r = _Rules(LANGUAGE_EXAMPLE)
    src = python_source(r.checked, AS_OF)
    ns: dict = {}
    exec(compile(src, "generated.py", "exec"), ns)
    lead = lead_from_object({"email": "x@gmail.com", "title": "Head of Sales"}, schema_of(r), line=3)
    assert ns["score"](lead) == r.engine.score(lead, A)  # --as-of became the default


# ---- score --workers N --------------------------------------------------------------------------

ROWS = [
    '\ufeff{"id": "a", "email": "ana@bigco.com", "title": "VP Marketing", "company_size": 5000, "industry": "Software",'
    ' "events": [{"type": "form_submit", "at": "2026-10-30T08:00:00Z", "form": "demo-request"}]}',
    "",
    '{"email": "mm@example.com", "last_name": "Mouse"}',
    '{"id": "c", "company_size": "lots"}',
    "not json",
    "[1, 2]",
    '{"id": "d", "email": "d@x.com", "events": [{"type": "web_visit", "at": "2026-10-31T23:30:00-02:00", "page": "/pricing"}]}',
    '{"id": "e", "events": [{"type": "nope", "at": "2026-10-01"}]}',
    '   ',
    '{"id": 17, "title": "Manager", "company_size": " 250 "}',
]


def _reference(rules, path, fmt, on_bad_row, tmp_path):
    """What one process gives: LeadReader, the engine, ScoredWriter."""
    rej = io.StringIO()
    reader = LeadReader(path, schema_of(rules), on_bad_row=on_bad_row, rejects=rej)
    out = tmp_path / ("ref.csv" if fmt == "csv" else "ref.jsonl")
    w = ScoredWriter(rules.engine, str(out), as_of=dt.date.fromordinal(A))
    error = None
    try:
        for lead in reader:
            w.write(rules.engine.score(lead, A))
    except BadRowsError as e:
        error = e
    w.close()
    return out.read_bytes().decode("utf-8"), rej.getvalue(), reader, error


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
@pytest.mark.parametrize("on_bad_row", ["skip", "fail"])
def test_workers_give_the_one_process_output(tmp_path, workers, fmt, on_bad_row):
    from runtime.backends.parallel import score_parallel

    rules = _Rules(LANGUAGE_EXAMPLE)
    path = tmp_path / "leads.jsonl"
    path.write_text("\n".join(ROWS * 3) + "\n", encoding="utf-8")
    want, want_rej, reader, error = _reference(rules, str(path), fmt, on_bad_row, tmp_path)
    rej = io.StringIO()
    ps = score_parallel(rules, str(path), as_of_ordinal=A, workers=workers, fmt=fmt, on_bad_row=on_bad_row,
                        rejects=rej, batch=4)
    got = ps.header()
    got_error = None
    try:
        for chunk in ps:
            got += chunk
    except BadRowsError as e:
        got_error = e
    assert got == want
    assert rej.getvalue() == want_rej
    if on_bad_row == "skip":
        assert (ps.read, ps.rejected, ps.scored) == (reader.read, reader.rejected, reader.read - reader.rejected)
        assert [(b.line, b.reason) for b in ps.bad_rows] == [(b.line, b.reason) for b in reader.bad_rows]
    else:
        assert error is not None and got_error is not None
        assert [(b.line, b.reason) for b in got_error.bad_rows] == [(b.line, b.reason) for b in error.bad_rows]


def test_events_file_is_not_split(tmp_path):
    from runtime.backends.parallel import ParallelUnsupported, score_parallel

    rules = _Rules(LANGUAGE_EXAMPLE)
    (tmp_path / "l.jsonl").write_text("{}\n", encoding="utf-8")
    (tmp_path / "e.jsonl").write_text("", encoding="utf-8")
    with pytest.raises(ParallelUnsupported):
        score_parallel(rules, str(tmp_path / "l.jsonl"), as_of_ordinal=A, workers=2,
                       events_path=str(tmp_path / "e.jsonl"))


def test_header_fields_are_ordinary(tmp_path):
    # the test helper header parses and its generated module compiles
    r = _Rules(HEADER + 'score s "S" max 10 { "a" +1 when t1 = "x" }\ngrade s { a otherwise }\n'
                        'route { otherwise -> nurture "n" }\n')
    assert isinstance(r.engine, FastEngine)
    assert json.loads(json.dumps(r.engine.score_obj({"t1": " X "}, A, 1).record()))["scores"] == {"s": 1.0}


# ---- the engines behind the commands: load_rules, score and simulate ----------------------------

from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"
SAMPLE = ROOT / "rulesets" / "samples" / "leads.jsonl"


def _invoke(args):
    from click.testing import CliRunner

    import cli

    res = CliRunner().invoke(cli.main, [str(a) for a in args])
    assert res.exit_code == 0, res.output
    return res


def test_load_rules_gives_the_generated_engine_with_everything_callers_use():
    from runtime.backends.load import load_rules

    rules = load_rules(str(ACME))
    eng, ref = rules.engine, compile_checked(rules.checked)
    assert isinstance(eng, FastEngine) and eng.score_obj is not None
    assert [c.key for c in eng.criteria] == [c.key for c in ref.criteria]
    assert eng.grade_blocks == ref.grade_blocks and eng.route_for("A1", False) == ref.route_for("A1", False)
    leads = list(LeadReader(str(SAMPLE), schema_of(rules)))[:200]
    m = ref.accounts
    for lead in leads:
        got, want = eng.score(lead, A), ref.score(lead, A)
        assert (got.account, got.flags) == (m.key_of(lead), m.flags(lead, want, A))  # acme has accounts
        got.account = got.flags = None
        assert got == want
        ex = eng.explain(lead, A)
        ex["result"].account = ex["result"].flags = None
        assert ex == ref.explain(lead, A)


@pytest.mark.parametrize("out,explain", [("o.jsonl", True), ("o.csv", False)])
def test_score_output_is_byte_identical_across_engines_and_workers(tmp_path, out, explain):
    """python (generated code), duckdb, --workers 2, and the reference path (LeadReader, the closure
    engine, account grouping, ScoredWriter) write the same bytes."""
    from runtime.commands.options import schema_of as so
    from runtime.backends.load import load_rules

    rules = load_rules(str(ACME))
    ref = compile_checked(rules.checked)
    want_path = tmp_path / ("ref." + out.split(".")[1])
    w = ScoredWriter(ref, str(want_path), explain=explain, as_of=AS_OF)
    try:  # an accounts block: leads grouped by account (runtime/backends/accounts.py), output in input order
        from runtime.backends.accounts import score_leads
    except ImportError:  # pragma: no cover - before accounts
        def score_leads(engine, leads, asof):
            return ((lead, engine.score(lead, asof)) for lead in leads)
    for _lead, r in score_leads(ref, LeadReader(str(SAMPLE), so(rules)), A):
        w.write(r)
    w.close()
    want = want_path.read_bytes()
    base = ["score", ACME, "--leads", SAMPLE, "--as-of", AS_OF.isoformat()] + (["--explain"] if explain else [])
    for extra in ([], ["--engine", "duckdb"], ["--workers", "2"], ["--engine", "duckdb", "--workers", "1"]):
        o = tmp_path / out
        res = _invoke(base + ["-o", o] + extra)
        assert o.read_bytes() == want, extra
        assert "read 3,000 · scored 3,000 · rejected 0" in res.output


def _split_sample(tmp_path, n=400):
    """The first n sample leads with their events in a separate file, plus orphan and bad events and
    a bad lead row."""
    leads, events = [], []
    with open(SAMPLE, encoding="utf-8") as fh:
        for i, line in zip(range(n), fh):
            o = json.loads(line)
            for e in o.pop("events", None) or []:
                events.append(dict(e, lead_id=o["id"]))
            leads.append(o)
    leads.insert(7, {"id": "bad", "company_size": "lots"})
    events += [{"lead_id": "NOPE1", "type": "email_open", "at": "2026-10-01"},
               {"lead_id": "NOPE2", "type": "email_open", "at": "2026-10-01"},
               {"lead_id": "NOPE1", "type": "email_open", "at": "2026-10-02"},
               {"type": "email_open", "at": "2026-10-01"},
               {"lead_id": leads[0]["id"], "type": "bogus", "at": "2026-10-01"}]
    lp, ep = tmp_path / "leads.jsonl", tmp_path / "events.jsonl"
    lp.write_text("".join(json.dumps(x) + "\n" for x in leads), encoding="utf-8")
    ep.write_text("".join(json.dumps(x) + "\n" for x in events), encoding="utf-8")
    return lp, ep


def test_simulate_report_is_identical_across_engines_and_workers(tmp_path):
    reports = {}
    for name, extra in {"python": [], "duckdb": ["--engine", "duckdb"], "workers": ["--workers", "2"]}.items():
        reports[name] = _invoke(["simulate", ACME, "--format", "json"] + extra).stdout
    assert reports["python"] == reports["duckdb"] == reports["workers"]
    doc = json.loads(reports["python"])
    assert doc["runs"][0]["leads"]["scored"] == 3000 and doc["runs"][0]["criteria"]
    # a separate events file with orphan and bad events, and a bad lead row set aside
    lp, ep = _split_sample(tmp_path)
    args = ["simulate", ACME, "--leads", lp, "--events", ep, "--as-of", "2026-11-01", "--on-bad-row", "skip",
            "--format", "json"]
    split = {name: _invoke(args + extra).stdout
             for name, extra in {"python": [], "duckdb": ["--engine", "duckdb"], "workers": ["--workers", "2"]}.items()}
    assert split["python"] == split["duckdb"] == split["workers"]
    run = json.loads(split["python"])["runs"][0]
    assert (run["leads"]["read"], run["leads"]["rejected"]) == (401, 1)
    assert run["events"]["orphans"] == 3 and run["events"]["orphan_lead_ids"] == ["NOPE1", "NOPE2"]
    assert run["events"]["bad"] == 1 and run["events"]["ignored"] == {"bogus": 1}  # undeclared: ignored, counted


def test_engine_options_fail_cleanly(tmp_path):
    from click.testing import CliRunner

    import cli

    r = CliRunner().invoke(cli.main, ["score", str(ACME), "--leads", "-", "--engine", "duckdb"], input="{}\n")
    assert r.exit_code == 2 and "stdin" in r.output and "Traceback" not in r.output
    r = CliRunner().invoke(cli.main, ["score", str(ACME), "--leads", str(tmp_path / "nope.jsonl"), "--engine", "duckdb"])
    assert r.exit_code == 2 and "no such file" in r.output
    r = CliRunner().invoke(cli.main, ["score", str(ACME), "--leads", str(SAMPLE), "--workers", "0"])
    assert r.exit_code == 2


def test_duckdb_pairs_line_up_two_versions_as_the_python_engine_scores_them(tmp_path):
    """`diff --engine duckdb`: one DuckDB run per version, lined up by row, gives each lead's pair of
    Results as the Python engine does (points included: diff reports the criteria that moved)."""
    from runtime.backends.load import load_rules
    from runtime.backends.scoring import DuckPairs, results

    new_path = tmp_path / "new.rules"
    new_path.write_text(ACME.read_text(encoding="utf-8").replace("A when >= 80", "A when >= 60"), encoding="utf-8")
    old, new = load_rules(str(ACME)), load_rules(str(new_path))
    lp, _ep = _split_sample(tmp_path, 300)  # a bad lead row in it
    kw = dict(as_of=AS_OF, on_bad_row="skip")
    want = list(zip(results(old, str(lp), **kw), results(new, str(lp), **kw)))
    pairs = DuckPairs(old, new, str(lp), **kw)
    got = list(pairs)
    assert len(got) == len(want) == 300 and (pairs.read, pairs.rejected) == (301, 1)
    assert [(a.grade, b.grade, b.route, b.account_bands) for a, b in got] == \
        [(a.grade, b.grade, b.route, b.account_bands) for a, b in want]
    assert [(a.fired, b.fired) for a, b in got] == [(a.fired, b.fired) for a, b in want]
    assert any(a.grade != b.grade for a, b in got)


NESTED_HAS = HEADER + '''score s "S" max 100 {
  "tiers" first of {
    30 when has ev_a where x = "demo" and has ev_b
    10 when n1 > 5
  }
}
'''


def test_nested_has_inside_first_of_is_named_not_silent(tmp_path):
    """A `has` inside a `where` (here in a tier of `first of`) is not compiled to Python: the engine
    says which construct and where (capability.py), scores it like the closure engine, and `score`
    says once on stderr that the closure engine scores the file. Never a silent fallback."""
    from click.testing import CliRunner

    from cli import main

    c = check(parse(NESTED_HAS, "nested.rules"))
    fast, ref = compile_fast(c), compile_checked(c)
    line = NESTED_HAS.splitlines().index('    30 when has ev_a where x = "demo" and has ev_b') + 1
    assert not isinstance(fast, FastEngine)
    assert [(lim.backend, lim.line) for lim in fast.limits] == [("python", line)]
    assert "`has ev_b` inside `where`" in fast.limits[0].construct
    obj = {"id": "a", "n1": 7, "events": [{"type": "ev_a", "x": "demo", "at": "2026-10-01"},
                                          {"type": "ev_b", "x": "q", "at": "2026-10-02"}]}
    lead = lead_from_object(obj, schema_of(_Rules(NESTED_HAS), None, False))
    assert fast.score(lead, A) == ref.score(lead, A) and ref.score(lead, A).scores == {"s": 30.0}
    rules = tmp_path / "nested.rules"
    rules.write_text(NESTED_HAS, encoding="utf-8")
    leads = tmp_path / "l.jsonl"
    leads.write_text(json.dumps(obj) + "\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["score", str(rules), "--leads", str(leads), "--as-of", AS_OF.isoformat()])
    assert res.exit_code == 0, res.output
    note = f"note: {rules}:{line}: `has ev_b` inside `where` is not compiled to Python; scoring with the closure engine"
    assert res.stderr.count(note) == 1, res.stderr


@pytest.mark.parametrize("range_bytes", [1, 64, 1 << 21])
@pytest.mark.parametrize("sep,last", [("\n", True), ("\n", False), ("\r\n", True)])
@pytest.mark.parametrize("on_bad_row", ["skip", "fail"])
def test_workers_read_byte_ranges_as_the_reader_reads_lines(tmp_path, range_bytes, sep, last, on_bad_row):
    """--workers N hands out byte ranges of a JSON Lines file (each worker reads and splits its own):
    the same lines, line numbers, bad rows (a byte that is not UTF-8 too), duplicates across ranges
    and output as one process reading the file line by line, whatever the range size, with or without
    a last newline, with CRLF line ends and a BOM."""
    from runtime.backends.parallel import score_parallel

    rules = _Rules(LANGUAGE_EXAMPLE)
    rows = [r.replace("\ufeff", "") for r in ROWS] * 3 + [
        '{"id": "a", "title": "Dup of the first"}', '{"id": "z\xe9", "title": "caf\xe9"}']
    data = ("\ufeff" + sep.join(rows) + (sep if last else "")).encode("utf-8")
    data = data.replace(b'"caf\xc3\xa9"', b'"caf\xff\xfe"')  # not UTF-8: a bad row, not a failed file
    path = tmp_path / "leads.jsonl"
    path.write_bytes(data)
    want, want_rej, reader, error = _reference(rules, str(path), "jsonl", on_bad_row, tmp_path)
    rej = io.StringIO()
    ps = score_parallel(rules, str(path), as_of_ordinal=A, workers=2, fmt="jsonl", on_bad_row=on_bad_row,
                        rejects=rej)
    ps.RANGE_BYTES = range_bytes
    got, got_error = "", None
    try:
        for chunk in ps:
            got += chunk
    except BadRowsError as e:
        got_error = e
    assert got == want and rej.getvalue() == want_rej
    if on_bad_row == "skip":
        assert (ps.read, ps.rejected) == (reader.read, reader.rejected) and reader.rejected >= 10
        assert [(b.line, b.reason) for b in ps.bad_rows] == [(b.line, b.reason) for b in reader.bad_rows]
        assert any("duplicate" in b.reason for b in ps.bad_rows) and any(b.line == len(rows) for b in ps.bad_rows)
    else:
        assert [(b.line, b.reason) for b in got_error.bad_rows] == [(b.line, b.reason) for b in error.bad_rows]


def test_account_results_without_points_write_the_same_lines(tmp_path):
    """`score` without --explain carries each lead's reasons, not its per-criterion points, through
    the account grouping (parallel.py `lean`): the same lines as with the points (--explain, less its
    `criteria`), in one process and in two."""
    outs = {}
    for name, extra in {"one": [], "two": ["--workers", "2"], "explain": ["--explain"],
                        "explain2": ["--explain", "--workers", "2"]}.items():
        out = tmp_path / f"{name}.jsonl"
        _invoke(["score", ACME, "--leads", SAMPLE, "--as-of", "2026-11-01", "-o", out] + extra)
        outs[name] = [json.loads(x) for x in out.read_text(encoding="utf-8").splitlines()]
    for rec in outs["explain"] + outs["explain2"]:
        assert rec.pop("criteria") is not None
    assert outs["one"] == outs["two"] == outs["explain"] == outs["explain2"]
    assert any(rec["account"] for rec in outs["one"]) and any(rec["reasons"] for rec in outs["one"])


def test_a_file_cut_short_while_workers_read_it_is_an_input_error(tmp_path):
    from runtime.backends.parallel import score_parallel
    from runtime.core.errors import InputError

    rules = _Rules(LANGUAGE_EXAMPLE)
    path = tmp_path / "leads.jsonl"
    row = ROWS[0].replace("\ufeff", "")
    path.write_text("".join(row.replace('"a"', f'"a{i}"') + "\n" for i in range(3000)), encoding="utf-8")
    ps = score_parallel(rules, str(path), as_of_ordinal=A, workers=2, fmt="jsonl", batch=100)
    it = iter(ps)
    next(it)  # the first batch is back; others are handed out as ranges of the whole file
    with open(path, "r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(InputError, match=r"cannot read \(line \d+\).*changed while it was read"):
        for _chunk in it:
            pass


def test_one_shot_commands_freeze_the_heap_only_while_they_run(tmp_path, monkeypatch):
    """runtime.commands.options.settle: score, simulate and calibrate move what is alive out of the
    garbage collector's way for the lead loop, and give it back when the command ends (a process
    running commands one after another keeps collecting)."""
    import gc

    from click.testing import CliRunner

    import cli
    from runtime.commands import options

    seen = []
    real = gc.freeze

    def freeze():
        real()
        seen.append(gc.get_freeze_count())

    monkeypatch.setattr(gc, "freeze", freeze)
    root = Path(__file__).resolve().parent.parent
    leads = root / "rulesets" / "samples" / "leads.jsonl"
    acme = str(root / "rulesets" / "acme.rules")
    for args in (["score", acme, "--leads", str(leads), "-o", str(tmp_path / "o.jsonl")],
                 ["simulate", acme, "--leads", str(leads), "--format", "json"],
                 ["calibrate", acme, "--leads", str(leads), "--outcomes",
                  str(root / "rulesets" / "samples" / "outcomes.csv"), "--format", "json"]):
        before = len(seen)
        r = CliRunner().invoke(cli.main, args + ["--as-of", "2026-11-01"], catch_exceptions=False)
        assert r.exit_code in (0, 1), r.stderr
        assert len(seen) == before + 1 and seen[-1] > 1000, args[0]   # frozen for the run ...
        assert gc.get_freeze_count() == 0, args[0]                     # ... and given back after it
    options.settle()  # outside a command: nothing to give it back to, so nothing is frozen
    assert gc.get_freeze_count() == 0
