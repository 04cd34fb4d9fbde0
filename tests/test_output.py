"""`score`'s output (docs/output.md): provenance and reasons on every record, on every engine and
worker count, `rules_sha256` tied to meaning, and `--changed-since`."""
from __future__ import annotations

import csv
import hashlib
import io
import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from runtime.core.plan import canonical_text, rules_sha256

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "tests" / "data" / "language_example.rules"   # no accounts block: --workers 2 splits
SAMPLE = ROOT / "rulesets" / "samples" / "leads.jsonl"
AS_OF = "2026-11-01"
ENGINES = {"python": [], "duckdb": ["--engine", "duckdb"], "workers": ["--workers", "2"]}
PROVENANCE = ("ruleset", "ruleset_version", "rules_sha256", "as_of")


def score(*args, ok=True):
    res = CliRunner().invoke(cli.main, [str(a) for a in args])
    if ok:
        assert res.exit_code == 0, res.output
    return res


def first_lines(tmp_path, n=300) -> Path:
    p = tmp_path / "leads.jsonl"
    with open(SAMPLE, encoding="utf-8") as fh:
        p.write_text("".join(line for _i, line in zip(range(n), fh)), encoding="utf-8")
    return p


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("out")
    leads = first_lines(tmp)
    out = {}
    for name, extra in ENGINES.items():
        for fmt in ("jsonl", "csv"):
            o = tmp / f"{name}.{fmt}"
            score("score", EXAMPLE, "--leads", leads, "--as-of", AS_OF, "-o", o, *extra)
            out[name, fmt] = o
    return leads, out


def records(path: Path) -> list[dict]:
    if path.suffix == ".csv":
        return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_every_engine_writes_the_same_provenance_and_reasons(outputs, fmt):
    _leads, out = outputs
    want_sha = hashlib.sha256(canonical_text(EXAMPLE.read_text(encoding="utf-8")).encode()).hexdigest()
    recs = {name: records(out[name, fmt]) for name in ENGINES}
    for name, rs in recs.items():
        assert len(rs) == 300, name
        for r in rs:
            assert r["ruleset"] == "acme-b2b" and str(r["ruleset_version"]) == "4"
            assert r["rules_sha256"] == want_sha and r["as_of"] == AS_OF
            assert isinstance(r["reasons"], str) and len(r["reasons"]) <= 255
        prov = [{k: r[k] for k in PROVENANCE + ("reasons",)} for r in rs]
        assert prov == [{k: r[k] for k in PROVENANCE + ("reasons",)} for r in recs["python"]], name
    assert out["python", fmt].read_bytes() == out["duckdb", fmt].read_bytes() == out["workers", fmt].read_bytes()


def test_reasons_name_the_top_criteria_or_the_disqualification(outputs):
    _leads, out = outputs
    rs = records(out["python", "jsonl"])
    dq = [r for r in rs if r["disqualified"]]
    assert dq and all(r["reasons"] == r["disqualified"] for r in dq)
    live = [r for r in rs if not r["disqualified"] and r["reasons"]]
    assert live
    for r in live:
        pts = [int(item.rsplit(" ", 1)[1]) for item in r["reasons"].split("; ")]
        assert all(p != 0 for p in pts)
        assert [abs(p) for p in pts] == sorted((abs(p) for p in pts), reverse=True)
    # with --explain, the reasons are the fired criteria's points, whole, largest first
    o = out["python", "jsonl"].parent / "explained.jsonl"
    score("score", EXAMPLE, "--leads", _leads, "--as-of", AS_OF, "-o", o, "--explain")
    for r in records(o):
        if r["disqualified"]:
            continue
        names = {k.split(".")[-1]: v for k, v in r["criteria"].items()}
        for item in filter(None, r["reasons"].split("; ")):
            name, p = item.rsplit(" ", 1)
            assert abs(names[name] - int(p)) <= 0.5


