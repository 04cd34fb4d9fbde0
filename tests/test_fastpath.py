"""The fast paths against the reference: generated Python (dsl/pycodegen.py: `score` over a Lead and
`score_obj` over a JSON object) and `score --workers N` (runtime/parallel.py), which must give what
runtime/readers.py + runtime/engine.py + runtime/output.py give, bad rows included."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from dsl.checker import check
from dsl.parser import parse
from dsl.pycodegen import FastEngine, compile_fast, python_source
from runtime.cliutil import schema_of
from runtime.engine import compile_checked
from runtime.output import ScoredWriter
from runtime.readers import BadRowsError, LeadReader, lead_from_object
from tests.test_sql import HEADER, LANGUAGE_EXAMPLE, lead_, rule_file

AS_OF = dt.date(2026, 11, 1)
A = AS_OF.toordinal()


class _Rules:
    """Enough of runtime.rules.LoadedRules for schema_of and runtime.parallel."""

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
    assert isinstance(fast, FastEngine)
    for i in range(data.draw(st.integers(1, 8))):
        lead = data.draw(lead_(i))
        asof = A + data.draw(st.integers(-3, 3))
        assert fast.score(lead, asof) == ref.score(lead, asof)  # points, raw and fired too


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

    class R:
        checked = c

    schema = schema_of(R)
    for line, obj in enumerate(objs, 1):
        got = fast.score_obj(obj, A, line)
        try:
            lead = lead_from_object(obj, schema, line=line)
        except BadRowsError:
            assert got is None, obj  # a bad row is never scored on the fast path
            continue
        if got is not None:
            assert got == fast.score(lead, A) == compile_checked(c).score(lead, A), obj


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
    w = ScoredWriter(rules.engine, str(out))
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
    from runtime.parallel import score_parallel

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
    from runtime.parallel import ParallelUnsupported, score_parallel

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
