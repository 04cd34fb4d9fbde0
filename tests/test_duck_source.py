"""DuckDB's own reader (runtime/backends/duck_source.py): each SQL coercion builder pinned to
runtime/io/coerce.py by a property test, and the engine reading clean files itself with the python
engine's results, falling back to runtime.io.readers for anything else."""
from __future__ import annotations

import datetime as dt
import json

import pytest

duckdb = pytest.importorskip("duckdb")
from hypothesis import given, settings, strategies as st  # noqa: E402

from runtime.backends import duck_source as ds  # noqa: E402
from runtime.io.coerce import COERCERS, Bad  # noqa: E402

WS_CHARS = "".join(c for c in map(chr, range(0x3001)) if c.isspace())

texts = st.one_of(
    st.text(alphabet=st.sampled_from(list(WS_CHARS[:12]) + list(" ab;é\u00a0\u3000\u2028")), max_size=8),
    st.sampled_from(["2026-11-01", "2026-11-01T09:30:00Z", "2026-02-30", "0000-01-01", "9999-12-31T23:59:59Z",
                     "2026-11-01T24:00:00Z", "2026-11-01T09:30:00+02:00", " 2026-11-01", "7", " 7 ", "1_000",
                     "inf", "nan", "true", "yes", "0", "a;b", " ; ", ";", "x ;", ""]),
    st.text(max_size=6))
scalars = st.one_of(st.none(), st.booleans(), st.integers(min_value=-2**70, max_value=2**70),
                    st.floats(allow_nan=False, allow_infinity=False), texts)
values = st.one_of(scalars, st.lists(st.one_of(st.none(), texts, st.integers(), st.booleans()), max_size=4))


def _engine_value(v, type_name):
    """What the DuckDB engine gets from the Python reader for a coerced value (duckdb_engine.lead_columns)."""
    if v is None:
        return None
    if type_name == "number":
        return float(v)
    if type_name == "date":
        return dt.date.fromordinal(v)
    if type_name == "text list":
        return list(v)
    return v


@pytest.fixture(scope="module")
def con():
    c = duckdb.connect()
    yield c
    c.close()


def test_white_space_is_pythons(con):
    # the regex class behind sql_blank / sql_strip is exactly str.isspace()
    chars = [chr(i) for i in range(0x3100)] + ["\U0001F600"]
    got = con.execute(f"SELECT list_transform(?, lambda c: {ds.sql_blank('c')})", [chars]).fetchone()[0]
    assert got == [c.isspace() for c in chars]


@pytest.mark.parametrize("type_name", list(ds.BUILDERS))
@settings(max_examples=60, deadline=None)
@given(batch=st.lists(values, min_size=1, max_size=25))
def test_builder_agrees_with_coerce(con, type_name, batch):
    value, plain = ds.BUILDERS[type_name]("t[1]", "v[1]")
    docs = [json.dumps({"x": v}) for v in batch]
    rows = con.execute(f"""SELECT CAST({value} AS {ds.SQL_TYPES[type_name]}), {plain}
                           FROM (SELECT json_type(j, ['$.x']) AS t, json_extract_string(j, ['$.x']) AS v
                                 FROM (SELECT unnest(?::JSON[]) AS j))""", [docs]).fetchall()
    for doc, (got, is_plain) in zip(docs, rows):
        if not is_plain:
            continue  # the reader reads it (or rejects it): not DuckDB's business
        v = json.loads(doc)["x"]
        try:
            want = COERCERS[type_name](v) if v is not None else None
        except Bad as e:
            raise AssertionError(f"{doc}: plain in SQL, bad in coerce.py ({e.reason})")
        assert got == _engine_value(want, type_name), doc