def test_rules_sha256_ignores_layout_and_comments_and_follows_meaning(tmp_path):
    text = EXAMPLE.read_text(encoding="utf-8")
    formatted = (ROOT / "tests" / "data" / "language_example.formatted.rules").read_text(encoding="utf-8")
    commented = "# a new comment\n" + text.replace("max 100 {", "max 100 {   # trailing\n", 1) + "\n\n"
    assert rules_sha256(text) == rules_sha256(formatted) == rules_sha256(commented)
    assert rules_sha256(text) != rules_sha256(text.replace("+25  when company_size >= 1000",
                                                           "+26  when company_size >= 1000"))
    # end to end: `fmt` does not change the records' hash; a points edit does
    leads = first_lines(tmp_path, 20)
    f = tmp_path / "r.rules"
    shutil.copy(EXAMPLE, f)
    sha = [records_of(f, leads, tmp_path)]
    score("fmt", f)
    sha.append(records_of(f, leads, tmp_path))
    f.write_text(f.read_text(encoding="utf-8").replace("+25  when company_size", "+30  when company_size"),
                 encoding="utf-8")
    sha.append(records_of(f, leads, tmp_path))
    assert sha[0] == sha[1] != sha[2]


def records_of(rules: Path, leads: Path, tmp: Path) -> str:
    o = tmp / "sha.jsonl"
    score("score", rules, "--leads", leads, "--as-of", AS_OF, "-o", o)
    shas = {r["rules_sha256"] for r in records(o)}
    assert len(shas) == 1
    return shas.pop()


@pytest.mark.parametrize("engine", list(ENGINES))
@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_changed_since_an_unchanged_input_writes_nothing(outputs, tmp_path, engine, fmt):
    leads, out = outputs
    o = tmp_path / f"again.{fmt}"
    res = score("score", EXAMPLE, "--leads", leads, "--as-of", AS_OF, "-o", o, "--changed-since", out["python", fmt],
                *ENGINES[engine])
    body = o.read_text(encoding="utf-8").splitlines()
    assert body == ([] if fmt == "jsonl" else [out["python", fmt].read_text(encoding="utf-8").splitlines()[0]])
    assert "300 unchanged" in res.stderr


def test_changed_since_writes_new_and_changed_leads_only(outputs, tmp_path):
    leads, out = outputs
    prev = records(out["python", "jsonl"])
    # an older file: one lead missing (new now), one with another grade (changed), the rest as now
    old = tmp_path / "old.jsonl"
    changed = dict(prev[1], grade="Z9")
    old.write_text("\n".join(json.dumps(r) for r in [changed] + prev[2:]) + "\n", encoding="utf-8")
    for extra in ENGINES.values():
        o = tmp_path / "delta.jsonl"
        res = score("score", EXAMPLE, "--leads", leads, "--as-of", AS_OF, "-o", o, "--changed-since", old, *extra)
        assert [r["id"] for r in records(o)] == [prev[0]["id"], prev[1]["id"]]
        assert "298 unchanged" in res.stderr


def test_changed_since_a_file_that_is_not_score_output_is_exit_2(tmp_path):
    bad = tmp_path / "prev.jsonl"
    bad.write_text('{"hello": 1}\n', encoding="utf-8")
    res = score("score", EXAMPLE, "--leads", first_lines(tmp_path, 5), "--as-of", AS_OF, "--changed-since", bad,
                ok=False)
    assert res.exit_code == 2 and "prev.jsonl:1" in res.output and "Traceback" not in res.output


def test_the_sql_output_has_the_same_columns(tmp_path):
    duckdb = pytest.importorskip("duckdb")
    res = score("compile", EXAMPLE, "--target", "sql", "--as-of", AS_OF)
    con = duckdb.connect()
    con.execute("CREATE TABLE leads AS SELECT * FROM (VALUES ('L1', 'ann@acme.com', 'VP Sales', 5000)) "
                "t(id, email, title, company_size)")
    for f, t in (("first_name", "TEXT"), ("last_name", "TEXT"), ("company", "TEXT"), ("industry", "TEXT"),
                 ("country", "TEXT"), ("annual_revenue", "DOUBLE"), ("lead_source", "TEXT"), ("created_at", "DATE"),
                 ("opted_out", "BOOLEAN"), ("interests", "TEXT[]")):
        con.execute(f"ALTER TABLE leads ADD COLUMN {f} {t}")
    con.execute("CREATE TABLE events (lead_id TEXT, type TEXT, \"at\" TIMESTAMP, page TEXT, form TEXT, webinar TEXT, "
                "asset TEXT)")
    cur = con.execute(res.stdout.rstrip().rstrip(";"))
    cols = [d[0] for d in cur.description]
    row = dict(zip(cols, cur.fetchone()))
    header = (tmp_path / "h.csv")
    score("score", EXAMPLE, "--leads", first_lines(tmp_path, 1), "--as-of", AS_OF, "-o", header)
    assert cols == header.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert row["reasons"] == "Seniority +35; Enterprise +25" and row["as_of"] == AS_OF
    assert row["ruleset"] == "acme-b2b" and row["ruleset_version"] == 4
    assert row["rules_sha256"] == rules_sha256(EXAMPLE.read_text(encoding="utf-8"))


