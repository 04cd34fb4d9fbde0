"""The HTML reports (`simulate`, `diff`, `calibrate --format html`) and the scoring sheet (`leadrules
docs`): self-contained (no script, nothing fetched), every value from a rule file or a lead escaped,
and the numbers drawn in the SVG charts the same as the json report's.

The pages are built by the real commands over a small rule file whose names, queue, reason, file
name and lead values are all a hostile `<img src=x onerror=alert(1)>`.
"""
from __future__ import annotations

import csv
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from click.testing import CliRunner

from cli import main

HOSTILE = "<img src=x onerror=alert(1)>"
ROOT = Path(__file__).resolve().parent.parent

RULES = '''ruleset "HOSTILE" version 1

fields {
  email: text
  industry: text
  company_size: number
  created_at: date
}

events {
  web_visit(page: text)
}

list targets = ["Technology", "Software", "Financial Services"]

disqualify "HOSTILE" when email ends with "@example.com"

score fit "HOSTILE" max 100 {
  "HOSTILE"  +40  when industry in targets
  "Big"      +30  when company_size >= 1000
  "Visits"   +10  each web_visit  max 30
}

grade fit {
  A when >= 60
  B when >= 30
  C otherwise
}

route {
  disqualified  -> suppress
  A             -> sales "HOSTILE" within 1 day
  B             -> qualify "sdr"
  otherwise     -> nurture "HOSTILE"
}

test "HOSTILE" {
  as of 2026-11-01
  lead { email: "a@b.com", industry: "Software", company_size: 5000 }
  expect grade A
  expect route sales "HOSTILE"
}

simulation "HOSTILE" {
  leads "leads.jsonl"
  as of 2026-11-01
  expect share of route sales at most 90%
}
'''.replace("HOSTILE", HOSTILE)

INDUSTRIES = ["Software", "Tech", "Technolgy", "financial-services", "Retail", HOSTILE, "Software", "Technology"]


