"""One capability check (runtime/backends/capability.py): what generated Python or SQL cannot run is
named with its line, once, by every command; nothing falls back in silence."""
from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

import cli
from dsl.checker import check_text
from runtime.backends.capability import limits
from runtime.backends.closure import compile_checked
from runtime.backends.load import load_rules
from runtime.backends.pygen import FastEngine

RULES = textwrap.dedent('''\
    ruleset "cap" version 1
    fields {
      title: text
    }
    events {
      ev_a
      ev_b
    }
    score engagement "Interest" max 100 {
      "A with B"  +5 each ev_a where has ev_b
      "Plain"     +1 each ev_a
    }
    grade engagement {
      hot when >= 10
      cold otherwise
    }
    route {
      hot -> sales "team"
      otherwise -> nurture "drip"
    }
    ''')
LEADS = [
    {"id": "1", "title": "x", "events": [{"type": "ev_a", "at": "2026-10-01"}, {"type": "ev_b", "at": "2026-10-02"},
                                         {"type": "ev_a", "at": "2026-10-03"}]},
    {"id": "2", "title": "y", "events": [{"type": "ev_a", "at": "2026-10-01"}]},
]
NOTE = "c.rules:10: `has ev_b` inside `where` is not compiled to Python"


@pytest.fixture
def files(tmp_path):
    r = tmp_path / "c.rules"
    r.write_text(RULES, encoding="utf-8")
    leads = tmp_path / "leads.jsonl"
    leads.write_text("".join(json.dumps(x) + "\n" for x in LEADS), encoding="utf-8")
    return r, leads


def run(*args):
    return CliRunner().invoke(cli.main, [str(a) for a in args])


def test_one_function_names_the_construct_and_line_for_each_backend():
    lim = limits(check_text(RULES, "c.rules"))
    assert [(x.line, x.construct) for x in lim["python"]] == [(10, "`has ev_b` inside `where` is not compiled to Python")]
    assert [x.line for x in lim["sql"]] == [10] and "SQL" in lim["sql"][0].construct


def test_a_file_the_generator_takes_has_no_limits_and_runs_generated_code():
    ok = RULES.replace(" where has ev_b", "")
    assert limits(check_text(ok, "c.rules")) == {"python": [], "sql": []}


def test_score_says_once_that_the_closure_engine_scores_it(files):
    r, leads = files
    res = run("score", r, "--leads", leads, "--as-of", "2026-11-01")
    assert res.exit_code == 0, res.output
    assert res.stderr.count(NOTE) == 1 and "closure engine" in res.stderr
    got = [json.loads(line) for line in res.stdout.splitlines()]
    assert [x["scores"]["engagement"] for x in got] == [12.0, 1.0]  # 2 × 5 (ev_b is there) + 2, and 1
    rules = load_rules(str(r))
    assert not isinstance(rules.engine, FastEngine) and rules.engine.limits


def test_simulate_says_it_once(files):
    r, leads = files
    res = run("simulate", r, "--leads", leads, "--as-of", "2026-11-01")
    assert res.exit_code == 0, res.output
    assert res.stderr.count(NOTE) == 1


def test_no_note_when_the_generator_takes_the_file(files, tmp_path):
    r, leads = files
    r.write_text(RULES.replace(" where has ev_b", ""), encoding="utf-8")
    res = run("score", r, "--leads", leads, "--as-of", "2026-11-01")
    assert res.exit_code == 0 and "note:" not in res.stderr
    assert isinstance(load_rules(str(r)).engine, FastEngine)


def test_compile_names_the_construct(files):
    r, _leads = files
    for target in ("python", "sql"):
        res = run("compile", r, "--target", target)
        assert res.exit_code == 2, res.output
        assert "c.rules:10: `has ev_b` inside `where`" in res.stderr and "Traceback" not in res.output


def test_duckdb_refuses_up_front(files, tmp_path):
    pytest.importorskip("duckdb")
    r, leads = files
    out = tmp_path / "o.jsonl"
    res = run("score", r, "--leads", leads, "--as-of", "2026-11-01", "--engine", "duckdb", "-o", out)
    assert res.exit_code == 2
    assert "--engine duckdb cannot score this file" in res.stderr and "c.rules:10" in res.stderr
    assert not out.exists()  # refused before any output


def test_closure_and_generated_code_agree_where_both_run(files):
    ok = check_text(RULES.replace(" where has ev_b", ""), "c.rules")
    from runtime.backends.pygen import compile_fast
    from runtime.core.kernel import date_ordinal
    from runtime.core.model import Event, Lead

    asof = date_ordinal("2026-11-01")
    leads = [Lead(x["id"], {"title": x["title"]}, [Event(e["type"], date_ordinal(e["at"]), {}) for e in x["events"]])
             for x in LEADS]
    slow, fast = compile_checked(ok), compile_fast(ok)
    assert isinstance(fast, FastEngine)
    assert [slow.score(lead, asof) for lead in leads] == [fast.score(lead, asof) for lead in leads]