def test_the_docs_example_record_is_what_score_writes(tmp_path):
    """docs/output.md's CSV example, scored again."""
    doc = (ROOT / "docs" / "output.md").read_text(encoding="utf-8")
    block = doc.split("```\n", 2)[1].splitlines()
    header, row = block[0], block[1]
    o = tmp_path / "scored.csv"
    score("score", ROOT / "rulesets" / "acme.rules", "--leads", SAMPLE, "--as-of", AS_OF, "-o", o)
    lines = o.read_text(encoding="utf-8").splitlines()
    assert lines[0] == header
    got = next(ln for ln in lines if ln.startswith("L00002,"))
    prefix, rest = row.split("…", 1)
    assert got.startswith(prefix) and got.endswith(rest)


AS_OF_FIELD_RULES = '''ruleset "af" version 1
fields {
  created: date
}
score s "S" max 100 {
  "fresh" 10 when days since created <= 30
}
'''


@pytest.mark.parametrize("engine", ["python", "workers"])
@pytest.mark.parametrize("out", ["out.jsonl", "out.csv"])
def test_as_of_field_writes_each_leads_own_as_of(engine, out, tmp_path):
    """`score --as-of-field created`: each record's `as_of` is the day that lead was scored as of (its
    own `created`), in JSONL and CSV, in one process and with --workers 2 (scored in one, said on stderr)."""
    rules = tmp_path / "af.rules"
    rules.write_text(AS_OF_FIELD_RULES, encoding="utf-8")
    leads = tmp_path / "l.jsonl"
    leads.write_text('{"id": "a", "created": "2026-10-01"}\n{"id": "b", "created": "2026-05-01T23:30:00-02:00"}\n',
                     encoding="utf-8")
    res = CliRunner().invoke(cli.main, ["score", str(rules), "--leads", str(leads), "--as-of-field", "created",
                                        "-o", str(tmp_path / out), *ENGINES[engine]])
    assert res.exit_code == 0, res.output
    text = (tmp_path / out).read_text(encoding="utf-8")
    rows = [json.loads(x) for x in text.splitlines()] if out.endswith(".jsonl") else list(csv.DictReader(io.StringIO(text)))
    assert [(r["id"], r["as_of"]) for r in rows] == [("a", "2026-10-01"), ("b", "2026-05-02")]
    assert all(r["reasons"] == "fresh +10" for r in rows)


def test_as_of_field_is_refused_up_front_by_duckdb(tmp_path):
    rules = tmp_path / "af.rules"
    rules.write_text(AS_OF_FIELD_RULES, encoding="utf-8")
    leads = tmp_path / "l.jsonl"
    leads.write_text('{"id": "a", "created": "2026-10-01"}\n', encoding="utf-8")
    res = CliRunner().invoke(cli.main, ["score", str(rules), "--leads", str(leads), "--as-of-field", "created",
                                        "-o", str(tmp_path / "o.jsonl"), "--engine", "duckdb"])
    assert res.exit_code == 2 and "--as-of-field" in res.output and "use --engine python" in res.output
    assert not (tmp_path / "o.jsonl").exists()
def test_jsonl_fast_lines_with_accounts_are_the_records_json():
    """LineFormatter writes JSONL lines in pieces (account scores and bands encoded once per distinct
    account outcome): byte for byte the JSON encoding of Columns.record, accounts included."""
    import datetime as _dt
    import io as _io
    from pathlib import Path as _P

    from runtime.backends.load import load_rules as _lr
    from runtime.backends.scoring import results as _results
    from runtime.io.writers import LineFormatter as _LF

    root = _P(__file__).resolve().parents[1]
    rules = _lr(str(root / "rulesets" / "acme.rules"))
    day = _dt.date(2026, 11, 1)
    lf = _LF(rules.engine.plan, "jsonl", False, day)
    seen = 0
    for r in _results(rules, str(root / "rulesets" / "samples" / "leads.jsonl"), as_of=day):
        out = _io.StringIO()
        lf.write(out, r)
        assert out.getvalue() == lf._json(r, lf.cols.record(r)) + "\n"
        seen += r.account_scores is not None
    assert seen > 1000
