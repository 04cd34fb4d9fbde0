"""runtime/analysis/diff.py (rule changes, the streaming aggregate, gates), runtime/report/diff.py (markdown
tables) and `leadrules diff` end to end: the "open the funnel" change on the bundled example, the git
form, gates and exit codes. Plus the CI recipe files (workflow, pre-commit hooks) parse and say what
docs/ci.md says they do."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from dsl.parser import parse
from runtime.analysis.diff import KINDS, DiffAggregator, Views, rule_changes
from runtime.core.kernel import date_ordinal
from runtime.core.model import Event, Lead
from tests.helpers import HEADER, engine

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"
SAMPLE = ROOT / "rulesets" / "samples" / "leads.jsonl"
ASOF = "2026-11-01"


def invoke(*args, cwd=None):
    return CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)


def as_json(res) -> dict:
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.stdout)


def line_of(text: str, needle: str) -> int:
    hits = [i for i, ln in enumerate(text.splitlines(), 1) if needle in ln]
    assert len(hits) == 1, (needle, hits)
    return hits[0]


@pytest.fixture(scope="module")
def open_funnel(tmp_path_factory) -> Path:
    """acme with the A band opened from 80 down to 60, as a copy somewhere else."""
    p = tmp_path_factory.mktemp("open") / "open.rules"
    text = ACME.read_text()
    assert text.count("A when >= 80") == 1
    p.write_text(text.replace("A when >= 80", "A when >= 60"))
    return p


# ---- identical rules --------------------------------------------------------------------------


def test_identical_rules_change_nothing_and_exit_0():
    res = invoke("diff", ACME, ACME, "--format", "json", "--fail-on", "grade,route", "--max-changed", "0")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["rule_changes"] == []
    assert doc["leads"]["scored"] == 3000
    ch = doc["changed"]
    assert (ch["changed"], ch["grade"], ch["route"], ch["queue"], ch["score"]) == (0, 0, 0, 0, 0)
    assert doc["grade_transitions"] == [] and doc["route_transitions"] == []
    assert doc["movers"] == {"limit": 20, "total": 0, "shown": 0, "leads": []}
    assert doc["passed"] is True and all(g["passed"] for g in doc["gates"])
    m = doc["grade_matrix"]  # everything on the diagonal
    assert m["old"] == m["new"]
    assert sum(m["counts"][i][i] for i in range(len(m["old"]))) == 3000
    assert "no lead changes grade, route or queue" in doc["summary"]


# ---- the "open the funnel" change -------------------------------------------------------------


def _profile_60_to_80() -> set[str]:
    """Independently: the leads whose profile score lies in [60, 80) under the unchanged rules."""
    from runtime.commands.options import schema_of
    from runtime.io.readers import LeadReader
    from runtime.backends.load import load_rules

    rules = load_rules(str(ACME))
    asof = date_ordinal(ASOF)
    out = set()
    for lead in LeadReader(str(SAMPLE), schema_of(rules)):
        r = rules.engine.score(lead, asof)
        if r.disqualified is None and 60 <= r.scores["profile"] < 80:
            out.add(r.id)
    return out


def test_open_the_funnel_moves_exactly_the_leads_between_60_and_80(open_funnel):
    expected = _profile_60_to_80()
    assert 100 < len(expected) < 3000  # the sample has such leads, and not only those
    # no --leads: NEW's simulation block, its path tried beside NEW and then beside OLD
    res = invoke("diff", ACME, open_funnel, "--format", "json", "--limit", "5000")
    doc = as_json(res)
    assert res.exit_code == 0
    assert doc["inputs"][0]["simulation"] == "bundled sample" and doc["inputs"][0]["as_of"] == ASOF
    ch = doc["changed"]
    assert ch["grade"] == len(expected) == ch["grade_up"] == ch["changed"]
    assert ch["grade_down"] == ch["grade_mixed"] == ch["score"] == 0
    moved = {m["id"] for m in doc["movers"]["leads"]}
    assert moved == expected and doc["movers"]["total"] == len(expected)
    for t in doc["grade_transitions"]:  # B<n> -> A<n>, engagement untouched
        assert t["old"][0] == "B" and t["new"] == "A" + t["old"][1:] and t["direction"] == "up"
    assert sum(t["count"] for t in doc["grade_transitions"]) == len(expected)
    for m in doc["movers"]["leads"]:
        assert 60 <= m["old"]["scores"]["profile"] < 80 and m["score_change"] == 0 and m["criteria"] == []
    [c] = doc["rule_changes"]
    assert (c["kind"], c["what"], c["old"], c["new"]) == ("band_moved", "band A of profile", ">= 80", ">= 60")
    assert c["line"] == line_of(open_funnel.read_text(), "A when >= 60")
    assert doc["summary"].startswith(f"3,000 leads · {len(expected):,} change grade ({len(expected):,} up, 0 down)")
    # the route side adds up: every lead that changed route or queue changed grade
    assert sum(r["old"] for r in doc["routes"]) == sum(r["new"] for r in doc["routes"]) == 3000
    assert sum(t["count"] for t in doc["route_transitions"]) <= len(expected)


def test_open_the_funnel_markdown_and_text(open_funnel):
    expected = len(_profile_60_to_80())
    md = invoke("diff", ACME, open_funnel, "--leads", SAMPLE, "--as-of", ASOF, "--format", "markdown")
    assert md.exit_code == 0
    first = md.stdout.splitlines()[0]
    assert first.startswith("**leadrules diff** · 3,000 leads · ") and f"{expected:,} change grade" in first
    check_markdown(md.stdout)
    assert "| band moved | band A of profile |" in md.stdout and "`>= 80` | `>= 60`" in md.stdout
    txt = invoke("diff", ACME, open_funnel, "--leads", SAMPLE, "--as-of", ASOF)
    assert txt.exit_code == 0
    assert f"{expected:,} change grade" in txt.stdout.splitlines()[0]
    assert "Grade changes" in txt.stdout and "Leads that moved: 20 of" in txt.stdout


# ---- markdown is valid ------------------------------------------------------------------------


def _cells(row: str) -> list[str]:
    assert row.startswith("|") and row.endswith("|"), row
    return re.split(r"(?<!\\)\|", row[1:-1])


def check_markdown(md: str) -> int:
    """Every table: a header, a separator row with as many columns, rows with as many cells; every
    <details> closed and its markdown set apart by blank lines. Returns the number of tables."""
    lines = md.splitlines()
    tables = 0
    i = 0
    while i < len(lines):
        if lines[i].startswith("|"):
            assert i == 0 or lines[i - 1] == "", f"no blank line before the table at line {i + 1}"
            head = _cells(lines[i])
            assert i + 1 < len(lines), "a table without a separator row"
            sep = lines[i + 1]
            assert re.fullmatch(r"\|(\s*:?-{3,}:?\s*\|)+", sep), sep
            assert len(_cells(sep)) == len(head)
            j = i + 2
            while j < len(lines) and lines[j].startswith("|"):
                assert len(_cells(lines[j])) == len(head), (lines[i], lines[j])
                j += 1
            tables += 1
            i = j
            continue
        i += 1
    assert md.count("<details>") == md.count("</details>")
    for k, ln in enumerate(lines):
        if ln.startswith("<details>"):
            assert ln.endswith("</summary>") and lines[k + 1] == ""
    return tables


def test_markdown_tables_stay_tables_with_pipes_and_html_in_names(tmp_path):
    old = tmp_path / "old.rules"
    new = tmp_path / "new.rules"
    base = SMALL.replace('"Big" +30', '"Big|Co <b>" +30')
    old.write_text(HEADER + base)
    new.write_text(HEADER + base.replace("A when >= 80", "A when >= 50").replace('+50 when title', '+60 when title')
                   .replace("+30 when company_size", "+35 when company_size")
                   .replace('B -> sales "hot"', 'B -> sales "warm|queue"'))
    leads = write_leads(tmp_path, [{"id": "a|b", "title": "VP", "company_size": 10},
                                   {"id": "<script>", "title": "VP", "company_size": 5000},
                                   {"id": "c", "company_size": 5000}])
    res = invoke("diff", old, new, "--leads", leads, "--as-of", ASOF, "--format", "markdown")
    assert res.exit_code == 0, res.output
    md = res.stdout
    assert check_markdown(md) >= 5
    assert "a\\|b" in md and "&lt;script&gt;" in md and "<script>" not in md
    assert "Big\\|Co &lt;b&gt;" in md and "<b>" not in md  # criterion names too
    assert md.startswith("**leadrules diff** · 3 leads · ")


# ---- every kind of rule change is named, with its line in NEW ---------------------------------

BASE = HEADER + """
list good = ["Software", "Healthcare"]
list bad = ["rival.com"]
disqualify "test lead" when email ends with "@example.com"
disqualify "competitor" when domain(email) in bad

