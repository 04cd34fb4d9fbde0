"""`score --engine duckdb` writes its JSON lines in DuckDB (runtime/backends/duckdb_engine.py
json_line_sql): each piece pinned to what runtime/io/writers.py writes — a DOUBLE as Python's repr, a
string as json's encode_basestring (or NULL, and the row is written by the writer) — and whole files
byte for byte against the python engine, awkward names and ids included."""
from __future__ import annotations

import datetime as dt
import json
from json.encoder import encode_basestring

import pytest

duckdb = pytest.importorskip("duckdb")
from hypothesis import given, settings, strategies as st  # noqa: E402

from runtime.backends import duckdb_engine as de  # noqa: E402

CON = duckdb.connect()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=1, max_size=20))
def test_a_double_is_written_as_pythons_repr(xs):
    got = CON.execute("SELECT CAST(x AS VARCHAR) FROM (SELECT unnest(?::DOUBLE[]) AS x)", [xs]).fetchall()
    assert [g for (g,) in got] == [repr(float(x)) for x in xs]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=12), min_size=1, max_size=10))
def test_a_string_is_written_as_encode_basestring_or_left_to_the_writer(texts):
    texts = [t.replace("\x00", "") for t in texts]  # (DuckDB's VARCHAR holds no NUL)
    expr = de._json_text("s")
    got = CON.execute(f"SELECT {expr} FROM (SELECT unnest(?::VARCHAR[]) AS s)", [texts]).fetchall()
    for t, (g,) in zip(texts, got):
        if any(ord(c) < 0x20 for c in t):
            assert g is None  # DuckDB escapes these as \u001F, Python as \u001f: the writer writes the row
        else:
            assert g == encode_basestring(t)


RULES = r'''ruleset "odd \"names\"" version 3
fields {
  email: text
  size: number
}
events {
  visit(page: text)
}
disqualify "test \\ lead \"x\"" when email ends with "@test.com"
disqualify "line\nbreak" when email ends with "@nl.com"
score fit "Fit" max 100 {
  "Big \"co\"" +40 when size >= 100
  "Été ☃ 😀" +25 when size >= 10
  "back\\slash" -5 when email ends with ".edu"
  "new\nline" +1 when size = 7
}
score engagement "Engagement" max 50 {
  "Pricing" +7.5 each visit where page = "/pricing" within 90 days max 30
}
grade fit {
  A when >= 60
  B when >= 20
  C otherwise
}
route {
  disqualified -> suppress
  A -> sales "hot \"q\"" within 1 hour
  otherwise -> nurture "é"
}
'''


def _leads() -> list[str]:
    ids = ["plain", 'quote"d', "back\\slash", "tab\there", "ctl\x01", "é☃😀", "\u2028sep", 12345678901234567890,
           None, "  ", "x" * 300]
    out = []
    for i, lid in enumerate(ids):
        for email, size in (("a@b.co", 250), ("t@test.com", 5), ("n@nl.com", 50), ("s@u.edu", 7), ("q@r.co", 15)):
            rec = {"email": email, "size": size,
                   "events": [{"type": "visit", "at": f"2026-10-{10 + i:02d}T08:00:00Z", "page": "/pricing"}] * (i % 4)}
            if lid is not None:
                rec["id"] = lid + 1000 * len(out) if not isinstance(lid, str) else f"{lid}-{email}"
            out.append(json.dumps(rec, ensure_ascii=False))
    return out


def test_awkward_names_and_ids_are_written_as_the_python_engine_writes_them(tmp_path):
    from click.testing import CliRunner

    from cli import main
    from runtime.backends.load import load_rules
    from runtime.io.writers import LineFormatter

    rf = tmp_path / "r.rules"
    rf.write_text(RULES)
    leads = tmp_path / "leads.jsonl"
    leads.write_text("".join(x + "\n" for x in _leads()), encoding="utf-8")
    outs = {}
    for engine in ("python", "duckdb"):
        out = tmp_path / f"{engine}.jsonl"
        r = CliRunner().invoke(main, ["score", str(rf), "--leads", str(leads), "-o", str(out), "--as-of",
                                      "2026-11-01", "--engine", engine])
        assert r.exit_code == 0, r.output
        outs[engine] = out.read_bytes()
    assert outs["duckdb"] == outs["python"]
    assert outs["python"].count(b"\n") == len(_leads())

    # DuckDB wrote most lines itself; the writer only those with a control character in them
    rules = load_rules(str(rf))
    fmt = LineFormatter(rules.engine.plan, "jsonl", False, dt.date(2026, 11, 1))
    by_writer = []
    write = fmt.write
    fmt.write = lambda out, r, day=None: (by_writer.append(r.id), write(out, r, day))
    d = de.DuckScore(rules, str(leads), None, dt.date(2026, 11, 1))
    assert d.native_skipped is None
    text = "".join(d.text(fmt))
    assert text.encode("utf-8") == outs["python"] and d.scored == len(_leads())
    assert 0 < len(by_writer) < len(_leads())
    written = [json.loads(line) for line in text.split("\n") if line]
    for rec in written:
        has_ctl = any(ord(c) < 0x20 for c in rec["id"] + (rec["reasons"] or "") + (rec["disqualified"] or ""))
        assert (rec["id"] in by_writer) == has_ctl
