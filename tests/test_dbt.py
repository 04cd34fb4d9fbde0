"""`leadrules compile --target dbt` run by a real dbt (dbt-core + dbt-duckdb) in a temporary project
with a temporary DuckDB file, no network: `dbt build` passes (model, data tests, unit tests from the
rule file's tests) and the model's rows equal `leadrules score` on the same leads. The loader is the
one docs/dbt.md shows, taken from the doc.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

duckdb = pytest.importorskip("duckdb")
pytest.importorskip("pyarrow")
pytest.importorskip("dbt.cli.main", reason="dbt-core is in the test extra")
pytest.importorskip("dbt.adapters.duckdb", reason="dbt-duckdb is in the test extra")

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"
SAMPLE = ROOT / "rulesets" / "samples" / "leads.jsonl"
AS_OF = "2026-11-01"
ENV = {**os.environ, "PYTHONPATH": str(ROOT), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}

# A rule file whose literals, names, queues, reasons and test leads are full of Jinja.
JINJA_RULES = '''ruleset "jinja{{ 1 }}" version 1

fields {
  title: text
}

events {
  web_visit(page: text)
}

disqualify "bad {% if true %}x{% endif %}" when title = "{{ 7 }}"

score fit "Fit {# c #}" max 100 {
  "Brace {{"  +10  when title contains "{{ x }}"
  "Tag"       +20  when title contains "{%"
  "Page"      +5   each web_visit where page contains "{#"  max 10
}

grade fit {
  A when >= 20
  B otherwise
}

route {
  disqualified -> suppress
  A            -> sales "q{{x}}"
  otherwise    -> nurture "n{%raw%}"
}

test "braces {{ }} score" {
  as of 2026-11-01
  lead { id: "{{ id }}", title: "a {{ x }} {% b" }
  event web_visit { page: "{#/p" } 1 day ago
  expect fit = 35
  expect grade A
  expect route sales "q{{x}}"
  expect not disqualified
}

test "a {% raw %} tag disqualifies" {
  as of 2026-11-01
  lead { title: "{{ 7 }}" }
  expect disqualified "bad {% if true %}x{% endif %}"
  expect route suppress
}
'''
JINJA_LEADS = [
    {"id": "{{ id }}", "title": "a {{ x }} {% b", "events": [{"type": "web_visit", "page": "{#/p", "at": "2026-10-31"}]},
    {"id": "k2", "title": "{{ 7 }}"},
    {"id": "k3", "title": "plain {%endraw%}"},
    {"id": "k4", "title": "plain"},
]


def _run(*args, cwd=ROOT, check=True):
    p = subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, env=ENV)
    if check:
        assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    return p


def _loader(tmp: Path) -> Path:
    """docs/dbt.md's load_sample.py, as the doc shows it."""
    doc = (ROOT / "docs" / "dbt.md").read_text(encoding="utf-8")
    m = re.search(r"```python\n(.*?)```", doc, re.S)
    assert m, "docs/dbt.md has no python block"
    code = "\n".join(line[3:] if line.startswith("   ") else line for line in m.group(1).splitlines())
    path = tmp / "load_sample.py"
    path.write_text(code, encoding="utf-8")
    return path


def _project(tmp: Path, rules: Path, leads: Path) -> Path:
    proj = tmp / "scores"
    out = _run(sys.executable, "-m", "cli", "compile", str(rules), "--target", "dbt", "--out", str(proj))
    assert "wrote" in out.stderr
    _run(sys.executable, str(_loader(tmp)), str(rules), str(leads), str(proj / "warehouse.duckdb"))
    (proj / "profiles.yml").write_text("leadrules:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
                                       "      path: warehouse.duckdb\n      threads: 4\n", encoding="utf-8")
    return proj


def _dbt(proj: Path, *args, check=True):
    return _run(sys.executable, "-m", "dbt.cli.main", *args, "--profiles-dir", str(proj), "--project-dir", str(proj),
                "--vars", json.dumps({"leadrules_as_of": AS_OF}), cwd=proj, check=check)


def _model_rows(proj: Path) -> dict[str, dict]:
    con = duckdb.connect(str(proj / "warehouse.duckdb"), read_only=True)
    try:
        cur = con.execute("SELECT * FROM main.lead_scores")
        cols = [d[0] for d in cur.description]
        return {r[0]: dict(zip(cols, r)) for r in cur.fetchall()}
    finally:
        con.close()


def _score_rows(rules: Path, leads: Path) -> list[dict]:
    out = _run(sys.executable, "-m", "cli", "score", str(rules), "--leads", str(leads), "--as-of", AS_OF)
    return [json.loads(x) for x in out.stdout.splitlines()]


def _as_columns(rec: dict) -> dict:
    """A `score` JSONL record as the model's columns."""
    row = {"id": rec["id"], "grade": rec["grade"], "route": rec["route"], "queue": rec["queue"], "sla": rec["sla"],
           "disqualified": rec["disqualified"]}
    return row, rec.get("scores") or {}, rec.get("bands") or {}


def _agree(model: dict[str, dict], want: list[dict]) -> None:
    assert len(model) == len(want)
    diffs = []
    for rec in want:
        got = model[rec["id"]]
        row, scores, bands = _as_columns(rec)
        for k, v in row.items():
            if got[k] != v:
                diffs.append((rec["id"], k, got[k], v))
        for col, v in got.items():
            if col.endswith("_score") and not col.startswith("account_"):
                if v != scores.get(col[:-6]):
                    diffs.append((rec["id"], col, v, scores.get(col[:-6])))
            elif col.endswith("_band") and not col.startswith("account_"):
                if v != bands.get(col[:-5]):
                    diffs.append((rec["id"], col, v, bands.get(col[:-5])))
        if "account" in rec:
            if got["account"] != rec["account"]:
                diffs.append((rec["id"], "account", got["account"], rec["account"]))
            for d, s in rec["account_scores"].items():
                if got[f"account_{d}_score"] != s:
                    diffs.append((rec["id"], d, got[f"account_{d}_score"], s))
            for d, b in rec["account_bands"].items():
                if got[f"account_{d}_band"] != b:
                    diffs.append((rec["id"], d, got[f"account_{d}_band"], b))
    assert not diffs, f"{len(diffs)} differences, e.g. {diffs[:5]}"