score profile "Who" max 100 {
  "Seniority" first of {
    +35 when title contains word "VP"
    +15 when title contains word "Manager"
  }
  "Big"      +30 when company_size >= 1000
  "Industry" +20 when industry in good
}

score engagement "Interest" max 100 {
  decay half-life 30 days
  "Clicks"  +3  each email_click max 15
  "Webinar" +15 each webinar_attended within 90 days max 15
}

grade profile {
  A when >= 80
  B when >= 50
  C otherwise
}

grade engagement {
  1 when >= 50
  2 otherwise
}

route {
  disqualified -> suppress
  A1, A2       -> sales "hot" within 1 hour
  B1           -> sales "standard" within 1 day
  otherwise    -> nurture "track"
}
"""


def _edit(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# (kind, the edit as (old text, new text), a text on the line the change must point at in NEW or None
# when the change is a removal and points at OLD's line instead)
EDITS = [
    ("ruleset_changed", ('ruleset "t" version 1', 'ruleset "t" version 2'), 'ruleset "t" version 2'),
    ("field_added", ("  opted_out: bool\n", "  opted_out: bool\n  country: text\n"), "country: text"),
    ("field_removed", ("  opted_out: bool\n", ""), None),
    ("field_type_changed", ("  created_at: date", "  created_at: text"), "created_at: text"),
    ("event_added", ("  unsubscribe\n", "  unsubscribe\n  meeting_booked\n"), "meeting_booked"),
    ("event_removed", ("  unsubscribe\n", ""), None),
    ("event_changed", ("webinar_attended(webinar: text)", "webinar_attended(webinar: text, live: bool)"),
     "webinar_attended("),
    ("column_changed", ("  created_at: date", '  created_at: date from "Create Date"'), "created_at: date from"),
    ("list_added", ('list bad = ["rival.com"]', 'list bad = ["rival.com"]\nlist hot = ["x"]'), "list hot"),
    ("list_removed", ('list bad = ["rival.com"]\n', 'list bad = ["rival.com"]\n'), None),  # OLD gets a spare
    ("list_changed", ('list good = ["Software", "Healthcare"]', 'list good = ["Software"]'), "list good"),
    ("disqualify_added", ('disqualify "competitor"', 'disqualify "no email" when email is missing\ndisqualify "competitor"'),
     'disqualify "no email"'),
    ("disqualify_removed", ('disqualify "test lead" when email ends with "@example.com"\n', ""), None),
    ("disqualify_changed", ('ends with "@example.com"', 'ends with "@test.com"'), 'disqualify "test lead"'),
    ("disqualify_moved", ('disqualify "test lead" when email ends with "@example.com"\n'
                          'disqualify "competitor" when domain(email) in bad\n',
                          'disqualify "competitor" when domain(email) in bad\n'
                          'disqualify "test lead" when email ends with "@example.com"\n'), None),
    ("dimension_added", ("grade profile {", 'score fit "Fit" max 10 {\n  "X" +5 when industry = "a"\n}\n\ngrade profile {'),
     'score fit "Fit"'),
    ("dimension_changed", ('score profile "Who" max 100', 'score profile "Who" max 120'), 'score profile "Who"'),
    ("decay_changed", ("decay half-life 30 days", "decay half-life 45 days"), "decay half-life 45 days"),
    ("reset_changed", ("decay half-life 30 days", "decay half-life 30 days\n  reset on unsubscribe"),
     "reset on unsubscribe"),
    ("criterion_added", ('  "Industry" +20', '  "Mid" +10 when company_size between 200 and 999\n  "Industry" +20'),
     '"Mid" +10'),
    ("criterion_removed", ('  "Industry" +20 when industry in good\n', ""), None),
    ("criterion_moved", ('  "Industry" +20 when industry in good\n', ""), None),
    ("points_changed", ('"Big"      +30', '"Big"      +40'), '"Big"      +40'),
    ("condition_changed", ("company_size >= 1000", "company_size >= 500"), '"Big"'),
    ("cap_changed", ("each email_click max 15", "each email_click max 20"), '"Clicks"'),
    ("grade_added", None, None),
    ("grade_removed", None, None),
    ("band_added", ("  B when >= 50\n", "  B when >= 50\n  BB when >= 40\n"), "BB when >= 40"),
    ("band_removed", ("  B when >= 50\n", "  B when >= 50\n"), None),  # OLD gets a spare
    ("band_moved", ("  A when >= 80", "  A when >= 70"), "A when >= 70"),
    ("route_added", ('  otherwise    -> nurture "track"', '  C1           -> qualify "sdr"\n  otherwise    -> nurture "track"'),
     'C1           -> qualify'),
    ("route_removed", ('  B1           -> sales "standard" within 1 day\n', ""), None),
    ("route_changed", ('sales "standard" within 1 day', 'sales "standard" within 4 hours'), "B1           ->"),
    ("route_patterns_changed", ("  A1, A2       ->", "  A1, A2, B1   ->"), "A1, A2, B1"),
    ("route_moved", ('  A1, A2       -> sales "hot" within 1 hour\n  B1           -> sales "standard" within 1 day\n',
                     '  B1           -> sales "standard" within 1 day\n  A1, A2       -> sales "hot" within 1 hour\n'),
     None),
]


def _changes(old_text: str, new_text: str):
    from dsl.checker import check

    for t in (old_text, new_text):
        c = check(parse(t, "x.rules"))
        assert c.ok, [str(d) for d in c.diagnostics if d.is_error]
    return rule_changes(parse(old_text, "old.rules"), parse(new_text, "new.rules"))


@pytest.mark.parametrize("kind,edit,where", [e for e in EDITS if e[1] is not None], ids=lambda x: str(x)[:30])
def test_each_rule_change_is_named_with_its_line(kind, edit, where):
    old_text = BASE
    new_text = _edit(BASE, *edit)
    if kind == "list_removed":
        old_text = _edit(BASE, 'list bad = ["rival.com"]', 'list bad = ["rival.com"]\nlist spare = ["y"]')
    if kind == "criterion_moved":
        new_text = _edit(new_text, '  "Clicks"  +3', '  "Industry" +20 when industry in good\n  "Clicks"  +3')
    if kind == "field_removed":
        old_text, new_text = _edit(BASE, "  opted_out: bool\n", "  opted_out: bool\n  spare: text\n"), BASE
    if kind == "band_removed":
        old_text = _edit(BASE, "  B when >= 50\n", "  B when >= 50\n  BB when >= 40\n")
    if kind == "event_removed":
        old_text, new_text = _edit(BASE, "  unsubscribe\n", "  unsubscribe\n  spare_event\n"), BASE
    changes = _changes(old_text, new_text)
    kinds = [c.kind for c in changes]
    assert kind in kinds, changes
    c = changes[kinds.index(kind)]
    assert c.label == KINDS[kind]
    if where is not None:
        assert c.line == line_of(new_text, where), c
    else:
        assert c.old_line is not None or c.line is not None
    if kind.endswith("_removed"):
        assert c.line is None and c.old_line is not None and c.old is not None and c.new is None
    if kind.endswith("_added"):
        assert c.old_line is None and c.new is not None


def test_grade_blocks_added_and_removed_and_dimensions_removed():
    one = BASE.replace("grade engagement {\n  1 when >= 50\n  2 otherwise\n}\n", "").replace(
        "A1, A2       ->", "A            ->").replace("B1           ->", "B            ->")
    kinds = [c.kind for c in _changes(BASE, one)]
    assert "grade_removed" in kinds and "route_patterns_changed" in kinds
    kinds = [c.kind for c in _changes(one, BASE)]
    assert "grade_added" in kinds
    no_eng = one.replace(BASE[BASE.index('score engagement'):BASE.index("grade profile")], "")
    ch = _changes(one, no_eng)
    assert [c.kind for c in ch] == ["dimension_removed"]  # not criterion by criterion
    assert ch[0].detail == "2 criteria"


ACCOUNTS = """
accounts by domain(email) {
  score buying "Buying group" max 100 {
    "Decision maker" +40 when has lead where title contains any ["VP", "Chief"]
  }
  grade buying {
    hot when >= 40
    cold otherwise
  }
}
"""


def test_account_scoring_changes_are_named():
    with_acc = _edit(BASE, "route {", ACCOUNTS.lstrip() + "\nroute {")
    ch = _changes(BASE, with_acc)
    assert [c.kind for c in ch] == ["accounts_changed"] and ch[0].line == line_of(with_acc, "accounts by")
    assert ch[0].detail == "account scoring added"
    assert [c.kind for c in _changes(with_acc, BASE)] == ["accounts_changed"]
    # inside the block: the same names as for leads, said of the account's dimension
    changed = with_acc.replace("hot when >= 40", "hot when >= 30").replace('"Decision maker" +40', '"Decision maker" +50')
    ch = _changes(with_acc, changed)
    assert [(c.kind, c.what) for c in ch] == [("points_changed", 'criterion "Decision maker" (account buying)'),
                                              ("band_moved", "band hot of account buying")]
    assert ch[1].line == line_of(changed, "hot when >= 30")
    rekeyed = with_acc.replace("accounts by domain(email)", "accounts by industry")
    ch = _changes(with_acc, rekeyed)
    assert [(c.kind, c.old, c.new) for c in ch] == [("accounts_changed", "by domain(email)", "by industry")]


def test_every_kind_is_exercised():
    assert {k for k, *_ in EDITS} | {"dimension_removed", "accounts_changed"} == set(KINDS)


def test_several_changes_at_once_and_no_false_alarms():
    new = _edit(BASE, '"Big"      +30 when company_size >= 1000', '"Big"      +40 when company_size >= 2000')
    new = _edit(new, "each email_click max 15", "each email_click no decay max 15")
    ch = _changes(BASE, new)
    assert sorted(c.kind for c in ch) == ["condition_changed", "decay_changed", "points_changed"]
    big = [c for c in ch if c.name == "Big"]
    assert {(c.old, c.new) for c in big} == {("+30", "+40"), ("company_size >= 1000", "company_size >= 2000")}
    # layout and comments are not changes
    relaid = BASE.replace('"Big"      +30', '# a comment\n  "Big" +30').replace("  A when >= 80", "  A when >= 80  # top")
    assert _changes(BASE, relaid) == []


# ---- gates ------------------------------------------------------------------------------------

SMALL = """
score profile "P" max 100 {
  "Senior" +50 when title contains word "VP"
  "Big" +30 when company_size >= 1000
}
grade profile {
  A when >= 80
  B when >= 50
  C otherwise
}
route {
  A -> sales "hot"
  B -> sales "hot"
  otherwise -> nurture "track"
}
"""

SMALL_LEADS = [{"id": "vp-big", "title": "VP", "company_size": 5000},   # 80: A
               {"id": "vp", "title": "VP", "company_size": 10},          # 50: B
               {"id": "big", "company_size": 5000},                      # 30: C
               {"id": "none"}]                                           # 0: C


def write_leads(tmp_path: Path, rows) -> Path:
    p = tmp_path / "leads.jsonl"
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return p


@pytest.fixture
def small(tmp_path):
    old = tmp_path / "old.rules"
    old.write_text(HEADER + SMALL)
    grade_only = tmp_path / "grade_only.rules"   # vp: B -> A, still sales "hot"
    grade_only.write_text(HEADER + SMALL.replace("A when >= 80", "A when >= 50").replace("B when >= 50", "B when >= 40"))
    route_only = tmp_path / "route_only.rules"   # vp: sales "hot" -> sales "warm", still B
    route_only.write_text(HEADER + SMALL.replace('B -> sales "hot"', 'B -> sales "warm"'))
    return old, grade_only, route_only, write_leads(tmp_path, SMALL_LEADS)


def _gate(small_, new, *opts):
    old, *_, leads = small_
    return invoke("diff", old, new, "--leads", leads, "--as-of", ASOF, "--format", "json", *opts)


def test_gate_fail_on_grade(small):
    _, grade_only, route_only, _ = small
    r = _gate(small, grade_only, "--fail-on", "grade")
    assert r.exit_code == 1 and as_json(r)["gates"][0]["passed"] is False and as_json(r)["gates"][0]["value"] == 1
    assert "FAIL: --fail-on grade" in r.stderr
    assert _gate(small, route_only, "--fail-on", "grade").exit_code == 0


def test_gate_fail_on_route(small):
    _, grade_only, route_only, _ = small
    r = _gate(small, route_only, "--fail-on", "route")
    assert r.exit_code == 1 and as_json(r)["changed"]["queue"] == 1 and as_json(r)["changed"]["grade"] == 0
    assert _gate(small, grade_only, "--fail-on", "route").exit_code == 0
    # repeatable and comma lists
    assert _gate(small, grade_only, "--fail-on", "route", "--fail-on", "grade").exit_code == 1
    assert _gate(small, route_only, "--fail-on", "grade,route").exit_code == 1
    doc = as_json(_gate(small, route_only, "--fail-on", "grade, route"))
    assert [(g["gate"], g["passed"]) for g in doc["gates"]] == [("grade", True), ("route", False)]


def test_gate_max_changed(small):
    _, grade_only, _, _ = small  # 1 of 4 leads changes: 25%
    for pct, code in (("25", 0), ("25%", 0), ("30", 0), ("24.9", 1), ("0", 1), ("10%", 1)):
        r = _gate(small, grade_only, "--max-changed", pct)
        assert r.exit_code == code, (pct, r.output)
        g = as_json(r)["gates"][0]
        assert g["gate"] == "max-changed" and g["value"] == 25.0 and g["passed"] is (code == 0)


def test_bad_gate_options_exit_2(small):
    _, grade_only, _, _ = small
    for opts in (("--fail-on", "size"), ("--max-changed", "lots"), ("--max-changed", "150"), ("--limit", "-1")):
        r = _gate(small, grade_only, *opts)
        assert r.exit_code == 2 and "Traceback" not in r.output, opts


def test_movers_limit_and_order(small, tmp_path):
    old, *_ = small
    new = tmp_path / "more.rules"
    new.write_text(HEADER + SMALL.replace('"Big" +30', '"Big" +45').replace('"Senior" +50', '"Senior" +55'))
    leads = write_leads(tmp_path, SMALL_LEADS)
    doc = as_json(invoke("diff", old, new, "--leads", leads, "--as-of", ASOF, "--format", "json", "--limit", "2"))
    mv = doc["movers"]
    assert (mv["limit"], mv["total"], mv["shown"]) == (2, 3, 2)
    # vp-big 80 -> 100 (+20, still A), vp 50 -> 55 (+5, B), big 30 -> 45 (+15, C): all score only
    assert [m["id"] for m in mv["leads"]] == ["vp-big", "big"]
    assert mv["leads"][0]["criteria"] == [
        {"dimension": "profile", "name": "Senior", "old": 50, "new": 55, "change": 5},
        {"dimension": "profile", "name": "Big", "old": 30, "new": 45, "change": 15}]
    assert mv["leads"][0]["score_change"] == 20 and mv["leads"][0]["changed"] == []


# ---- the git form -----------------------------------------------------------------------------


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false",
                    *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_revision_form(tmp_path, monkeypatch):
    repo = tmp_path / "repo"
    (repo / "samples").mkdir(parents=True)
    shutil.copy(SAMPLE, repo / "samples" / "leads.jsonl")
    (repo / "rules.rules").write_text(ACME.read_text())
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "rules")
    (repo / "rules.rules").write_text(ACME.read_text().replace("A when >= 80", "A when >= 60"))
    monkeypatch.chdir(repo)
    expected = len(_profile_60_to_80())
    doc = as_json(invoke("diff", "HEAD:rules.rules", "rules.rules", "--format", "json"))
    assert doc["old"]["rules"] == "HEAD:rules.rules" and doc["changed"]["grade"] == expected
    assert [c["kind"] for c in doc["rule_changes"]] == ["band_moved"]
    # the other way round: NEW from git, and its simulation leads found relative to the working tree
    doc = as_json(invoke("diff", "rules.rules", "HEAD:rules.rules", "--format", "json"))
    assert doc["changed"]["grade_down"] == expected
    # a revision that does not exist, and a path that does not exist at that revision
    r = invoke("diff", "nosuchrev:rules.rules", "rules.rules")
    assert r.exit_code == 2 and "nosuchrev" in r.stderr and "Traceback" not in r.output
    assert "hint:" in r.stderr
    r = invoke("diff", "HEAD:missing.rules", "rules.rules")
    assert r.exit_code == 2 and "missing.rules" in r.stderr
    r = invoke("diff", "no-such-file.rules", "rules.rules")
    assert r.exit_code == 2 and "no such rule file" in r.stderr


def test_rule_errors_and_missing_inputs_exit_2(tmp_path, open_funnel):
    broken = tmp_path / "broken.rules"
    broken.write_text(ACME.read_text().replace("company_size >= 1000", "company_sise >= 1000"))
    r = invoke("diff", ACME, broken)
    assert r.exit_code == 2 and "LR201" in r.stderr and "company_sise" in r.stderr and "NEW" in r.stderr
    r = invoke("diff", ACME, open_funnel, "--leads", tmp_path / "nope.jsonl")
    assert r.exit_code == 2 and "nope.jsonl" in r.stderr
    bare = tmp_path / "bare.rules"
    bare.write_text(HEADER + SMALL)
    r = invoke("diff", bare, bare)
    assert r.exit_code == 2 and "simulation" in r.stderr


def test_bad_rows_fail_or_skip(tmp_path, small):
    old, grade_only, _, _ = small
    leads = write_leads(tmp_path, SMALL_LEADS + [{"id": "bad", "company_size": "lots"}])
    r = invoke("diff", old, grade_only, "--leads", leads, "--as-of", ASOF)
    assert r.exit_code == 2 and '"lots"' in r.stderr
    rej = tmp_path / "rejects.jsonl"
    doc = as_json(invoke("diff", old, grade_only, "--leads", leads, "--as-of", ASOF, "--format", "json",
                         "--on-bad-row", "skip", "--rejects", rej))
    assert doc["leads"] == {"read": 5, "scored": 4, "rejected": 1, "numbered": 0}
    assert json.loads(rej.read_text())["line"] == 5


# ---- reading once for two schemas -------------------------------------------------------------


def test_views_give_each_version_its_own_fields_and_events():
    from dsl.checker import check

    old = check(parse(HEADER.replace("company_size: number", "company_size: text") + """