def _score(tmp_path, rules_text, lines, engine):
    from click.testing import CliRunner

    from cli import main

    rf = tmp_path / "r.rules"
    rf.write_text(rules_text)
    leads = tmp_path / "leads.jsonl"
    leads.write_text("".join(line + "\n" for line in lines))
    out = tmp_path / f"out_{engine}.jsonl"
    r = CliRunner().invoke(main, ["score", str(rf), "--leads", str(leads), "-o", str(out), "--as-of", "2026-11-01",
                                  "--engine", engine, "--on-bad-row", "skip"])
    return r.exit_code, (out.read_text() if out.exists() else None), r.output


RULES = """ruleset "t" version 1
fields {
  email: text
  size: number
  since: date
  vip: bool
  tags: text list
}
events {
  visit(page: text)
  demo
}
score fit "Fit" max 100 {
  "Big" +10 when size >= 100
  "VIP" +5 when vip = true
  "Tagged" +3 when tags contains "x"
  "Recent" +2 when since >= 2026-01-01
}
score engagement "Engagement" max 100 {
  "Pricing" +5 each visit where page = "/pricing" within 90 days max 20
  "Demo" +20 each demo within 30 days max 20
}
"""

CLEAN = [
    json.dumps({"id": "a", "email": "a@b.co", "size": 250, "since": "2026-03-01", "vip": True, "tags": ["x", "y"],
                "events": [{"type": "visit", "at": "2026-10-30T10:00:00Z", "page": "/pricing"},
                           {"type": "demo", "at": "2026-10-20"}, {"type": "other", "at": "2026-10-20"}]}),
    json.dumps({"id": 7, "email": " ", "size": 12.5, "since": None, "vip": False, "tags": "x; z",
                "events": []}),
    json.dumps({"email": "c@d.co", "size": None, "extra": 1}),
]


def test_clean_file_is_read_by_duckdb_with_the_python_engines_results(tmp_path):
    import datetime as dt_

    from runtime.backends.duckdb_engine import DuckScore
    from runtime.backends.load import load_rules

    code_py, out_py, _ = _score(tmp_path, RULES, CLEAN, "python")
    code_dd, out_dd, err = _score(tmp_path, RULES, CLEAN, "duckdb")
    assert code_py == code_dd == 0 and out_py == out_dd
    d = DuckScore(load_rules(str(tmp_path / "r.rules")), str(tmp_path / "leads.jsonl"), None, dt_.date(2026, 11, 1))
    assert d.native_skipped is None  # DuckDB read it itself
    assert len(list(d)) == 3 and d.read == 3 and d.rejected == 0 and d.ignored_events == {"other": 1}


@pytest.mark.parametrize("bad", [
    '{"id": "d", "size": "lots"}',              # a bad value: the reader's bad row, with its line
    '{"id": "a", "size": 1}',                   # a duplicate id
    '{"id": "e", "Size": 500}',                 # a column matched loosely
    '',                                         # a blank line (lines shift)
    'not json',
    '{"id": "f", "events": [{"type": "visit", "at": "yesterday"}]}',
    '{"id": "g", "size": " 300 "}',              # fine, but read by the reader
])
def test_other_files_fall_back_to_the_reader_with_the_same_results(tmp_path, bad):
    import datetime as dt_

    from runtime.backends.duckdb_engine import DuckScore
    from runtime.backends.load import load_rules

    lines = CLEAN + [bad] + [json.dumps({"id": "z", "size": 1000})]
    code_py, out_py, err_py = _score(tmp_path, RULES, lines, "python")
    code_dd, out_dd, err_dd = _score(tmp_path, RULES, lines, "duckdb")
    assert (code_py, out_py) == (code_dd, out_dd)
    assert err_py.replace("out_python", "out") == err_dd.replace("out_duckdb", "out")
    rej = tmp_path / "out_python.rejects.jsonl"
    if rej.exists():
        assert rej.read_text() == (tmp_path / "out_duckdb.rejects.jsonl").read_text()
    d = DuckScore(load_rules(str(tmp_path / "r.rules")), str(tmp_path / "leads.jsonl"), None,
                  dt_.date(2026, 11, 1), on_bad_row="skip")
    assert d.native_skipped is not None
    list(d)