def test_dbt_build_on_the_bundled_sample_equals_leadrules_score(tmp_path):
    proj = _project(tmp_path, ACME, SAMPLE)
    out = _dbt(proj, "build")
    text = out.stdout
    assert "Completed successfully" in text
    unit = len(re.findall(r"^  - name: leadrules_", (proj / "models" / "schema.yml").read_text(), re.M))
    blocks = len(re.findall(r'^test "', ACME.read_text(encoding="utf-8"), re.M))
    assert unit == blocks  # every test block of acme.rules has an expectation dbt can compare
    m = re.search(r"PASS=(\d+) WARN=0 ERROR=0 SKIP=0", text)
    assert m and int(m.group(1)) == unit + 5 + 1, text[-2000:]
    _agree(_model_rows(proj), _score_rows(ACME, SAMPLE))

    # a unit test really compares: a wrong expectation fails `dbt build`
    yml = proj / "models" / "schema.yml"
    text = yml.read_text(encoding="utf-8")
    wrong = text.replace('"grade": "A3"', '"grade": "B3"', 1)
    assert wrong != text
    yml.write_text(wrong, encoding="utf-8")
    bad = _dbt(proj, "test", "--select", "unit_test:leadrules_vp_at_an_enterprise_who_asked_for_a_demo_goes_to_sales",
               check=False)
    assert bad.returncode != 0 and "FAIL" in bad.stdout


def test_rule_file_jinja_never_runs_in_dbt(tmp_path):
    rules = tmp_path / "j.rules"
    rules.write_text(JINJA_RULES, encoding="utf-8")
    leads = tmp_path / "leads.jsonl"
    leads.write_text("".join(json.dumps(x) + "\n" for x in JINJA_LEADS), encoding="utf-8")
    proj = _project(tmp_path, rules, leads)
    out = _dbt(proj, "build")
    assert "Completed successfully" in out.stdout and "PASS=2 " not in out.stdout
    assert re.search(r"PASS=\d+ WARN=0 ERROR=0 SKIP=0", out.stdout)
    model = _model_rows(proj)
    assert model["{{ id }}"]["queue"] == "q{{x}}" and model["k3"]["queue"] == "q{{x}}"
    assert model["k4"]["queue"] == "n{%raw%}"
    assert model["k2"]["disqualified"] == "bad {% if true %}x{% endif %}"
    _agree(model, _score_rows(rules, leads))


# ---- compile options, without dbt ----------------------------------------------------------------


def test_compile_dbt_options_and_notes(tmp_path):
    out = _run(sys.executable, "-m", "cli", "compile", str(ACME), "--target", "dbt", "--out", str(tmp_path),
               "--source", "crm", "--source-schema", "raw", "--leads-table", "contacts", "--events-table",
               "activities", "--model", "scores", "--as-of", AS_OF)
    sql = (tmp_path / "models" / "scores.sql").read_text(encoding="utf-8")
    assert "{{ source('crm', 'contacts') }}" in sql and "{{ source('crm', 'activities') }}" in sql
    assert "var('leadrules_as_of', '2026-11-01')" in sql
    yml = (tmp_path / "models" / "schema.yml").read_text(encoding="utf-8")
    assert '  - name: "crm"\n    schema: "raw"' in yml and 'input: source(\'crm\', \'contacts\')' in yml
    assert '- name: "scores"' in yml
    # what dbt cannot compare is said, test by test
    assert 'note: test "a demo request from a personal email at a small firm goes to an SDR first": ' \
           'expect engagement >= 50' in out.stderr
    assert (tmp_path / "dbt_project.yml").exists()


def test_compile_dbt_protects_files_it_did_not_write(tmp_path):
    (tmp_path / "models").mkdir()
    mine = tmp_path / "models" / "schema.yml"
    mine.write_text("version: 2\n# my own\n", encoding="utf-8")
    p = _run(sys.executable, "-m", "cli", "compile", str(ACME), "--target", "dbt", "--out", str(tmp_path), check=False)
    assert p.returncode == 2 and "was not written by leadrules" in p.stderr
    assert mine.read_text(encoding="utf-8") == "version: 2\n# my own\n"
    _run(sys.executable, "-m", "cli", "compile", str(ACME), "--target", "dbt", "--out", str(tmp_path), "--force")
    _run(sys.executable, "-m", "cli", "compile", str(ACME), "--target", "dbt", "--out", str(tmp_path))  # ours now


@pytest.mark.parametrize("args, words", [
    (["--target", "dbt"], "give the dbt project directory with --out DIR"),
    (["--target", "dbt", "--out", "{out}", "--source", "a b"], "is not a plain name"),
    (["--target", "sql", "--out", "{out}"], "--out is for --target dbt"),
])
def test_compile_dbt_usage_errors(tmp_path, args, words):
    args = [a.replace("{out}", str(tmp_path)) for a in args]
    p = _run(sys.executable, "-m", "cli", "compile", str(ACME), *args, check=False)
    assert p.returncode == 2 and words in p.stderr and "Traceback" not in p.stderr