score s "S" max 100 {
  "Active" +10 when has email_open
  "Busy" +20 when count event >= 2
  "Text" +5 when company_size contains "00"
}
""", "o.rules"))
    new = check(parse(HEADER.replace("  unsubscribe\n", "  unsubscribe\n  meeting(kind: text)\n") + """
score s "S" max 100 {
  "Active" +10 when has email_open
  "Busy" +20 when count event >= 2
  "Big" +5 when company_size >= 1000
}
""", "n.rules"))
    v = Views(old, new)
    assert v.schema.fields["company_size"] == "number" and "meeting" in v.schema.events
    asof = date_ordinal(ASOF)
    lead = Lead("L1", {"company_size": 1200}, [Event("meeting", asof, {"kind": "demo"}),
                                               Event("email_open", asof, {})])
    o, n_ = v.old(lead), v.new(lead)
    assert o.fields["company_size"] == "1200" and [e.type for e in o.events] == ["email_open"]
    assert n_.fields["company_size"] == 1200 and len(n_.events) == 2
    from runtime.backends.closure import compile_checked

    ro = compile_checked(old).score(o, asof)
    rn = compile_checked(new).score(n_, asof)
    assert ro.scores["s"] == 15 and rn.scores["s"] == 35  # OLD never heard of "meeting"


# ---- the aggregate is streaming: bounded movers, same as sorting everything --------------------

AGG_RULES = """
score profile "P" max 100 {
  "Senior" +50 when title contains word "VP"
  "Big" +30 when company_size >= 1000
  "Clicks" +7 each email_click max 35
}
grade profile {
  A when >= 80
  B when >= 50
  C otherwise
}
route {
  A -> sales "hot"
  otherwise -> nurture "track"
}
"""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 3000), st.integers(0, 8)), min_size=0, max_size=60),
       st.integers(0, 7))
def test_movers_heap_equals_sorting_everything(rows, limit):
    old = engine(AGG_RULES, header=True)
    new = engine(AGG_RULES.replace("+30 when", "+35 when").replace("+7 each", "+9 each")
                 .replace("A when >= 80", "A when >= 70"), header=True)
    asof = date_ordinal(ASOF)
    agg = DiffAggregator(old, new, limit)
    every = []
    for i, (vp, size, clicks) in enumerate(rows):
        lead = Lead(f"L{i}", {"title": "VP" if vp else "Analyst", "company_size": size},
                    [Event("email_click", asof - k, {}) for k in range(clicks)])
        o, r = old.score(lead, asof), new.score(lead, asof)
        agg.add(o, r)
        changed = o.grade != r.grade or o.route != r.route or o.queue != r.queue
        if changed or o.scores != r.scores:
            every.append(((1 if changed else 0, abs(round(r.total() - o.total(), 2)), -i), lead.id))
        assert len(agg._heap) <= limit
    rep = agg.report()
    every.sort(reverse=True)
    assert [m["id"] for m in rep["movers"]["leads"]] == [lid for _, lid in every[:limit]]
    assert rep["movers"]["total"] == len(every)
    assert sum(sum(r) for r in rep["grade_matrix"]["counts"]) == len(rows)


# ---- the CI recipe ----------------------------------------------------------------------------


def test_pre_commit_hooks_expose_lint_test_and_fmt_check():
    yaml = pytest.importorskip("yaml")
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    entries = {h["id"]: h["entry"] for h in hooks}
    assert entries["leadrules-lint"] == "leadrules lint"
    assert entries["leadrules-test"] == "leadrules test"
    assert entries["leadrules-fmt"] == "leadrules fmt --check"
    for h in hooks:
        assert h["language"] == "python" and re.search(h["files"], "rulesets/acme.rules")
        assert not re.search(h["files"], "README.md")


def test_github_workflow_runs_lint_test_simulate_and_diff():
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
    on = wf.get("on", wf.get(True))  # YAML 1.1 reads a bare `on` as true
    assert "rulesets/**" in on["pull_request"]["paths"]
    script = "\n".join(s.get("run", "") for job in wf["jobs"].values() for s in job["steps"])
    for cmd in ("leadrules lint", "leadrules test", "leadrules simulate", "leadrules diff"):
        assert cmd in script
    assert "GITHUB_STEP_SUMMARY" in script and "--format markdown" in script
    assert "github.base_ref" in (ROOT / "examples" / "github-workflow.yml").read_text()


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("bash") is None, reason="needs git and bash")
def test_github_workflow_diff_step_runs(tmp_path):
    """The workflow's diff step, run as GitHub would (bash -e) in a repository with a base branch."""
    yaml = pytest.importorskip("yaml")
    wf = yaml.safe_load((ROOT / "examples" / "github-workflow.yml").read_text())
    [step] = [s for job in wf["jobs"].values() for s in job["steps"] if "leadrules diff" in s.get("run", "")]
    repo = tmp_path / "repo"
    (repo / "rulesets" / "samples").mkdir(parents=True)
    shutil.copy(SAMPLE, repo / "rulesets" / "samples" / "leads.jsonl")
    (repo / "rulesets" / "acme.rules").write_text(ACME.read_text())
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "base")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    (repo / "rulesets" / "acme.rules").write_text(ACME.read_text().replace("A when >= 80", "A when >= 60"))
    (repo / "rulesets" / "other.rules").write_text(ACME.read_text())
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "open the funnel")
    summary = tmp_path / "summary.md"
    env = {**__import__("os").environ, "BASE": "origin/main", "MAX_CHANGED": "", "GITHUB_STEP_SUMMARY": str(summary)}
    r = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    md = summary.read_text()
    assert md.startswith("**leadrules diff** · 3,000 leads · ") and "band A of profile" in md
    assert "`rulesets/other.rules` is a new rule file" in md
    check_markdown(md.split("**leadrules diff** · `rulesets/other.rules`")[0])
    env["MAX_CHANGED"] = "1"  # the gate fails the step, and the report is still written
    summary.write_text("")
    r = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=repo, env=env, capture_output=True, text=True)
    assert r.returncode == 1 and "FAIL: --max-changed" in r.stderr and "❌ FAIL" in summary.read_text()


