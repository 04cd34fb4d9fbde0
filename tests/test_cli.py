"""The command line contract for lint, test, explain and score: outputs, formats and exit codes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli

DATA = Path(__file__).parent / "data"
EXAMPLE = DATA / "language_example.rules"


def run(*args, input=None):
    r = CliRunner().invoke(cli.main, [str(a) for a in args], input=input, catch_exceptions=False)
    return r


@pytest.fixture
def leads_file(tmp_path):
    p = tmp_path / "leads.jsonl"
    rows = [
        {"id": "L1", "email": "ana@bigco.com", "title": "VP Marketing", "company_size": 5000, "industry": "Software",
         "events": [{"type": "form_submit", "form": "demo-request", "at": "2026-10-30T10:00:00Z"},
                    {"type": "webinar_attended", "webinar": "scoring-101", "at": "2026-10-01"}]},
        {"id": "L2", "first_name": "Mickey", "last_name": "Mouse", "email": "mm@disney.com"},
        {"id": "L3", "email": "x@gmail.com", "company_size": "1200", "title": "Manager"},
    ]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


def test_lint_clean_example_exits_0():
    r = run("lint", EXAMPLE)
    assert r.exit_code == 0, r.output
    assert "error" not in r.output.split("checked:")[-1]


def test_lint_reports_file_line_col_code_and_hint(tmp_path):
    bad = tmp_path / "bad.rules"
    bad.write_text(EXAMPLE.read_text().replace('"Enterprise"       +25  when company_size >= 1000',
                                               '"Enterprise"       +25  when company_sise >= 1000'))
    r = run("lint", bad)
    assert r.exit_code == 1
    line = next(i for i, l in enumerate(bad.read_text().splitlines(), 1) if "company_sise" in l)
    col = bad.read_text().splitlines()[line - 1].index("company_sise") + 1
    assert f"{bad}:{line}:{col}: error LR201" in r.output
    assert "^" in r.output and "hint:" in r.output and "company_size" in r.output


def test_lint_json_format(tmp_path):
    bad = tmp_path / "bad.rules"
    bad.write_text('ruleset "x" version 1\nfields { a: text }\nlist unused = ["a"]\n')
    r = run("lint", bad, "--format", "json")
    doc = json.loads(r.output)
    assert set(doc) >= {"version", "files", "errors", "warnings", "diagnostics"}
    d = doc["diagnostics"][0]
    assert set(d) >= {"code", "slug", "severity", "message", "file", "line", "col", "end_line", "end_col", "hint"}


def test_lint_syntax_error_no_traceback(tmp_path):
    bad = tmp_path / "bad.rules"
    bad.write_text('ruleset "x" version 1\nfields {\n  a: text\n')
    r = run("lint", bad)
    assert r.exit_code == 1
    assert "Traceback" not in r.output and "LR103" in r.output


def test_lint_missing_file_exits_2(tmp_path):
    r = run("lint", tmp_path / "nope.rules")
    assert r.exit_code == 2


def test_test_command_passes_example():
    r = run("test", EXAMPLE, "--as-of", "2026-11-01")
    assert r.exit_code == 0, r.output
    assert "2 passed, 0 failed" in r.output


def test_test_command_failure_shows_expected_and_fired(tmp_path):
    f = tmp_path / "x.rules"
    f.write_text(EXAMPLE.read_text().replace("expect grade A3", "expect grade B3"))
    r = run("test", f, "--as-of", "2026-11-01")
    assert r.exit_code == 1
    assert "expected grade B3, got A3" in r.output and "Seniority +35" in r.output
    j = json.loads(run("test", f, "--as-of", "2026-11-01", "--format", "json").output)
    assert j["failed"] == 1 and j["tests"][0]["grade"] == "A3"
    x = run("test", f, "--as-of", "2026-11-01", "--format", "junit").output
    assert "<testsuites" in x and "<failure" in x


def test_test_command_on_broken_file_exits_2(tmp_path):
    f = tmp_path / "x.rules"
    f.write_text('ruleset "x" version 1\nfields { a: text }\nscore s "S" max 10 { "c" +1 when b = "x" }\n')
    r = run("test", f)
    assert r.exit_code == 2
    assert "LR201" in r.output and "Traceback" not in r.output


def test_score_jsonl_shape(leads_file):
    r = run("score", EXAMPLE, "--leads", leads_file, "--as-of", "2026-11-01")
    assert r.exit_code == 0, r.output
    lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
    assert [l["id"] for l in lines] == ["L1", "L2", "L3"]
    one = lines[0]
    assert list(one) == ["id", "scores", "bands", "grade", "route", "queue", "sla", "disqualified",
                         "reasons", "ruleset", "ruleset_version", "rules_sha256", "as_of"]
    assert one["scores"] == {"profile": 80.0, "engagement": 45.52}
    assert (one["grade"], one["route"], one["queue"], one["sla"]) == ("A3", "sales", "standard", "1 day")
    mm = lines[1]
    assert mm["scores"] == {} and mm["bands"] == {} and mm["grade"] == "disqualified"
    assert mm["route"] == "suppress" and mm["queue"] is None and mm["disqualified"] == "fake or test lead"
    assert lines[2]["scores"]["profile"] == 20.0  # "1200" read as a number: 25 + 15 (Manager) - 20 (gmail)


def test_score_csv_and_explain(leads_file, tmp_path):
    out = tmp_path / "out.csv"
    r = run("score", EXAMPLE, "--leads", leads_file, "--as-of", "2026-11-01", "-o", out, "--explain")
    assert r.exit_code == 0
    rows = out.read_text().splitlines()
    assert rows[0] == ("id,profile_score,profile_band,engagement_score,engagement_band,grade,route,queue,sla,"
                       "disqualified,reasons,ruleset,ruleset_version,rules_sha256,as_of,criteria")
    assert rows[1].startswith("L1,80.0,A,45.52,3,A3,sales,standard,1 day,,")
    r = run("score", EXAMPLE, "--leads", leads_file, "--as-of", "2026-11-01", "--explain")
    first = json.loads(r.stdout.splitlines()[0])
    assert first["criteria"] == {"Seniority": 35, "Enterprise": 25, "Target industry": 20,
                                 "Demo request": 38.19, "Webinar": 7.33}


def test_score_bad_rows_fail_and_skip(tmp_path):
    p = tmp_path / "leads.jsonl"
    p.write_text('{"id": "a", "company_size": 10}\n{"id": "b", "company_size": "lots"}\n{broken\n{"id": "c"}\n')
    r = run("score", EXAMPLE, "--leads", p, "--as-of", "2026-11-01")
    assert r.exit_code == 2
    assert ":2:" in r.output and ":3:" in r.output and "Traceback" not in r.output
    rej = tmp_path / "rej.jsonl"
    r = run("score", EXAMPLE, "--leads", p, "--as-of", "2026-11-01", "--on-bad-row", "skip", "--rejects", rej)
    assert r.exit_code == 0
    assert [json.loads(l)["id"] for l in r.stdout.splitlines() if l.startswith("{")] == ["a", "c"]
    rejected = [json.loads(l) for l in rej.read_text().splitlines()]
    assert [x["line"] for x in rejected] == [2, 3]
    assert "read 4 · scored 2 · rejected 2" in r.stderr


def test_explain_lead_json_and_text():
    lead = {"id": "x", "title": "VP Marketing", "company_size": 5000, "industry": "Software",
            "email": "ana@bigco.com",
            "events": [{"type": "form_submit", "form": "demo-request", "at": "2026-10-30"}]}
    r = run("explain", EXAMPLE, "--lead", json.dumps(lead), "--as-of", "2026-11-01", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["grade"] == "A3" and d["scores"]["profile"] == 80.0
    demo = next(c for c in d["criteria"] if c["name"] == "Demo request")
    assert demo["fired"] and demo["events"][0]["age_days"] == 2 and demo["cap"] == 40
    t = run("explain", EXAMPLE, "--lead", json.dumps(lead), "--as-of", "2026-11-01")
    assert "Demo request" in t.output and "grade A3" in t.output


def test_explain_from_leads_file(leads_file):
    r = run("explain", EXAMPLE, "--leads", leads_file, "--id", "L2", "--as-of", "2026-11-01")
    assert r.exit_code == 0 and "disqualified" in r.output
    r = run("explain", EXAMPLE, "--leads", leads_file, "--id", "nope")
    assert r.exit_code == 2 and "no lead with id" in r.output


def test_bad_usage_exits_2():
    assert run("score", EXAMPLE).exit_code == 2
    assert run("explain", EXAMPLE, "--lead", "{not json").exit_code == 2
    assert run("score", EXAMPLE, "--leads", "x.jsonl", "--as-of", "2026-13-45").exit_code == 2


def test_help_summaries_match_the_commands_and_need_no_imports():
    """`leadrules --help` lists commands from cli.SUMMARIES without importing them; each line must stay
    equal to its command's own docstring."""
    import subprocess
    import sys

    import cli
    from click.utils import make_default_short_help

    for name, summary in cli.SUMMARIES.items():
        cmd = cli.main.get_command(None, name)
        assert make_default_short_help(cmd.help, 500) == make_default_short_help(summary, 500), name
    code = ("import sys, cli\nsys.argv = ['leadrules', '--help']\ntry:\n    cli.main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('runtime.commands.', 'pydantic', 'dsl.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert "calibrate" in out and "Print FILE compiled to Python or SQL." in out