def _leads() -> list[dict]:
    out = []
    for i in range(40):
        lead = {"id": HOSTILE if i == 0 else f"L{i:03d}", "email": f"p{i}@{'example' if i % 13 == 5 else 'co'}.com",
                "industry": INDUSTRIES[i % len(INDUSTRIES)], "company_size": 50 * (i % 9) * (i % 4) * 10,
                "created_at": f"2026-0{1 + i % 9}-1{i % 10}",
                "events": [{"type": "web_visit", "page": HOSTILE, "at": f"2026-10-{1 + (i * k) % 28:02d}"}
                           for k in range(i % 4)]}
        if i % 7 == 3:
            del lead["company_size"]
        out.append(lead)
    return out


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile")
    rules = d / f"{HOSTILE}.rules"
    rules.write_text(RULES, encoding="utf-8")
    (d / "new.rules").write_text(RULES.replace("+40  when industry", "+25  when industry")
                                 .replace("A when >= 60", "A when >= 55"), encoding="utf-8")
    leads = _leads()
    (d / "leads.jsonl").write_text("".join(json.dumps(x) + "\n" for x in leads), encoding="utf-8")
    with open(d / "outcomes.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["lead_id", "worked_at", "converted"])
        for i, x in enumerate(leads):
            w.writerow([x["id"], "2026-10-20" if i % 3 else "", "true" if i % 5 in (1, 2) else "false"])
    return d


def run(args, ok=(0,)):
    r = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert r.exit_code in ok, (r.exit_code, r.output)
    return r


def pages(case) -> dict[str, tuple[str, dict | None]]:
    """Each page (HTML text) and its json report."""
    rules, new = case / f"{HOSTILE}.rules", case / "new.rules"
    leads, outcomes = case / "leads.jsonl", case / "outcomes.csv"
    out = {}
    for name, args in {
        "simulate": ["simulate", rules],
        "diff": ["diff", rules, new, "--leads", leads, "--as-of", "2026-11-01"],
        "calibrate": ["calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--as-of", "2026-11-01"],
    }.items():
        page = case / f"{name}.html"
        run(args + ["--format", "html", "-o", page])
        doc = json.loads(run(args + ["--format", "json"]).output)
        out[name] = (page.read_text(encoding="utf-8"), doc)
    run(["docs", rules, "--format", "html", "-o", case / "docs.html"])
    out["docs"] = (Path(case / "docs.html").read_text(encoding="utf-8"), None)
    return out


@pytest.fixture(scope="module")
def built(case):
    return pages(case)


class Page(HTMLParser):
    """Every start tag with its attributes, and the text."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def marks(self, tag: str, cls: str) -> list[dict]:
        return [a for t, a in self.tags if t == tag and a.get("class") == cls]


@pytest.mark.parametrize("name", ["simulate", "diff", "calibrate", "docs"])
def test_page_is_self_contained_and_escaped(built, name):
    text, _doc = built[name]
    p = Page(text)
    names = {t for t, _ in p.tags}
    assert "script" not in names and "img" not in names and "iframe" not in names
    assert "link" not in names  # no external stylesheet
    for _t, a in p.tags:
        for k in ("src", "href", "xlink:href", "action"):
            v = a.get(k)
            assert v is None or not v.lower().startswith(("http://", "https://", "//")), (k, v)
        assert not any(k.startswith("on") for k in a), a  # no event handler attribute anywhere
    assert "@import" not in text and "url(" not in text
    assert "svg" in names or name == "docs"
    # the hostile value is shown to the reader as text, never as markup
    assert HOSTILE not in text
    assert HOSTILE in "".join(p.text) or any(HOSTILE in v for _t, a in p.tags for v in a.values() if v)
    assert "&lt;img src=x onerror=alert(1)&gt;" in text


def test_simulate_numbers_in_the_svg_match_the_json(built):
    text, doc = built["simulate"]
    run_ = doc["runs"][0]
    p = Page(text)
    bars = {a["data-label"]: a for a in p.marks("rect", "mark") if "data-count" in a and "data-share" in a}
    for g in run_["grades"]:
        assert int(bars[g["grade"]]["data-count"]) == g["count"]
        assert float(bars[g["grade"]]["data-share"]) == g["share"]
    routes = [a for a in p.marks("rect", "mark") if "data-route" in a]
    assert [(a["data-route"], a["data-queue"], int(a["data-count"])) for a in routes] == \
        [(q["route"] or "", q["queue"] or "", q["count"]) for q in run_["queues"]]
    assert any(a["data-queue"] == HOSTILE for a in routes)
    d = run_["dimensions"][0]
    hist = [a for a in p.marks("rect", "mark") if "data-from" in a]
    assert [(float(a["data-from"]), float(a["data-to"]), int(a["data-count"])) for a in hist] == \
        [(h["from"], h["to"], h["count"]) for h in d["histogram"]]
    edges = [float(a["data-threshold"]) for _t, a in p.tags if a.get("class") == "edge"]
    assert edges == [b["threshold"] for b in d["bands"] if b["threshold"] is not None]
    crit = {a["data-name"]: a for a in p.marks("rect", "mark") if "data-fired" in a}
    for c in run_["criteria"]:
        assert int(crit[c["name"]]["data-fired"]) == c["fired"]
        assert float(crit[c["name"]]["data-fire-rate"]) == c["fire_rate"]
    binds = p.marks("rect", "mark2")
    assert [int(a["data-cap-binds"]) for a in binds] == [c["cap_binds"] for c in run_["criteria"] if c["cap"] is not None]
    present = {a["data-field"]: int(a["data-present"]) for a in p.marks("rect", "mark") if "data-present" in a}
    assert present == {f["field"]: f["present"] for f in run_["data_quality"]["fields"]}


def test_diff_numbers_in_the_svg_match_the_json(built):
    text, doc = built["diff"]
    p = Page(text)
    m = doc["grade_matrix"]
    cells = {(a["data-row"], a["data-col"]): int(a["data-count"]) for a in p.marks("rect", "cell")}
    assert cells == {(o, nw): m["counts"][i][j] for i, o in enumerate(m["old"]) for j, nw in enumerate(m["new"])}
    assert doc["changed"]["grade"] > 0  # the case moves grades, so the off-diagonal is not empty
    nodes = p.marks("rect", "node")
    old = [int(a["data-count"]) for a in nodes if a["data-side"] == "old"]
    new = [int(a["data-count"]) for a in nodes if a["data-side"] == "new"]
    assert old == [r["old"] for r in doc["routes"]] and new == [r["new"] for r in doc["routes"]]
    moved = sum(int(a["data-count"]) for _t, a in p.tags if a.get("class") == "flow" and a["data-from"] != a["data-to"])
    assert moved == sum(t["count"] for t in doc["route_transitions"])
    movers = [a for a in p.marks("rect", "mark") if "data-score-change" in a]
    assert [(a["data-id"], float(a["data-score-change"])) for a in movers] == \
        [(x["id"], x["score_change"]) for x in doc["movers"]["leads"]]
    assert any(a["data-id"] == HOSTILE for a in movers)


def test_calibrate_numbers_in_the_svg_match_the_json(built):
    text, doc = built["calibrate"]
    p = Page(text)
    dots = {a["data-label"]: a for _t, a in p.tags if a.get("class") == "mark" and "data-rate" in a}
    for g in doc["by_grade"]:
        if g["rate"] is None:
            continue
        a = dots[g["grade"]]
        assert float(a["data-rate"]) == g["rate"]
        assert float(a["data-ci-low"]) == g["ci_low"] and float(a["data-ci-high"]) == g["ci_high"]
    cp = doc["cherry_picking"]
    assert float(dots["cherry-picked (routed elsewhere)"]["data-rate"]) == cp["cherry_picked"]["rate"]
    sweep = [a for _t, a in p.tags if a.get("data-series") == "conversion rate (95% interval shaded)"]
    cands = [c for sw in doc["threshold_sweep"] for c in sw["candidates"] if c["rate"] is not None]
    assert [float(a["data-value"]) for a in sweep] == [c["rate"] for c in cands]
    assert len(cands) > 0


def test_calibrate_renders_sections_it_does_not_know(built):
    from runtime.report import calibrate_html

    _text, doc = built["calibrate"]
    doc = dict(doc, lift_by_decile=[{"decile": 1, "leads": 4, "rate": 0.25, "note": HOSTILE}],
               summary_stats={"brier": 0.19, "parts": [{"name": HOSTILE, "n": 3}]})
    page = calibrate_html.render(doc)
    p = Page(page)
    assert HOSTILE not in page and HOSTILE in "".join(p.text)
    assert "Lift by decile" in page and "Summary stats" in page and "0.19" in page


def test_html_goes_to_stdout_without_o(case):
    r = run(["docs", case / f"{HOSTILE}.rules", "--format", "html"])
    assert r.output.startswith("<!DOCTYPE html>") and r.output.rstrip().endswith("</html>")
    r = run(["simulate", case / f"{HOSTILE}.rules", "--format", "html"])
    assert r.output.startswith("<!DOCTYPE html>")


def test_simulate_scored_leads_next_to_an_html_report(case, tmp_path):
    page, scored = tmp_path / "r.html", tmp_path / "scored.jsonl"
    run(["simulate", case / f"{HOSTILE}.rules", "--format", "html", "-o", page, "--scored", scored])
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert len(scored.read_text(encoding="utf-8").splitlines()) == 40


def test_diff_and_calibrate_write_any_format_to_o(case, tmp_path):
    out = tmp_path / "d.json"
    run(["diff", case / f"{HOSTILE}.rules", case / "new.rules", "--leads", case / "leads.jsonl", "--as-of",
         "2026-11-01", "--format", "json", "-o", out])
    assert json.loads(out.read_text(encoding="utf-8"))["leads"]["scored"] == 40
    out = tmp_path / "c.txt"
    run(["calibrate", case / f"{HOSTILE}.rules", "--leads", case / "leads.jsonl", "--outcomes",
         case / "outcomes.csv", "--as-of", "2026-11-01", "-o", out])
    assert "Conversion by grade" in out.read_text(encoding="utf-8")


def test_an_unwritable_output_is_a_clear_error(case, tmp_path):
    r = CliRunner().invoke(main, ["docs", str(case / f"{HOSTILE}.rules"), "--format", "html", "-o",
                                  str(tmp_path / "no" / "such" / "dir.html")])
    assert r.exit_code == 2 and f"cannot write: the directory {tmp_path / 'no' / 'such'} does not exist" in r.output
    assert not (tmp_path / "no").exists()


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=40))
def test_any_text_stays_text(s):
    from runtime.report import html as H
    from runtime.report import svg

    frag = H.table(["h"], [[s]]) + svg.hbars([{"label": s, "value": 1, "text": s, "data": {"name": s}}], label=s)
    p = Page(frag)
    assert {t for t, _ in p.tags} <= {"table", "thead", "tr", "th", "tbody", "td", "svg", "title", "text", "rect",
                                       "line"}
    assert all(a.get("data-name", s) == s and a.get("data-label", s) == s for _t, a in p.tags)
    if s.strip():
        assert s in "".join(p.text)


def test_a_failed_gate_or_guardrail_shows_and_still_exits_1(case, tmp_path):
    page = tmp_path / "d.html"
    r = run(["diff", case / f"{HOSTILE}.rules", case / "new.rules", "--leads", case / "leads.jsonl", "--as-of",
             "2026-11-01", "--fail-on", "grade", "--format", "html", "-o", page], ok=(1,))
    assert "FAIL" in r.output  # on stderr, where a CI log shows it
    text = page.read_text(encoding="utf-8")
    assert 'class="summary bad"' in text and '<span class="fail">FAIL</span>' in text
    strict = case / "strict.rules"
    strict.write_text(RULES.replace("at most 90%", "at most 1%"), encoding="utf-8")
    r = run(["simulate", strict, "--format", "html", "-o", tmp_path / "s.html"], ok=(1,))
    text = (tmp_path / "s.html").read_text(encoding="utf-8")
    assert 'class="summary bad"' in text and "1 of 1 guardrail FAILED" in text


def test_the_ci_recipe_for_html_reports_runs(tmp_path, monkeypatch):
    """docs/ci.md "Pages to forward": the steps parse and their commands make the three pages."""
    import shlex

    yaml = pytest.importorskip("yaml")
    text = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    block = text.split("### Pages to forward", 1)[1].split("```yaml", 1)[1].split("```", 1)[0]
    steps = yaml.safe_load(block)
    script = steps[0]["run"]
    assert steps[1]["uses"].startswith("actions/upload-artifact")
    monkeypatch.chdir(ROOT)
    made = []
    for line in script.splitlines():
        line = line.strip().removesuffix("|| true").strip()
        if not line.startswith("leadrules "):
            continue
        line = line.replace('"origin/${{ github.base_ref }}:rulesets/acme.rules"', "rulesets/acme.rules")
        args = [a.replace("reports/", f"{tmp_path}/") for a in shlex.split(line)[1:]]
        run(args)
        made.append(Path(args[args.index("-o") + 1]))
    assert len(made) == 3 and all(p.read_text(encoding="utf-8").startswith("<!DOCTYPE html>") for p in made)


def test_calibrate_page_reads_the_newer_report_shape(built):
    """The calibrate report grows (report version 2: AUC per dimension, criteria judged, signals over all
    worked leads); the page renders those sections too, and the numbers still come from the json."""
    from runtime.report import calibrate_html

    _text, doc = built["calibrate"]
    doc = dict(doc, version=2)
    doc["dimensions"] = {"worked_scored": 30, "converted": 9, "total": {"auc": 0.61, "auc_ci_low": 0.5,
                                                                         "auc_ci_high": 0.7},
                         "by_dimension": [{"dimension": "fit", "auc": 0.6, "auc_ci_low": 0.5, "auc_ci_high": 0.7,
                                           "bands": [{"band": "A", "threshold": 60, "leads": 9, "worked": 6,
                                                      "converted": 3, "rate": 0.5, "ci_low": 0.19, "ci_high": 0.81,
                                                      "median_days_to_convert": 12.0}]}]}
    doc["criteria"] = [{"criterion": HOSTILE, "dimension": "fit", "kind": "when", "points": 40, "fires": 10,
                        "fire_rate": 0.4, "rate_when_fires": 0.3, "rate_otherwise": 0.2, "lift": 1.5,
                        "lift_ci_low": 0.9, "lift_ci_high": 2.1, "q_value": 0.2, "auc_contribution": 0.01,
                        "verdict": "no signal"}]
    doc["missed_signals"] = {"population": "worked", "min_support": 5, "converting": 9, "not_converting": 21,
                             "tested": 4, "meaningful": 1, "top_unscored": HOSTILE, "suggestion": None,
                             "top_against": None, "excluded_keys": [],
                             "signals": [{"label": HOSTILE, "leads": 12, "rate_with": 0.5, "rate_without": 0.2,
                                          "lift": 2.5, "lift_ci_low": 1.1, "lift_ci_high": 5.0, "q_value": 0.01,
                                          "meaningful": True, "scored_by": []}]}
    page = calibrate_html.render(doc)
    p = Page(page)
    assert HOSTILE not in page
    dots = [a for _t, a in p.tags if a.get("class") == "mark" and a.get("data-criterion") == HOSTILE]
    assert [float(dots[0]["data-rate"]), float(dots[0]["data-rate-otherwise"])] == [0.3, 0.2]
    assert "0.610 (0.500–0.700)" in page and "2.50 (1.10–5.00)" in page and "Conversion by fit band" in page
