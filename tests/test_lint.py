"""Lint (dsl/lint.py, `leadrules lint`): every code, suppression, output formats, exit codes.

The table of examples is docs/lint.md itself: for every code in CODES, its section's *bad* example must
trigger the code (with the registry's severity) and its *fixed* example must not (and must compile), so
a new code without a documented, tested example fails here, and the docs cannot drift from the tool.
Properties check that lint's proofs are sound: a condition it calls impossible never holds for any lead
the engine scores, and a condition it says implies another never holds without it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cli import main
from dsl import nodes as n
from dsl.checker import check, check_text
from dsl.diagnostics import CODES, Diagnostic
from dsl.lint import Implies, Impossible, ignore_comments, lint, lint_text, suppress
from dsl.parser import parse
from runtime.report import diagnostics as render
from runtime.report import sarif
from tests.test_formatter import rendered  # rule files generated from the grammar's constructs

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "lint.md"
SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
RULESETS = sorted((ROOT / "rulesets").rglob("*.rules"))


# ---- the documented table ----------------------------------------------------------------------


def _doc_table():
    text = DOC.read_text(encoding="utf-8")
    header = re.search(r"## How the examples read.*?```rules\n(.*?)```", text, re.S).group(1)
    table = {}
    for m in re.finditer(r"^### (LR\d{3}) (\S+)\n(.*?)(?=^### |\Z)", text, re.S | re.M):
        code, slug, body = m.groups()
        sev = re.search(r"^\*\*(error|warning)\*\* — (.*)$", body, re.M)
        blocks = re.findall(r"```rules\n(.*?)```", body, re.S)
        table[code] = {"slug": slug, "severity": sev.group(1) if sev else None,
                       "meaning": sev.group(2) if sev else None, "blocks": blocks}
    return header, table


HEADER, TABLE = _doc_table()


def whole(snippet: str) -> str:
    return snippet if snippet.startswith("ruleset") else HEADER + "\n" + snippet


def codes_of(text: str) -> dict[str, list[Diagnostic]]:
    out: dict[str, list[Diagnostic]] = {}
    for d in lint_text(text, "ex.rules"):
        out.setdefault(d.code, []).append(d)
    return out


def test_every_code_is_documented_with_a_bad_and_a_fixed_example():
    assert set(TABLE) == set(CODES), "document (and so test) every code in docs/lint.md"
    for code, entry in TABLE.items():
        assert entry["slug"] == CODES[code][0], code
        assert entry["severity"] == CODES[code][1], code
        assert len(entry["blocks"]) == 2, f"{code}: a bad and a fixed example"


def test_docs_meaning_is_the_sarif_help():
    for code, entry in TABLE.items():
        assert entry["meaning"] == sarif.RULE_HELP[code], code


@pytest.mark.parametrize("code", list(CODES))
def test_bad_example_triggers_and_fixed_example_does_not(code):
    bad, good = TABLE[code]["blocks"]
    found = codes_of(whole(bad))
    assert code in found, f"{code}: the bad example does not trigger it; it gives {sorted(found)}"
    assert all(d.severity == CODES[code][1] for d in found[code])
    for d in found[code]:
        assert d.file == "ex.rules" and d.line >= 1 and d.col >= 1 and d.message and d.hint
    fixed = codes_of(whole(good))
    assert code not in fixed, f"{code}: the fixed example still triggers it: {fixed[code][0].message}"
    errors = [d for ds in fixed.values() for d in ds if d.is_error]
    assert not errors, f"{code}: the fixed example does not compile: {errors[0].message}"


# ---- LR314: provably impossible, and nothing else ----------------------------------------------

H = HEADER + "\n"


def crit(cond: str) -> str:
    return H + f'score profile "P" max 100 {{\n  "c"  +5  when {cond}\n}}\n'


@pytest.mark.parametrize("cond", [
    "count web_visit < 0",
    "count event types <= -1",
    "length(title) < 0",
    "days since last event < 0",
    "days since last web_visit between -9 and -1",
    "count web_visit = 2.5",
    "count web_visit > 2 and count web_visit < 3",
    "company_size > 1000 and company_size < 500",
    "company_size >= 10 and company_size <= 10 and company_size != 10",
    "company_size = 5 and company_size in [1, 2, 3]",
    "created_at > 2026-01-01 and created_at < 2026-01-02",
    "industry = \"software\" and industry = \"retail\"",
    "industry in [\"a\", \"b\"] and industry not in [\"a\", \"B \"]",
    "opted_out = true and opted_out = false",
    "industry is missing and industry contains \"x\"",
    "industry = \"\"",
    "industry in []",
    "title contains any []",
    "company_size != company_size",
    "count web_visit is missing",
    "(company_size < 0 and company_size > 1) or count web_visit < 0",
    "has web_visit where page = \"/a\" and page = \"/b\"",
    "company_size > 5 and (company_size < 1 or company_size < 2)",
])
def test_never_fires(cond):
    found = codes_of(crit(cond))
    assert "LR314" in found, cond
    assert '"c" can never fire' in found["LR314"][0].message


@pytest.mark.parametrize("cond", [
    "company_size < 0",                      # a number field may be negative
    "days since created_at < 0",             # a date in the future
    "company_size between 1 and 10 and company_size >= 10",
    "industry = \"Software\" and industry = \" software \"",  # texts compare ignoring case and spaces
    "count web_visit >= 0",
    "not (company_size > 5) and company_size > 7",  # true for no present value, but `not` is left alone
    "industry != \"a\" and industry != \"b\"",
    "company_size > 2 and company_size < 3",  # 2.5 is a number
    "has web_visit where page = \"/a\" and has web_visit where page = \"/b\"",
    "title contains all []",
    "opted_out = true or opted_out = false",
])
def test_possible_conditions_are_left_alone(cond):
    assert "LR314" not in codes_of(crit(cond)), cond


def test_each_where_that_never_matches():
    text = H + 'score e "E" max 100 {\n  "c"  +5  each web_visit where page = "/a" and page = "/b"  max 5\n}\n'
    msg = codes_of(text)["LR314"][0].message
    assert msg.startswith('"c" can never fire: no web_visit can match')


def test_dead_branch_of_an_or_is_reported_as_a_part():
    found = codes_of(crit("company_size > 5 or count web_visit < 0"))
    assert "part of the condition never matters" in found["LR314"][0].message
    assert "count web_visit < 0" in found["LR314"][0].message


def test_impossible_tier_and_disqualify():
    text = H + ('disqualify "x" when count web_visit < 0\n'
                'score p "P" max 100 {\n  "s" first of {\n    +5  when length(title) < 0\n    +1  otherwise\n  }\n}\n')
    found = codes_of(text)
    msgs = [d.message for d in found["LR314"]]
    assert any(m.startswith('disqualify "x" can never apply') for m in msgs)
    assert any(m.startswith('"s": the tier +5 can never apply') for m in msgs)


def test_reversed_between_is_the_checkers_error_only():
    found = codes_of(crit("company_size between 10 and 5"))
    assert "LR205" in found and "LR314" not in found


# ---- LR315 / LR318: implication ----------------------------------------------------------------


@pytest.mark.parametrize("first, later", [
    ('email ends with "example.com"', 'email ends with "@qa.example.com"'),
    ('opted_out = true', 'opted_out = true'),
    ('opted_out = true', 'opted_out = true and industry = "x"'),
    ('opted_out = true or industry = "x"', 'industry = "x"'),
    ('company_size < 10', 'company_size < 5'),
    ('company_size between 1 and 100', 'company_size = 50'),
    ('industry in ["a", "b", "c"]', 'industry in ["b", "a"]'),
    ('title contains "vp"', 'title contains "svp"'),
    ('title contains any ["vp", "chief"]', 'title starts with "Chief"'),
    ('email is present', 'email contains "@"'),
    ('(opted_out = true)', '(opted_out = true) and (industry = "x" or industry = "y")'),
])
def test_shadowed_disqualify(first, later):
    text = H + f'disqualify "one" when {first}\ndisqualify "two" when {later}\n'
    found = codes_of(text)
    assert "LR315" in found, (first, later)
    d = found["LR315"][0]
    assert d.line == len(H.splitlines()) + 2 and '"two" can never win' in d.message and '"one"' in d.message


@pytest.mark.parametrize("first, later", [
    ('email ends with "@example.com"', 'email ends with "@mail.example.com"'),
    ('opted_out = true and industry = "x"', 'opted_out = true'),
    ('company_size < 5', 'company_size < 10'),
    ('title contains "svp"', 'title contains "vp"'),
    ('industry in ["a"]', 'industry in ["a", "b"]'),
    ('email is missing', 'email contains "@"'),
])
def test_not_shadowed(first, later):
    text = H + f'disqualify "one" when {first}\ndisqualify "two" when {later}\n'
    assert "LR315" not in codes_of(text), (first, later)


def test_shadowed_tier_names_both_tiers():
    text = H + ('score p "P" max 100 {\n  "s" first of {\n    +20  when title contains "VP"\n'
                '    +30  when title contains "SVP"\n    +5   otherwise\n  }\n}\n')
    d = codes_of(text)["LR318"][0]
    assert "tier +30 can never apply" in d.message and "tier +20" in d.message


# ---- soundness against the engine ----------------------------------------------------------------

SIZES = [None, -3, -0.5, 0, 0.5, 1, 2, 2.5, 3, 4, 5, 7, 10, 10.5, 11]
ATOMS = st.one_of(
    st.builds(lambda op, x: f"company_size {op} {x}", st.sampled_from(["<", "<=", ">", ">=", "=", "!="]),
              st.sampled_from([-1, 0, 0.5, 2, 3, 5, 10])),
    st.builds(lambda a, b: f"company_size between {min(a, b)} and {max(a, b)}",
              st.sampled_from([0, 1, 2.5, 5, 10]), st.sampled_from([0, 1, 2.5, 5, 10])),
    st.builds(lambda xs: "company_size in [" + ", ".join(map(str, xs)) + "]",
              st.lists(st.sampled_from([0, 2, 3, 5, 10]), min_size=1, max_size=3)),
    st.builds(lambda xs: "company_size not in [" + ", ".join(map(str, xs)) + "]",
              st.lists(st.sampled_from([0, 2, 3, 5, 10]), min_size=1, max_size=3)),
    st.sampled_from(["company_size is missing", "company_size is present"]),
    st.builds(lambda op, x: f"count web_visit {op} {x}", st.sampled_from(["<", "<=", ">", ">=", "=", "!="]),
              st.sampled_from([-1, 0, 1, 1.5, 2, 3])),
    st.builds(lambda op, x: f'industry {op} "{x}"',
              st.sampled_from(["=", "!=", "contains", "starts with", "ends with"]),
              st.sampled_from(["a", "A ", "b", "ab", ""])),
    st.builds(lambda neg, xs: f"industry {'not in' if neg else 'in'} [" + ", ".join(f'"{x}"' for x in xs) + "]",
              st.booleans(), st.lists(st.sampled_from(["a", "b", "ab", ""]), max_size=3)),
    st.builds(lambda xs: "industry contains any [" + ", ".join(f'"{x}"' for x in xs) + "]",
              st.lists(st.sampled_from(["a", "b", "ab", ""]), max_size=3)),
    st.sampled_from(["industry is missing", "industry is present"]),
)
INDUSTRIES = [None, "a", " A ", "b", "ab", "ba"]


@st.composite
def conditions(draw, depth=2):
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return draw(ATOMS)
    parts = draw(st.lists(conditions(depth=depth - 1), min_size=2, max_size=3))
    op = draw(st.sampled_from([" and ", " or "]))
    return "(" + op.join(parts) + ")"


def _fired(cond: str) -> list[bool]:
    """Whether `cond` holds for each of a grid of leads (company_size x number of visits x industry)."""
    from tests.helpers import AS_OF, ev, lead
    from tests.helpers import engine as make

    eng = make(f'score p "P" max 100 {{\n  "c"  +1  when {cond}\n}}\n', header=True)
    out = []
    for size in SIZES:
        for visits in (0, 1, 2, 3):
            for industry in INDUSTRIES:
                fields = {k: v for k, v in (("company_size", size), ("industry", industry)) if v is not None}
                r = eng.score(lead("L", [ev("web_visit", 1, page="/x")] * visits, **fields), AS_OF)
                out.append(r.scores["p"] > 0)
    return out


SOUND = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SOUND
@given(conditions())
def test_impossible_means_no_lead_fires(cond):
    rf = parse(crit(cond), "t.rules")
    checked = check(rf)
    k = rf.of(n.Score)[0].criteria[0]
    if Impossible(checked.lists).why(k.cond) is not None:
        assert not any(_fired(cond)), cond


@SOUND
@given(conditions(depth=1), conditions(depth=1))
def test_implies_means_never_without(a, b):
    rf = parse(H + f'disqualify "a" when {a}\ndisqualify "b" when {b}\n', "t.rules")
    checked = check(rf)
    da, db = rf.of(n.Disqualify)
    if Implies(checked.fields, checked.lists).holds(db.cond, da.cond):
        fa, fb = _fired(a), _fired(b)
        assert all(x or not y for x, y in zip(fa, fb)), (a, b)


# ---- LR316 / LR317 / LR409 ----------------------------------------------------------------------


def test_within_beyond_decay_gives_the_weight():
    text = H + ('score e "E" max 100 {\n  decay half-life 30 days\n'
                '  "w"  +5  each web_visit within 20 weeks  max 10\n}\n')
    d = codes_of(text)["LR316"][0]
    assert "140 days old counts 3.94% of its points" in d.message
    assert "129 days or less" in d.hint
    ok = text.replace("within 20 weeks", "within 18 weeks")  # 126 days: 5.4%
    assert "LR316" not in codes_of(ok)
    assert "LR316" not in codes_of(text.replace("max 10", "no decay  max 10"))


def test_unbounded_each_and_needless_no_decay():
    nodecay = H + 'score p "P" max 100 {\n  "c"  +3  each email_click\n}\n'
    d = codes_of(nodecay)["LR317"][0]
    assert "34 email_click events alone fill p's max of 100" in d.message
    decayed = H + 'score p "P" max 100 {\n  decay half-life 30 days\n  "c"  +3  each email_click\n}\n'
    assert "LR317" not in codes_of(decayed)
    assert "LR317" in codes_of(decayed.replace("each email_click", "each email_click no decay"))
    neg = H + 'score p "P" max 100 {\n  "c"  -3  each email_click\n}\n'
    assert "outweigh every other criterion" in codes_of(neg)["LR317"][0].message
    assert "LR409" in codes_of(nodecay.replace("each email_click", "each email_click no decay  max 9"))


# ---- suppression --------------------------------------------------------------------------------

UNUSED = H + 'list a = ["x"]%s\n'


def test_ignore_one_code_on_its_line():
    assert "LR309" in codes_of(UNUSED % "")
    found = codes_of(UNUSED % "  # leadrules: ignore LR309")
    assert "LR309" not in found and "LR410" not in found


@pytest.mark.parametrize("comment", ["# leadrules: ignore", "#leadrules:ignore", "# leadrules: ignore lr309",
                                     "# leadrules: ignore LR306, LR309", "# leadrules: ignore LR306 LR309 kept",
                                     "# LEADRULES: IGNORE LR309"])
def test_ignore_forms(comment):
    found = codes_of(UNUSED % ("  " + comment))
    assert "LR309" not in found


def test_ignore_on_another_line_does_not_silence_and_is_reported():
    text = H + '# leadrules: ignore LR309\nlist a = ["x"]\n'
    found = codes_of(text)
    assert "LR309" in found
    assert "silences nothing" in found["LR410"][0].message


def test_ignore_only_the_named_code():
    text = H + 'score p "P" max 10 {\n  "c"  +20  each email_click  # leadrules: ignore LR307\n}\n'
    found = codes_of(text)
    assert "LR307" not in found and "LR317" in found  # the other warning on the line stays


def test_block_finding_is_silenced_on_its_first_line():
    text = H.replace('ruleset "demo" version 1', 'ruleset "demo" version 1  # leadrules: ignore LR405')
    assert "LR405" not in codes_of(text)
    assert "LR405" in codes_of(H)


def test_errors_cannot_be_silenced():
    text = H + 'disqualify "x" when job_title = "a"  # leadrules: ignore LR201\n'
    found = codes_of(text)
    assert "LR201" in found
    assert "errors cannot be silenced" in found["LR410"][0].message
    found = codes_of(H + 'disqualify "x" when job_title = "a"  # leadrules: ignore\n')
    assert "LR201" in found and "LR410" in found


def test_unknown_code_is_reported():
    found = codes_of(UNUSED % "  # leadrules: ignore LR3xx")
    assert "LR309" in found
    assert "LR3XX is not a leadrules code" in found["LR410"][0].message


def test_suppress_applies_to_checker_and_lint_findings_alike():
    text = H + ('list a = ["x"]  # leadrules: ignore LR309\n'
                'score p "P" max 100 {\n  "c"  +3  each email_click  # leadrules: ignore LR317\n}\n')
    checked = check_text(text, "t.rules")
    before = checked.diagnostics + lint(checked)
    assert {"LR309", "LR317"} <= {d.code for d in before}
    after = suppress(before, checked.file)
    assert not {"LR309", "LR317", "LR410"} & {d.code for d in after}
    assert [ig.codes for ig in ignore_comments(checked.file)] == [["LR309"], ["LR317"]]


# ---- the command ---------------------------------------------------------------------------------


def run(*args):
    return CliRunner().invoke(main, ["lint", *args])


@pytest.fixture
def files(tmp_path):
    clean = (ROOT / "rulesets" / "acme.rules").read_text(encoding="utf-8")
    paths = {
        "clean": tmp_path / "clean.rules",
        "warn": tmp_path / "warn.rules",
        "error": tmp_path / "error.rules",
    }
    paths["clean"].write_text(clean, encoding="utf-8")
    paths["warn"].write_text(H + 'list a = ["x"]\n', encoding="utf-8")  # LR309, LR405
    paths["error"].write_text(H + 'disqualify "x" when job_title = "a"\n', encoding="utf-8")
    return {k: str(v) for k, v in paths.items()}


def test_exit_codes(files, tmp_path):
    assert run(files["clean"]).exit_code == 0
    assert run("--strict", files["clean"]).exit_code == 0
    r = run(files["warn"])
    assert r.exit_code == 0 and "warning LR309" in r.output
    assert run("--strict", files["warn"]).exit_code == 1
    assert run(files["error"]).exit_code == 1
    r = run(files["clean"], str(tmp_path / "missing.rules"))
    assert r.exit_code == 2 and "no such rule file" in r.output and "Traceback" not in r.output
    r = run("--strict", files["warn"], str(tmp_path / "missing.rules"))
    assert r.exit_code == 2 and "LR309" in r.output  # the readable file is still checked


def test_strict_passes_once_warnings_are_silenced(tmp_path):
    p = tmp_path / "w.rules"
    p.write_text(H.replace("version 1", "version 1  # leadrules: ignore LR405")
                 + 'list a = ["x"]  # leadrules: ignore LR309\n', encoding="utf-8")
    r = run("--strict", str(p))
    assert r.exit_code == 0, r.output


def test_text_output_shows_line_caret_and_hint(files):
    r = run(files["error"])
    lines = r.output.splitlines()
    i = next(k for k, ln in enumerate(lines) if "error LR201" in ln)
    assert re.match(rf"{re.escape(files['error'])}:\d+:21: error LR201 unknown field \"job_title\"", lines[i])
    assert lines[i + 1].strip().endswith('disqualify "x" when job_title = "a"')
    assert lines[i + 2].endswith("^" * len("job_title"))
    assert lines[i + 3].startswith("  hint: did you mean")
    assert lines[-1] == "1 file checked: 1 error, 1 warning"


def test_json_output_shape(files):
    r = run("--format", "json", files["warn"], files["error"])
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    assert set(doc) == {"version", "files", "errors", "warnings", "diagnostics"}
    assert doc["version"] == 1 and doc["files"] == [files["warn"], files["error"]]
    diags = doc["diagnostics"]
    assert doc["errors"] == sum(d["severity"] == "error" for d in diags) == 1
    assert doc["warnings"] == len(diags) - 1 >= 2
    keys = {"code", "slug", "severity", "message", "file", "line", "col", "end_line", "end_col", "hint"}
    for d in diags:
        assert set(d) == keys and CODES[d["code"]][0] == d["slug"]
    assert [(d["file"], d["line"], d["col"]) for d in diags] == sorted((d["file"], d["line"], d["col"]) for d in diags)
    assert {d["code"] for d in diags} >= {"LR201", "LR309", "LR405"}


def _validator():
    import jsonschema  # a test dependency (pyproject's `test` extra): a missing one must fail, not skip

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)


def test_sarif_is_valid_against_the_schema(files, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    r = run("--format", "sarif", "clean.rules", "warn.rules", "error.rules")
    assert r.exit_code == 1
    doc = json.loads(r.stdout)
    errors = sorted(_validator().iter_errors(doc), key=str)
    assert not errors, errors[0].message
    run0 = doc["runs"][0]
    rules = run0["tool"]["driver"]["rules"]
    assert [x["id"] for x in rules] == list(CODES)
    assert all(x["help"]["text"] and x["fullDescription"]["text"] == sarif.RULE_HELP[x["id"]] for x in rules)
    lint_json = json.loads(run("--format", "json", "clean.rules", "warn.rules", "error.rules").stdout)
    assert len(run0["results"]) == len(lint_json["diagnostics"])
    for res, d in zip(run0["results"], lint_json["diagnostics"]):
        assert res["ruleId"] == d["code"] and rules[res["ruleIndex"]]["id"] == d["code"]
        assert res["level"] == d["severity"]
        loc = res["locations"][0]["physicalLocation"]
        assert loc["artifactLocation"] == {"uri": d["file"], "uriBaseId": "%SRCROOT%"}
        reg = loc["region"]
        assert (reg["startLine"], reg["startColumn"], reg["endLine"]) == (d["line"], d["col"], d["end_line"])
        assert reg["endColumn"] == d["end_col"] + 1  # SARIF's end column is the one after the region


def test_sarif_for_a_clean_file_and_odd_paths_is_valid(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my rules").mkdir()
    p = tmp_path / "my rules" / "a#1.rules"
    p.write_text(H + 'list a = ["x"]\n', encoding="utf-8")
    doc = json.loads(run("--format", "sarif", str(p)).stdout)  # an absolute path inside the cwd
    assert not list(_validator().iter_errors(doc))
    uri = doc["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri == "my%20rules/a%231.rules"
    clean = json.loads(run("--format", "sarif", str(ROOT / "rulesets" / "acme.rules")).stdout)
    assert not list(_validator().iter_errors(clean)) and clean["runs"][0]["results"] == []
    whole_file = sarif.to_dict([Diagnostic(code="LR209", slug="missing-section", severity="error", message="m",
                                           file="/elsewhere/x.rules", line=0, col=0, end_line=0, end_col=0)])
    assert not list(_validator().iter_errors(whole_file))
    loc = whole_file["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert "region" not in loc and loc["artifactLocation"]["uri"] == "file:///elsewhere/x.rules"


def test_the_schema_check_can_fail():
    doc = sarif.to_dict([])
    doc["runs"][0]["results"] = [{"ruleId": "LR309", "level": "fatal", "message": {"text": "x"}}]
    assert list(_validator().iter_errors(doc))


GH_LINE = re.compile(r"^::(error|warning) file=([^,:]+),line=(\d+),col=(\d+),endLine=(\d+),endColumn=(\d+),"
                     r"title=(LR\d{3} [a-z-]+)::(.+)$")


def test_github_annotations(files):
    r = run("--format", "github", files["warn"], files["error"])
    assert r.exit_code == 1
    lines = r.stdout.splitlines()
    assert lines and all(GH_LINE.match(ln) for ln in lines), lines
    m = next(GH_LINE.match(ln) for ln in lines if "LR201" in ln)
    assert m.group(1) == "error" and m.group(2) == files["error"] and m.group(7) == "LR201 unknown-field"
    assert "%0A%0Ahint: did you mean" in m.group(8) and "\n" not in m.group(8)
    assert run("--format", "github", files["clean"]).stdout == ""


def _unescape(s: str) -> str:
    return s.replace("%0D", "\r").replace("%0A", "\n").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


def test_github_escaping():
    d = Diagnostic(code="LR309", slug="unused-list", severity="warning", message="50% used\r\nnext: a, b",
                   file="dir,x/a:b%.rules", line=3, col=2, end_line=3, end_col=9, hint="use it: here")
    out = render.github([d])
    assert out == ("::warning file=dir%2Cx/a%3Ab%25.rules,line=3,col=2,endLine=3,endColumn=9,"
                   "title=LR309 unused-list::50%25 used%0D%0Anext: a, b%0A%0Ahint: use it: here")
    props, msg = out[len("::warning "):].split("::", 1)
    assert _unescape(props.split(",")[0][len("file="):]) == d.file
    assert _unescape(msg) == d.message + "\n\nhint: " + d.hint
    whole_file = Diagnostic(code="LR209", slug="missing-section", severity="error", message="no fields",
                            file="a.rules", line=0, col=0, end_line=0, end_col=0)
    assert render.github([whole_file]) == "::error file=a.rules,title=LR209 missing-section::no fields"


# ---- lint and fmt --------------------------------------------------------------------------------


def test_suppressions_survive_fmt():
    from dsl.formatter import format_text

    text = (H.replace("version 1", "version 1  # leadrules: ignore LR405")
            + 'list a = ["x"]  # leadrules: ignore LR309\n'
            + 'disqualify "one" when opted_out = true\n'
            + 'disqualify "two" when opted_out = true and industry = "x"  # leadrules: ignore LR315\n'
            + 'score p "P" max 100 {\n  "c"  +3  each email_click  # leadrules: ignore LR317\n'
            + '  "d"  +1  when count web_visit < 0  # leadrules: ignore\n}\n'
            + 'grade p {\n  A when >= 200  # leadrules: ignore LR306\n  B otherwise\n}\n')
    assert lint_text(text, "t.rules") == []
    out = format_text(text, "t.rules")
    assert out != text
    assert lint_text(out, "t.rules") == []


def _codes_but_order(text: str):
    from collections import Counter

    return Counter(d.code for d in lint_text(text, "t.rules") if d.code != "LR406")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rendered(accounts=True))
def test_fmt_does_not_change_what_lint_finds(case):
    # fmt only moves text around, so lint finds the same things (but section order, which fmt fixes)
    from dsl.formatter import format_text

    text, _ = case
    assert _codes_but_order(format_text(text, "t.rules")) == _codes_but_order(text)


# ---- the project's own rule files ----------------------------------------------------------------


@pytest.mark.parametrize("path", RULESETS, ids=[p.name for p in RULESETS])
def test_rulesets_pass_lint_strict(path):
    # CI runs the test suite: this is `leadrules lint --strict rulesets/` there.
    r = run("--strict", str(path))
    assert r.exit_code == 0, r.output