# ---- accounts: the same routes as simulate, from a file or from stdin --------------------------


def test_routes_agree_with_simulate_and_stdin_agrees_with_file(open_funnel):
    doc = as_json(invoke("diff", ACME, open_funnel, "--leads", SAMPLE, "--as-of", ASOF, "--format", "json"))
    for side, rules in (("old", ACME), ("new", open_funnel)):
        sim = json.loads(invoke("simulate", rules, "--leads", SAMPLE, "--as-of", ASOF, "--format", "json").stdout)
        want = {(q["route"], q["queue"]): q["count"] for q in sim["runs"][0]["queues"]}
        got = {(r["route"], r["queue"]): r[side] for r in doc["routes"] if r[side]}
        assert got == want, side
    piped = CliRunner().invoke(cli.main, ["diff", str(ACME), str(open_funnel), "--leads", "-", "--as-of", ASOF,
                                          "--format", "json"], input=SAMPLE.read_text())
    assert piped.exit_code == 0, piped.output
    other = json.loads(piped.stdout)
    for k in ("changed", "grade_matrix", "route_transitions", "routes", "movers", "rule_changes"):
        assert other[k] == doc[k], k


def test_a_band_opened_down_to_the_next_ones_threshold_is_a_warning_not_an_error():
    """dsl/checker.py: a tie shadows the band below (LR306 warning); a band above its elder is LR302."""
    from dsl.checker import check

    c = check(parse(ACME.read_text().replace("A when >= 80", "A when >= 60"), "open.rules"))
    assert c.ok and [(d.code, d.line) for d in c.diagnostics if d.code == "LR306"] == \
        [("LR306", line_of(ACME.read_text(), "B when >= 60"))]
    c = check(parse(ACME.read_text().replace("A when >= 80", "A when >= 50"), "bad.rules"))
    assert not c.ok and [d.code for d in c.errors] == ["LR302"]


# ---- engines ------------------------------------------------------------------------------------


def test_duckdb_engine_gives_the_same_diff_as_python(open_funnel):
    pytest.importorskip("duckdb")
    args = ("diff", ACME, open_funnel, "--leads", SAMPLE, "--as-of", ASOF, "--format", "json")
    py = as_json(invoke(*args))
    duck = as_json(invoke(*args, "--engine", "duckdb"))
    for key in ("changed", "grade_transitions", "route_transitions", "grade_matrix", "rule_changes", "movers"):
        assert duck[key] == py[key], key
    assert py["changed"]["grade"] == 652
