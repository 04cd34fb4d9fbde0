"""`leadrules docs`: the scoring sheet in words, its worked examples, its `rules_sha256`, and the
example in docs/ kept up to date."""
from __future__ import annotations

import hashlib
import re
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from dsl.formatter import format_text, rules_sha256

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"


def run(args, ok=(0,)):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code in ok, (r.exit_code, r.output)
    return r


@pytest.mark.parametrize("fmt,name", [("markdown", "acme-scoring-sheet.md"), ("html", "acme-scoring-sheet.html")])
def test_the_example_in_docs_is_up_to_date(fmt, name, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = run(["docs", "rulesets/acme.rules", "--format", fmt]).output
    assert out == (ROOT / "docs" / name).read_text(encoding="utf-8"), (
        f"docs/{name} is stale: regenerate it with `leadrules docs rulesets/acme.rules --format {fmt} "
        f"-o docs/{name}`")


def test_rules_sha256_is_the_hash_of_the_canonical_text():
    text = ACME.read_text(encoding="utf-8")
    h = rules_sha256(text, str(ACME))
    assert h == hashlib.sha256(format_text(text, str(ACME)).encode("utf-8")).hexdigest()
    # layout does not change it (fmt normalises it); a comment does (fmt keeps comments); so does meaning
    relaid = text.replace("+25  when company_size >= 1000", "+25 when company_size>=1000")
    assert relaid != text and rules_sha256(relaid) == h
    assert rules_sha256("# a new comment\n" + text) != h
    assert rules_sha256(text.replace("+25  when company_size >= 1000", "+26  when company_size >= 1000")) != h
    assert rules_sha256("this is not a rule file {") is None


def test_the_sheet_says_what_the_rules_say(monkeypatch):
    monkeypatch.chdir(ROOT)
    md = run(["docs", "rulesets/acme.rules"]).output
    assert "- as of the day the sheet is made (the test gives no date)" in md  # Mickey Mouse has no date
    assert "- as of 2026-11-01\n" in md
    dated = run(["docs", "rulesets/acme.rules", "--as-of", "2030-01-02"]).output
    assert "- as of 2030-01-02 (--as-of; the test gives no date)" in dated
    h = rules_sha256(ACME.read_text(encoding="utf-8"), "rulesets/acme.rules")
    assert md.startswith("# Scoring sheet: acme-b2b, version 4\n")
    assert h in md
    assert "| Enterprise | +25 points when `company_size >= 1000` |" in md
    assert "+40 points for each `form_submit where form = \"demo-request\"`; each one counts half as much after " \
           "30 days; at most 40 points in all" in md
    assert "an event counts half as much after 30 days, a quarter after 60 days" in md
    assert "| A1, A2, B1 | sales \"hot-leads\" | 1 hour |" in md
    assert "| account hot and A*, *1, *2 | sales \"abm\" | 4 hours |" in md
    assert "| competitor | `domain(email) in competitor_domains` |" in md
    assert "## Accounts (by domain(email))" in md
    # a worked example: the test, what came out, and that it is what the test expects
    assert "- comes out: profile 80, engagement 45.52 → grade A3 · account buying warm → sales \"standard\" within " \
           "1 day" in md
    assert md.count("**as expected**") == ACME.read_text(encoding="utf-8").count("\ntest \"") >= 15
    assert "## Sign-off" in md and "| Marketing |" in md and "| Sales |" in md


def test_a_failing_example_is_marked(tmp_path):
    f = tmp_path / "t.rules"
    f.write_text(ACME.read_text(encoding="utf-8").replace("expect grade A3", "expect grade B3")
                 .replace('"samples/leads.jsonl"', f'"{ROOT}/rulesets/samples/leads.jsonl"'), encoding="utf-8")
    md = run(["docs", f, "--as-of", "2026-11-01"]).output
    assert "— **NOT as expected**" in md and "(1 NOT as expected)" in md
    assert "expected grade B3" in md or "B3" in md


def test_errors_and_escaping(tmp_path):
    r = CliRunner().invoke(main, ["docs", str(tmp_path / "missing.rules")])
    assert r.exit_code == 2 and "no such rule file" in r.output
    bad = tmp_path / "bad.rules"
    bad.write_text('ruleset "x" version 1\nscore {\n', encoding="utf-8")
    r = CliRunner().invoke(main, ["docs", str(bad)])
    assert r.exit_code == 2 and "Traceback" not in r.output
    hostile = "<img src=x onerror=alert(1)>|`x`"
    f = tmp_path / "h.rules"
    f.write_text(f'''ruleset "{hostile}" version 1
fields {{
  industry: text
}}
disqualify "{hostile}" when industry = "{hostile}"
score fit "{hostile}" max 10 {{
  "{hostile}" +5 when industry = "{hostile}"
}}
''', encoding="utf-8")
    md = run(["docs", f]).output
    # rule text is shown as code spans (markdown shows their content literally); outside them, escaped
    outside = re.sub(r"(`+)(?!`).*?(?<!`)\1(?!`)", "", md.replace("\\`", ""))
    assert "<img" not in outside and "``industry = \"<img src=x onerror=alert(1)>" in md
    assert "&lt;img src=x onerror=alert(1)&gt;\\|" in md
    page = run(["docs", f, "--format", "html"]).output
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;|`x`" in page


def test_docs_is_a_command():
    out = run(["--help"]).output
    assert "docs" in out
    assert os.path.exists(ROOT / "runtime" / "commands" / "docs.py")