def test_memory_cap_default_and_override(monkeypatch):
    from runtime.backends.duckdb_engine import connect

    monkeypatch.delenv("LEADRULES_DUCKDB_MEMORY", raising=False)
    assert ds.default_memory().endswith("MB") and 128 <= int(ds.default_memory()[:-2]) <= 1024
    monkeypatch.setenv("LEADRULES_DUCKDB_MEMORY", "300MB")
    c = connect()
    try:
        assert c.execute("SELECT current_setting('memory_limit')").fetchone()[0] in ("286.1 MiB", "300.0 MB", "300MB")
    finally:
        c.close()


def _parquet_score(tmp_path, table, engine):
    from click.testing import CliRunner

    import pyarrow.parquet as pq

    from cli import main

    rf = tmp_path / "r.rules"
    rf.write_text(RULES)
    leads = tmp_path / "leads.parquet"
    pq.write_table(table, leads)
    out = tmp_path / f"pq_{engine}.jsonl"
    r = CliRunner().invoke(main, ["score", str(rf), "--leads", str(leads), "-o", str(out), "--as-of", "2026-11-01",
                                  "--engine", engine, "--on-bad-row", "skip"])
    return r.exit_code, (out.read_text() if out.exists() else None), r.output


def _parquet_table(size_type=None, at_type=None):
    import datetime as dt_

    import pyarrow as pa

    ev = pa.struct([("type", pa.string()), ("at", at_type or pa.string()), ("page", pa.string())])
    ts = (lambda d: d) if at_type is not None else (lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"))
    return pa.table({
        "id": pa.array(["a", None, "c", "d"]),
        "email": pa.array(["a@b.co", " ", None, "x@y.z"]),
        "size": pa.array([250, 12, None, 3], type=size_type or pa.int64()),
        "since": pa.array([dt_.date(2026, 3, 1), None, dt_.date(2025, 1, 1), dt_.date(2026, 10, 1)]),
        "vip": pa.array([True, False, None, True]),
        "tags": pa.array([["x", "y"], [], None, ["X "]]),
        "events": pa.array([
            [{"type": "visit", "at": ts(dt_.datetime(2026, 10, 30, 10)), "page": "/pricing"},
             {"type": "demo", "at": ts(dt_.datetime(2026, 10, 20, 23, 59, 59)), "page": None},
             {"type": "other", "at": ts(dt_.datetime(2026, 10, 20)), "page": None}],
            [], None, [{"type": "visit", "at": ts(dt_.datetime(2026, 9, 1, 0, 0, 1)), "page": "/Pricing"}]], type=pa.list_(ev)),
    })


def test_plain_parquet_is_staged_by_duckdb_with_the_python_engines_results(tmp_path):
    """A Parquet file of plain column types (text, whole numbers, dates, booleans, lists, structs of
    those) is read by DuckDB itself (staged from its typed columns) and scores as the
    python engine scores it from pyarrow's values."""
    pytest.importorskip("pyarrow")
    import datetime as dt_

    from runtime.backends.duckdb_engine import DuckScore
    from runtime.backends.load import load_rules

    code_py, out_py, _ = _parquet_score(tmp_path, _parquet_table(), "python")
    code_dd, out_dd, _ = _parquet_score(tmp_path, _parquet_table(), "duckdb")
    assert code_py == code_dd == 0 and out_py == out_dd and out_py.count("\n") == 4
    d = DuckScore(load_rules(str(tmp_path / "r.rules")), str(tmp_path / "leads.parquet"), None, dt_.date(2026, 11, 1))
    assert d.native_skipped is None
    got = list(d)
    assert [r.id for r in got] == ["a", "2", "c", "d"] and d.read == 4 and d.ignored_events == {"other": 1}


@pytest.mark.parametrize("kind", ["float32", "decimal", "timestamp", "timestamptz"])
def test_other_parquet_types_go_through_the_reader_with_the_same_results(tmp_path, kind):
    pytest.importorskip("pyarrow")
    import datetime as dt_

    import pyarrow as pa

    from runtime.backends.duckdb_engine import DuckScore
    from runtime.backends.load import load_rules

    table = {"float32": lambda: _parquet_table(size_type=pa.float32()),
             "decimal": lambda: _parquet_table(size_type=pa.decimal128(10, 2)),
             "timestamp": lambda: _parquet_table(at_type=pa.timestamp("us")),
             "timestamptz": lambda: _parquet_table(at_type=pa.timestamp("us", tz="UTC"))}[kind]()
    code_py, out_py, _ = _parquet_score(tmp_path, table, "python")
    code_dd, out_dd, _ = _parquet_score(tmp_path, table, "duckdb")
    assert (code_py, out_py) == (code_dd, out_dd)
    d = DuckScore(load_rules(str(tmp_path / "r.rules")), str(tmp_path / "leads.parquet"), None,
                  dt_.date(2026, 11, 1), on_bad_row="skip")
    assert d.native_skipped is not None and "Parquet column" in d.native_skipped
    list(d)


def test_rows_keep_their_lines_across_row_groups_and_threads(tmp_path):
    """The staged rows are numbered by the table's rowid (read in parallel, kept in file order):
    300,000 rows (three of DuckDB's row groups) read by 2 threads, each lead on its own line, its
    events on theirs."""
    from runtime.backends.duckdb_engine import connect
    from runtime.core.model import Schema

    p = tmp_path / "many.jsonl"
    with open(p, "w") as fh:
        for i in range(1, 300_001):
            ev = ',"events":[{"type":"visit","at":"2026-10-01"}]' if i % 7 == 0 else ""
            fh.write(f'{{"id":"L{i}","size":{i % 13}{ev}}}\n')
    schema = Schema(id_field="id", fields={"size": "number"}, events={"visit": {}})
    c = connect(threads=2)
    try:
        got = ds.stage(c, schema, str(p))
        assert not isinstance(got, str), got
        assert got.read == 300_000
        assert c.execute("SELECT count(*), count(*) FILTER (WHERE id <> 'L' || lr_row OR size <> lr_row % 13) "
                         "FROM lr_leads").fetchone() == (300_000, 0)
        assert c.execute("SELECT count(*), count(*) FILTER (WHERE lead_id % 7 <> 0) FROM lr_events").fetchone() \
            == (300_000 // 7, 0)
    finally:
        c.close()


# ---- Parquet staged from its typed columns: every adapter and fast builder pinned to the reader ----

_BIG = st.integers(min_value=-2**63, max_value=2**63 - 1)


def _pq_columns():
    """(pyarrow type, strategy of its values incl. None) for the column types a Parquet file may have."""
    import pyarrow as pa

    def opt(s):
        return st.one_of(st.none(), s)
    return [
        (pa.string(), opt(texts)),
        (pa.int64(), opt(st.one_of(_BIG, st.sampled_from([0, 1, -1, 2**53 + 1])))),
        (pa.uint64(), opt(st.integers(min_value=0, max_value=2**64 - 1))),
        (pa.int32(), opt(st.integers(min_value=-2**31, max_value=2**31 - 1))),
        (pa.int8(), opt(st.integers(min_value=-128, max_value=127))),
        (pa.float64(), opt(st.floats())),
        (pa.bool_(), opt(st.booleans())),
        (pa.date32(), opt(st.dates())),
        (pa.list_(pa.string()), opt(st.lists(opt(texts), max_size=4))),
    ]


@st.composite
def _pq_tables(draw):
    import pyarrow as pa

    cols = _pq_columns()
    n = draw(st.integers(min_value=1, max_value=6))
    data = {}
    for name in ("id", "email", "size", "since", "vip", "tags"):
        if name != "id" and draw(st.integers(0, 9)) == 0:
            continue  # a declared column missing from the file
        # mostly the column's natural type (so that many files are staged), else any
        natural = {"id": 0, "email": 0, "size": draw(st.sampled_from([1, 2, 3, 4, 5])), "since": 7, "vip": 6, "tags": 8}
        typ, vals = cols[natural[name] if draw(st.integers(0, 9)) else draw(st.integers(0, len(cols) - 1))]
        if name == "id":  # ids: text (blank, white space) or whole numbers, distinct when given
            typ, vals = draw(st.sampled_from([(pa.string(), st.one_of(st.none(), st.sampled_from(["", " ", "\t"]),
                                                                    st.text(min_size=1, max_size=4))),
                                              (pa.int64(), st.one_of(st.none(), _BIG))]))
            data[name] = pa.array(draw(st.lists(vals, min_size=n, max_size=n, unique=True)), type=typ)
            continue
        data[name] = pa.array(draw(st.lists(vals, min_size=n, max_size=n)), type=typ)
    at_type = draw(st.sampled_from([pa.string(), pa.date32()]))
    members = [("type", pa.string()), ("at", at_type)]
    if draw(st.booleans()):
        members.append(("page", draw(st.sampled_from([pa.string(), pa.int64()]))))
    if draw(st.booleans()):
        members.append(("extra", pa.string()))
    ev = pa.struct(members)
    at_vals = (st.sampled_from(["2026-10-30T10:00:00Z", "2026-10-20", "2026-02-30", "", " 2026-10-01", "x", None])
               if at_type == pa.string() else st.one_of(st.none(), st.dates(min_value=dt.date(2026, 1, 1),
                                                                             max_value=dt.date(2026, 12, 31))))
    page_vals = st.sampled_from(["/pricing", "/x", "", " ", None]) if members[2:3] and members[2][1] == pa.string() \
        else st.one_of(st.none(), st.integers(0, 3))
    one = st.fixed_dictionaries({"type": st.sampled_from(["visit", "demo", "other", " visit", "", " ", None]),
                                 "at": at_vals, "page": page_vals, "extra": st.sampled_from(["z", None])})
    if draw(st.booleans()):  # clean events (so that many files are staged)
        one = st.fixed_dictionaries({"type": st.sampled_from(["visit", "demo", "other"]),
                                     "at": at_vals.filter(lambda v: v in (None, "2026-10-20") or not isinstance(v, str)),
                                     "page": page_vals, "extra": st.sampled_from(["z", None])})
    evs = st.one_of(st.none(), st.lists(st.one_of(st.none(), one), max_size=3))
    if draw(st.integers(0, 9)) == 0:
        return pa.table(data)  # no events column
    data["events"] = pa.array([
        None if e is None else [None if x is None else {k: x[k] for k, _t in members} for x in e]
        for e in draw(st.lists(evs, min_size=n, max_size=n))], type=pa.list_(ev))
    return pa.table(data)


@settings(max_examples=80, deadline=None)
@given(table=_pq_tables(), strict=st.booleans())
def test_parquet_builders_agree_with_the_reader(tmp_path_factory, table, strict):
    """Random typed Parquet columns (nulls, blanks, white space, big ints, NaN/inf, empty and None
    lists, events with missing and extra members, ids as ints and blank texts): when DuckDB stages
    the file itself, every lead's id, line and values are what runtime.io.readers reads from pyarrow,
    and its events and ignored counts are the reader's; else it names why and the reader reads it."""
    pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    from runtime.backends.duckdb_engine import connect
    from runtime.core.model import Schema
    from runtime.io.readers import LeadReader

    p = tmp_path_factory.mktemp("pq") / "t.parquet"
    pq.write_table(table, p)
    schema = Schema(id_field="id", fields={"email": "text", "size": "number", "since": "date", "vip": "bool",
                                           "tags": "text list"},
                    events={"visit": {"page": "text"}, "demo": {}}, strict_events=strict)
    c = connect(threads=2)
    try:
        got = ds.stage(c, schema, str(p))
        if isinstance(got, str):
            return  # the reader's business (the end-to-end test below compares the results)
        r = LeadReader(str(p), schema, on_bad_row="skip")
        want = list(r)
        assert r.rejected == 0 and r.bad_events == 0, r.bad_rows
        assert got.read == r.read and got.ignored_events == r.ignored_events
        assert (got.missing_columns, got.unused_columns) == (r.missing_columns, r.unused_columns)
        names = list(schema.fields)
        rows = c.execute(f"SELECT lr_row, id, lr_numbered, {', '.join(map(ds._qid, names))} FROM lr_leads "
                         "ORDER BY lr_row").fetchall()
        assert [(x.line, x.id, x.numbered, *(_engine_value(x.fields.get(f), t) for f, t in schema.fields.items()))
                for x in want] == [tuple(row) for row in rows]
        evs = c.execute("SELECT lead_id, type, CAST(lr_events.at AS DATE), page FROM lr_events").fetchall()
        assert sorted((x.line, e.type, dt.date.fromordinal(e.day), e.attrs.get("page"))
                      for x in want for e in x.events) == sorted(evs, key=lambda e: (e[0], e[1], e[2], e[3] or ""))
    finally:
        c.close()


@settings(max_examples=25, deadline=None)
@given(table=_pq_tables())
def test_random_parquet_scores_as_the_python_engine_scores_it(tmp_path_factory, table):
    """End to end, byte for byte: `score --engine duckdb` of a random typed Parquet file (staged by
    DuckDB or, when it names why not, read by runtime.io.readers) writes what `--engine python` writes."""
    pytest.importorskip("pyarrow")
    tmp = tmp_path_factory.mktemp("pqe")
    code_py, out_py, msg_py = _parquet_score(tmp, table, "python")
    code_dd, out_dd, msg_dd = _parquet_score(tmp, table, "duckdb")
    assert (code_py, out_py) == (code_dd, out_dd), (msg_py, msg_dd)


def test_typed_parquet_is_staged_not_read_by_the_reader(tmp_path):
    """Ids as whole numbers, doubles, booleans, dates, lists of text and events with a date `at`,
    a missing attribute member and an extra one: staged by DuckDB itself (native_skipped is None)."""
    pytest.importorskip("pyarrow")
    import pyarrow as pa

    from runtime.backends.duckdb_engine import DuckScore
    from runtime.backends.load import load_rules

    ev = pa.struct([("type", pa.string()), ("at", pa.date32()), ("extra", pa.int64())])
    table = pa.table({
        "id": pa.array([2**62, None, -3]),
        "email": pa.array(["a@b.co", " \u3000", None]),
        "size": pa.array([250.5, float(2**53 + 1), None]),
        "since": pa.array([dt.date(2026, 3, 1), None, dt.date(1, 1, 1)]),
        "vip": pa.array([True, False, None]),
        "tags": pa.array([["x", " ", None], [], None]),
        "events": pa.array([[{"type": "visit", "at": dt.date(2026, 10, 30), "extra": 1},
                             {"type": " nope", "at": dt.date(2026, 10, 1), "extra": None}], [], None],
                            type=pa.list_(ev)),
    })
    code_py, out_py, _ = _parquet_score(tmp_path, table, "python")
    code_dd, out_dd, _ = _parquet_score(tmp_path, table, "duckdb")
    assert code_py == code_dd == 0 and out_py == out_dd and out_py.count("\n") == 3
    d = DuckScore(load_rules(str(tmp_path / "r.rules")), str(tmp_path / "leads.parquet"), None, dt.date(2026, 11, 1))
    assert d.native_skipped is None
    got = list(d)
    assert [r.id for r in got] == [str(2**62), "2", "-3"] and d.ignored_events == {" nope": 1}
