"""`leadrules calibrate`: the statistics (runtime/analysis/calibrate.py), the outcomes reader
(runtime/io/outcomes.py), the report's numbers on a small hand-computed case, the renderings
(runtime/calreport.py) and the planted signal of the bundled sample."""
from __future__ import annotations

import datetime as dt
import json
import math
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import cli
from runtime.analysis.calibrate import (Mentions, benjamini_hochberg, compare, fisher_exact, lead_signals, norm_path,
                               number_bucket, two_proportion_z, wilson)
from runtime.commands.options import schema_of
from runtime.io.outcomes import OutcomeReader
from runtime.io.readers import BadRowsError
from runtime.backends.load import load_rules
from tests.helpers import AS_OF, HEADER, ev, lead

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"
SAMPLE_LEADS = ROOT / "rulesets" / "samples" / "leads.jsonl"
SAMPLE_OUTCOMES = ROOT / "rulesets" / "samples" / "outcomes.csv"


def run(*args):
    r = CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)
    return r.exit_code, r.stdout, r.stderr


# ---- statistics ---------------------------------------------------------------------------------


@pytest.mark.parametrize("k,n,lo,hi", [
    (8, 10, 0.490, 0.943),
    (50, 100, 0.404, 0.596),
    (0, 10, 0.000, 0.278),
    (10, 10, 0.722, 1.000),
    (1, 1, 0.207, 1.000),
])
def test_wilson_known_values(k, n, lo, hi):
    a, b = wilson(k, n)
    assert round(a, 3) == lo and round(b, 3) == hi


def test_wilson_of_nothing_is_none():
    assert wilson(0, 0) is None


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 10_000), st.data())
def test_wilson_contains_the_rate_and_stays_in_0_1(n, data):
    k = data.draw(st.integers(0, n))
    lo, hi = wilson(k, n)
    assert 0.0 <= lo <= k / n <= hi <= 1.0
    # more data, narrower interval
    lo2, hi2 = wilson(4 * k, 4 * n)
    assert hi2 - lo2 < hi - lo + 1e-12


def test_two_proportion_z_by_hand():
    # 30/100 vs 50/100: pooled p 0.4, se sqrt(0.4*0.6*(1/100+1/100)) = 0.069282, z = -0.2/se
    z, p = two_proportion_z(30, 100, 50, 100)
    assert z == pytest.approx(-2.886751, abs=1e-6)
    assert p == pytest.approx(0.003892, abs=1e-6)
    assert two_proportion_z(0, 10, 0, 10) is None      # nobody converted: no variance to test
    assert two_proportion_z(1, 0, 1, 10) is None


def test_fisher_exact_by_hand():
    # the lady tasting tea: [[3, 1], [1, 3]], margins 4/4: P(3) = 16/70, P(4) = 1/70
    assert fisher_exact(3, 1, 1, 3, "greater") == pytest.approx(17 / 70)
    assert fisher_exact(3, 1, 1, 3) == pytest.approx(34 / 70)
    assert fisher_exact(1, 9, 11, 3) == pytest.approx(0.0027594, abs=1e-6)
    assert fisher_exact(2, 0, 1, 1) == pytest.approx(1.0)


def test_compare_uses_fisher_for_small_counts_and_z_for_large():
    small = compare(2, 4, 1, 2)
    assert small["test"] == "Fisher exact" and small["p_value"] == pytest.approx(1.0)
    assert small["meaningful"] is False
    big = compare(30, 100, 50, 100)
    assert big["test"] == "two-proportion z-test" and big["meaningful"] is True
    assert big["difference"] == pytest.approx(-0.2)
    assert compare(3, 10, 0, 0)["test"] is None


def test_benjamini_hochberg_by_hand():
    # sorted: 0.005 (x4/1), 0.01 (x4/2), 0.03 (x4/3), 0.04 (x4/4), then the running minimum from the top
    assert benjamini_hochberg([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert benjamini_hochberg([]) == []


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=30))
def test_benjamini_hochberg_q_is_at_least_p(ps):
    qs = benjamini_hochberg(ps)
    assert all(p - 1e-12 <= q <= 1.0 for p, q in zip(ps, qs))


def test_page_paths_group_by_first_segment():
    assert norm_path("/integrations/salesforce") == "/integrations"
    assert norm_path("/Integrations/HubSpot?utm=x") == "/integrations"
    assert norm_path("https://acme.com/integrations/snowflake#top") == "/integrations"
    assert norm_path("/") == "/"
    assert norm_path("demo-request") is None


def test_number_buckets():
    assert number_bucket(5) == "under 10"
    assert number_bucket(450) == "100–999"
    assert number_bucket(1000) == "1,000–9,999"
    assert number_bucket(-3) == "below 0"


# ---- signals and mentions -----------------------------------------------------------------------


def test_signals_ignore_events_after_the_scoring_day():
    r = load_rules(str(ACME))
    schema = schema_of(r)
    ld = lead("x", title="Engineer", company_size=60, interests=["crm", "AI "],
              events=[ev("web_visit", 3, page="/integrations/hubspot"), ev("form_submit", -2, form="demo-request")])
    sig = lead_signals(ld, AS_OF, schema)
    assert ("attr", "web_visit", "page", "/integrations") in sig
    assert ("event", "web_visit", "", "") in sig
    assert ("field", "title", "engineer") in sig
    assert ("field", "company_size", "10–99") in sig
    assert ("field", "interests", "ai") in sig
    assert not any(s[1] == "form_submit" for s in sig)  # two days after the as-of date


def test_mentions_know_what_acme_already_scores():
    r = load_rules(str(ACME))
    m = Mentions(r.engine, r.checked.lists)
    assert m.scored_by(("attr", "web_visit", "page", "/pricing")) == ["Pricing page"]
    assert m.scored_by(("attr", "web_visit", "page", "/customers")) == ["Case studies"]
    assert m.scored_by(("attr", "web_visit", "page", "/integrations")) == []
    assert m.scored_by(("field", "industry", "software"), "text") == ["Target industry"]  # via the list
    assert m.scored_by(("field", "country", "br"), "text") == []
    assert m.scored_by(("field", "title", "vp marketing"), "text") == ["Seniority"]
    assert m.scored_by(("field", "company_size", "1,000–9,999"), "number") == ["Enterprise", "Mid-market"]
    assert "Demo request" in m.scored_by(("event", "form_submit", "", ""))
    assert m.scored_by(("event", "email_open", "", "")) == ["Email opens"]


# ---- a small case, computed by hand -------------------------------------------------------------

RULES = HEADER + """
disqualify "test lead" when email ends with "@example.com"

score profile "Fit" max 100 {
  "Senior"  +70 when title contains word "VP"
  "Big"     +20 when company_size >= 1000
}

score engagement "Interest" max 100 {
  "Demo"  +60 each form_submit where form = "demo" max 60
}

grade profile {
  A when >= 70
  B when >= 20
  C otherwise
}

grade engagement {
  1 when >= 50
  2 otherwise
}

route {
  disqualified  -> suppress
  A1, A2, B1    -> sales "s"
  otherwise     -> nurture "n"
}
"""

LEADS = [
    # A1 sales: worked, converted
    {"id": "L1", "title": "VP Sales", "company_size": 5000, "events": [
        {"type": "form_submit", "form": "demo", "at": "2026-10-30"}]},
    # A2 sales: worked, not converted
    {"id": "L2", "title": "VP Sales"},
    # B1 sales: not worked, converted on its own
    {"id": "L3", "title": "Analyst", "company_size": 5000, "events": [
        {"type": "form_submit", "form": "demo", "at": "2026-10-30"}]},
    # B2 nurture: cherry-picked, converted; visited the integrations pages before
    {"id": "L4", "title": "Analyst", "company_size": 5000, "events": [
        {"type": "web_visit", "page": "/integrations/salesforce", "at": "2026-10-20T10:00:00Z"}]},
    # C2 nurture: cherry-picked, converted
    {"id": "L5", "title": "Analyst", "company_size": 50, "events": [
        {"type": "web_visit", "page": "/Integrations", "at": "2026-10-01"}]},
    # C2 nurture: cherry-picked, not converted
    {"id": "L6", "title": "Analyst", "company_size": 50, "events": [
        {"type": "web_visit", "page": "/pricing", "at": "2026-10-01"}]},
    # disqualified, no outcome row
    {"id": "L7", "email": "mm@example.com", "title": "VP"},
    # B1 today, but B2 when worked (the demo came after): a cherry-pick, not converted
    {"id": "L8", "title": "Analyst", "company_size": 5000, "events": [
        {"type": "form_submit", "form": "demo", "at": "2026-10-30"}]},
]

OUTCOMES = """lead_id,worked_at,converted,converted_at,stage
L1,2026-10-31,true,2026-11-20,closed-won
L2,2026-10-15,false,,closed-lost
L3,,yes,2026-11-02,self-serve
L4,2026-10-25,1,,closed-won
L5,2026-10-10T09:00:00Z,TRUE,,
L6,2026-10-05,no,,closed-lost
L8,2026-10-27,false,,open
ZZ9,2026-10-01,true,,closed-won
"""


@pytest.fixture()
def small(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text(RULES, encoding="utf-8")
    leads = tmp_path / "leads.jsonl"
    leads.write_text("".join(json.dumps(x) + "\n" for x in LEADS), encoding="utf-8")
    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(OUTCOMES, encoding="utf-8")
    return rules, leads, outcomes


def small_report(small, *extra):
    rules, leads, outcomes = small
    code, out, err = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--as-of", "2026-11-01",
                         "--format", "json", "--min-support", "1", *extra)
    assert code == 0, err
    return json.loads(out)


def test_small_case_inputs_and_totals(small):
    d = small_report(small)
    assert d["version"] == 1 and d["as_of"] == "2026-11-01"
    assert d["inputs"]["leads"] == {"read": 8, "scored": 8, "rejected": 0}
    o = d["inputs"]["outcomes"]
    assert (o["read"], o["accepted"], o["rejected"], o["matched"], o["unknown_leads"]) == (8, 8, 0, 7, 1)
    assert o["unknown_lead_ids"] == ["ZZ9"]
    t = d["totals"]
    assert (t["leads"], t["worked"], t["converted"], t["converted_unworked"]) == (8, 6, 3, 1)
    assert (t["with_outcome"], t["without_outcome"]) == (7, 1)
    assert (t["scored_as_of_worked_at"], t["scored_as_of_date"]) == (6, 2)
    assert t["rate"] == 0.5


def test_small_case_conversion_by_grade_and_route(small):
    d = small_report(small)
    g = {r["grade"]: (r["leads"], r["worked"], r["converted"], r["converted_unworked"]) for r in d["by_grade"]}
    assert g == {"A1": (1, 1, 1, 0), "A2": (1, 1, 0, 0), "B1": (1, 0, 0, 1), "B2": (2, 2, 1, 0),
                 "C2": (2, 2, 1, 0), "disqualified": (1, 0, 0, 0)}
    assert [r["grade"] for r in d["by_grade"]] == ["A1", "A2", "B1", "B2", "C2", "disqualified"]
    b2 = next(r for r in d["by_grade"] if r["grade"] == "B2")
    lo, hi = wilson(1, 2)
    assert b2["rate"] == 0.5
    assert b2["ci_low"] == pytest.approx(lo, abs=1e-6) and b2["ci_high"] == pytest.approx(hi, abs=1e-6)
    b1 = next(r for r in d["by_grade"] if r["grade"] == "B1")
    assert b1["rate"] is None and b1["ci_low"] is None  # nobody worked it: no rate
    routes = {(r["route"], r["queue"]): (r["leads"], r["worked"], r["converted"]) for r in d["by_route"]}
    assert routes == {("sales", "s"): (3, 2, 1), ("nurture", "n"): (4, 4, 2), ("suppress", None): (1, 0, 0)}
    # route lines' order: suppress first, as written
    assert [r["route"] for r in d["by_route"]] == ["suppress", "sales", "nurture"]


def test_small_case_cherry_picking(small):
    cp = small_report(small)["cherry_picking"]
    assert cp["cherry_picked"] == {"leads_routed_elsewhere": 5, "worked": 4, "converted": 2, "rate": 0.5,
                                   "ci_low": pytest.approx(wilson(2, 4)[0], abs=1e-6),
                                   "ci_high": pytest.approx(wilson(2, 4)[1], abs=1e-6)}
    s = cp["routed_to_sales"]
    assert (s["leads"], s["worked"], s["not_worked"], s["converted"], s["rate"]) == (3, 2, 1, 1, 0.5)
    assert cp["share_of_worked"] == pytest.approx(4 / 6, abs=1e-6)
    assert [(g["grade"], g["route"], g["worked"], g["converted"]) for g in cp["by_grade"]] == [
        ("B2", "nurture", 2, 1), ("C2", "nurture", 2, 1)]
    c = cp["comparison"]
    assert c["test"] == "Fisher exact" and c["p_value"] == pytest.approx(1.0) and c["meaningful"] is False
    assert c["difference"] == 0
    assert "could be chance" in cp["verdict"]


def test_small_case_missed_signals(small):
    ms = small_report(small)["missed_signals"]
    assert (ms["converting_cherry_picks"], ms["non_converting_cherry_picks"], ms["min_support"]) == (2, 2, 1)
    rows = {r["label"]: r for r in ms["signals"]}
    # over-represented only: title = analyst (2 vs 2) and the size buckets (1 vs 1) are not
    assert set(rows) == {"web_visit page = /integrations", "has web_visit"}
    integ = ms["signals"][0]
    assert integ["label"] == "web_visit page = /integrations"
    assert (integ["converting"], integ["not_converting"], integ["lift"]) == (2, 0, None)
    assert integ["p_value"] == pytest.approx(1 / 6, abs=1e-6)        # Fisher [[2, 0], [0, 2]], one-sided
    assert integ["q_value"] == pytest.approx(1 / 3, abs=1e-6)        # 1/6 x 2 tests / rank 1
    assert integ["scored_by"] == [] and integ["meaningful"] is False
    web = rows["has web_visit"]
    assert (web["converting"], web["not_converting"], web["lift"]) == (2, 1, 2.0)
    assert web["p_value"] == pytest.approx(0.5) and web["q_value"] == pytest.approx(0.5)
    assert ms["top_unscored"] is None                                 # nothing meaningful with 4 leads
    # L8's demo came after it was worked: not a signal
    assert not any(r["name"] == "form_submit" for r in ms["signals"])


def test_small_case_min_support_filters(small):
    ms = small_report(small, "--min-support", "3")["missed_signals"]
    assert ms["signals"] == [] and ms["tested"] == 0


def test_small_case_threshold_sweep(small):
    sw = small_report(small)["threshold_sweep"]
    # engagement: both bands can reach sales (A2), so only profile has a threshold to move
    assert [s["dimension"] for s in sw] == ["profile"]
    p = sw[0]
    assert (p["band"], p["current_threshold"], p["sales_bands"]) == ("B", 20, ["A", "B"])
    rows = {r["threshold"]: r for r in p["candidates"]}
    assert sorted(rows) == [5 * k for k in range(1, 20)]
    cur = [r for r in p["candidates"] if r["current"]]
    assert len(cur) == 1 and cur[0]["threshold"] == 20
    pick = lambda t: (rows[t]["leads"], rows[t]["worked"], rows[t]["converted"])  # noqa: E731
    assert pick(20) == (3, 2, 1)      # L1 A1, L2 A2, L3 B1: what the routes say now
    assert pick(5) == (3, 2, 1)       # nobody scores between 5 and 20
    assert pick(25) == (2, 2, 1)      # L3 (20) drops to C
    assert pick(75) == (1, 1, 1)      # A starts at 75 too: L2 (70) drops out
    assert pick(95) == (0, 0, 0)
    assert rows[20]["share_of_conversions"] == pytest.approx(1 / 3, abs=1e-6)
    assert rows[95]["rate"] is None


def test_small_case_text_and_markdown(small):
    rules, leads, outcomes = small
    code, out, _ = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--as-of", "2026-11-01",
                       "--min-support", "1")
    assert code == 0
    assert out.splitlines()[0].startswith(f"{rules} · 8 leads · 6 worked · 3 converted (50.0% of worked")
    assert "1 for unknown leads (e.g. ZZ9)" in out
    assert "1 converted without being worked (not in the rates)" in out
    for title in ("Conversion by grade", "Conversion by route", "Cherry-picking", "Missed signals",
                  "Sales threshold sweep: profile"):
        assert title in out
    a1 = next(line for line in out.splitlines() if line.startswith("| A1 "))
    assert "100.0%" in a1 and "#" * 20 in a1                  # the bar chart: 100% is 20 characters
    b2 = next(line for line in out.splitlines() if line.startswith("| B2 "))
    assert "#" * 10 + " " in b2 and "#" * 11 not in b2        # 50%: 10 characters
    assert "20 (now)" in out
    code, md, _ = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--as-of", "2026-11-01",
                      "--format", "markdown")
    assert code == 0
    assert md.startswith("## leadrules calibrate:")
    assert "### Cherry-picking" in md and "| grade | leads | worked | converted | rate | 95% CI |" in md


def test_events_file_and_csv_leads(tmp_path, small):
    rules, _, outcomes = small
    leads = tmp_path / "leads.csv"
    leads.write_text("id,title,company_size\nL4,Analyst,5000\nL6,Analyst,50\n", encoding="utf-8")
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps({"lead_id": "L4", "type": "web_visit", "page": "/integrations/x",
                                  "at": "2026-10-20"}) + "\n", encoding="utf-8")
    code, out, err = run("calibrate", rules, "--leads", leads, "--events", events, "--outcomes", outcomes,
                         "--as-of", "2026-11-01", "--format", "json", "--min-support", "1")
    assert code == 0, err
    d = json.loads(out)
    assert d["inputs"]["outcomes"]["unknown_leads"] == 6
    rows = {r["label"]: (r["converting"], r["not_converting"]) for r in d["missed_signals"]["signals"]}
    assert rows["web_visit page = /integrations"] == (1, 0)     # L4's visit, from the events file


# ---- outcomes: bad rows, unknown leads ----------------------------------------------------------

BAD_OUTCOMES = """lead_id,worked_at,converted,converted_at,stage
L1,2026-10-31,true,,
L2,2026-13-45,false,,
L3,2026-10-01,maybe,,
,2026-10-01,true,,
L4,,false,2026-10-09,
L1,2026-10-01,false,,
L5,2026-10-10,,,
L6,,,,
L8,2026-10-27,false,,open
"""


def test_outcome_reader_bad_rows_skip(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text(BAD_OUTCOMES, encoding="utf-8")
    import io

    rej = io.StringIO()
    r = OutcomeReader(str(p), on_bad_row="skip", rejects=rej)
    got = r.load()
    assert sorted(got) == ["L1", "L6", "L8"]
    assert got["L1"].worked and got["L1"].converted and got["L1"].line == 1
    assert not got["L6"].worked and not got["L6"].converted   # never worked, nothing happened
    assert got["L8"].stage == "open"
    assert (r.read, r.rejected, r.duplicates) == (9, 6, 1)
    assert r.read == len(got) + r.rejected
    lines = [json.loads(x) for x in rej.getvalue().splitlines()]
    assert [x["line"] for x in lines] == [2, 3, 4, 5, 6, 7]
    reasons = [x["reason"] for x in lines]
    assert "worked_at" in reasons[0] and "not a date" in reasons[0]
    assert "converted" in reasons[1] and "maybe" in reasons[1]
    assert '"lead_id" is missing' in reasons[2]
    assert "converted_at" in reasons[3]
    assert "duplicate outcome" in reasons[4] and "line 1" in reasons[4]
    assert '"converted" is missing' in reasons[5]
    assert lines[0]["row"] == "L2,2026-13-45,false,,"
    assert all(x["source"] == str(p) for x in lines)


def test_outcome_reader_bad_rows_fail(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text(BAD_OUTCOMES, encoding="utf-8")
    with pytest.raises(BadRowsError) as e:
        OutcomeReader(str(p)).load()
    assert [b.line for b in e.value.bad_rows] == [2, 3, 4, 5, 6, 7]


def test_outcome_reader_jsonl(tmp_path):
    p = tmp_path / "o.jsonl"
    p.write_text('{"lead_id": 12, "worked_at": "2026-10-01T23:30:00-02:00", "converted": true}\n'
                 '\n'
                 '[1, 2]\n'
                 '{"lead_id": "x", "worked_at": null, "converted": false}\n', encoding="utf-8")
    r = OutcomeReader(str(p), on_bad_row="skip")
    got = r.load()
    assert sorted(got) == ["12", "x"]
    assert got["12"].worked_day == dt.date(2026, 10, 2).toordinal()   # its UTC date
    assert (r.read, r.rejected) == (3, 1)


def test_cli_bad_outcomes_fail_exits_2_and_skip_counts(tmp_path, small):
    rules, leads, _ = small
    p = tmp_path / "o.csv"
    p.write_text(BAD_OUTCOMES, encoding="utf-8")
    code, out, err = run("calibrate", rules, "--leads", leads, "--outcomes", p, "--as-of", "2026-11-01")
    assert code == 2 and out == ""
    assert f"{p}:2:" in err and "Traceback" not in err
    rej = tmp_path / "rejects.jsonl"
    code, out, err = run("calibrate", rules, "--leads", leads, "--outcomes", p, "--as-of", "2026-11-01",
                         "--on-bad-row", "skip", "--rejects", rej, "--format", "json")
    assert code == 0, err
    o = json.loads(out)["inputs"]["outcomes"]
    assert (o["read"], o["accepted"], o["rejected"], o["duplicates"]) == (9, 3, 6, 1)
    assert o["read"] == o["accepted"] + o["rejected"] and o["accepted"] == o["matched"] + o["unknown_leads"]
    assert len(rej.read_text(encoding="utf-8").splitlines()) == 6
    assert "outcomes: read 9 · kept 3 · rejected 6" in err


def test_cli_bad_lead_rows_share_the_rejects_file(tmp_path, small):
    rules, _, outcomes = small
    leads = tmp_path / "leads.jsonl"
    leads.write_text(json.dumps({"id": "L1", "title": "VP"}) + "\n" + json.dumps({"id": "L2", "company_size": "lots"})
                     + "\n", encoding="utf-8")
    rej = tmp_path / "rej.jsonl"
    code, out, err = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--on-bad-row", "skip",
                         "--rejects", rej, "--format", "json", "--as-of", "2026-11-01")
    assert code == 0, err
    d = json.loads(out)
    assert d["inputs"]["leads"] == {"read": 2, "scored": 1, "rejected": 1}
    assert d["inputs"]["outcomes"]["unknown_leads"] == 7     # every outcome but L1's has no lead now
    assert json.loads(rej.read_text(encoding="utf-8"))["source"] == str(leads)


@pytest.mark.parametrize("content,needle", [
    (None, "no such file"),
    ("id,worked_at\nL1,\n", "no 'lead_id' column"),
])
def test_cli_unreadable_outcomes_exit_2(tmp_path, small, content, needle):
    rules, leads, _ = small
    p = tmp_path / "o.csv"
    if content is not None:
        p.write_text(content, encoding="utf-8")
    code, out, err = run("calibrate", rules, "--leads", leads, "--outcomes", p)
    assert code == 2 and needle in err and "Traceback" not in err


def test_cli_outcomes_of_unknown_type_exit_2(tmp_path, small):
    rules, leads, _ = small
    p = tmp_path / "o.xlsx"
    p.write_text("x", encoding="utf-8")
    code, _, err = run("calibrate", rules, "--leads", leads, "--outcomes", p)
    assert code == 2 and "outcomes are read from .csv" in err


def test_cli_broken_rule_file_exits_2(tmp_path, small):
    _, leads, outcomes = small
    bad = tmp_path / "bad.rules"
    bad.write_text(RULES.replace('"Big"     +20 when company_size', '"Big" +20 when company_sise'), encoding="utf-8")
    code, out, err = run("calibrate", bad, "--leads", leads, "--outcomes", outcomes)
    assert code == 2 and "LR2" in err and "Traceback" not in err and out == ""


def test_cli_warns_when_no_outcome_matches(tmp_path, small):
    rules, leads, _ = small
    p = tmp_path / "o.csv"
    p.write_text("lead_id,worked_at,converted\nX1,2026-10-01,true\n", encoding="utf-8")
    code, out, err = run("calibrate", rules, "--leads", leads, "--outcomes", p, "--as-of", "2026-11-01")
    assert code == 0 and "no outcome in" in err and "'X1'" in err


def test_cli_needs_leads_and_outcomes(small):
    rules, leads, _ = small
    code, _, err = run("calibrate", rules, "--leads", leads)
    assert code == 2 and "--outcomes" in err


# ---- --plot ---------------------------------------------------------------------------------------


def test_plot_suffix_and_missing_matplotlib(small, tmp_path, monkeypatch):
    rules, leads, outcomes = small
    code, out, err = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--plot", tmp_path / "c.pdf")
    assert code == 2 and ".png or .svg" in err and out == ""
    monkeypatch.setitem(sys.modules, "matplotlib", None)   # import matplotlib -> ImportError
    code, out, err = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--plot", tmp_path / "c.png")
    assert code == 2 and "pip install 'leadrules[plot]'" in err and out == ""
    assert not (tmp_path / "c.png").exists()


def test_plot_writes_svg(small, tmp_path):
    pytest.importorskip("matplotlib")
    rules, leads, outcomes = small
    out_svg = tmp_path / "c.svg"
    code, _, err = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--as-of", "2026-11-01",
                       "--plot", out_svg)
    assert code == 0, err
    assert out_svg.read_text(encoding="utf-8").lstrip().startswith("<?xml") and "chart written" in err


# ---- the bundled sample: the planted signal -----------------------------------------------------


@pytest.fixture(scope="module")
def sample_report():
    code, out, err = run("calibrate", ACME, "--leads", SAMPLE_LEADS, "--outcomes", SAMPLE_OUTCOMES,
                         "--as-of", "2026-11-01", "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_bundled_sample_finds_the_integrations_signal(sample_report):
    ms = sample_report["missed_signals"]
    top3 = [r["label"] for r in ms["signals"][:3]]
    assert "web_visit page = /integrations" in top3
    integ = next(r for r in ms["signals"] if r["label"] == "web_visit page = /integrations")
    assert integ["scored_by"] == [] and integ["meaningful"] is True
    assert integ["lift"] > 1.2 and integ["converting"] >= 30
    assert ms["top_unscored"] == "web_visit page = /integrations"
    assert 'where page starts with "/integrations"' in ms["suggestion"]
    # the pages acme.rules does score are recognised as scored
    for r in ms["signals"]:
        if r["label"] == "web_visit page = /pricing":
            assert r["scored_by"] == ["Pricing page"]


def test_bundled_sample_counts_add_up(sample_report):
    d = sample_report
    t, o = d["totals"], d["inputs"]["outcomes"]
    assert d["inputs"]["leads"]["read"] == t["leads"] == 3000
    assert o["read"] == o["accepted"] + o["rejected"] and o["accepted"] == o["matched"] + o["unknown_leads"]
    assert sum(g["leads"] for g in d["by_grade"]) == t["leads"]
    assert sum(g["worked"] for g in d["by_grade"]) == t["worked"]
    assert sum(r["converted"] for r in d["by_route"]) == t["converted"]
    cp = d["cherry_picking"]
    assert cp["cherry_picked"]["worked"] + cp["routed_to_sales"]["worked"] == t["worked"]
    assert sum(g["worked"] for g in cp["by_grade"]) == cp["cherry_picked"]["worked"]
    assert cp["cherry_picked"]["worked"] == (d["missed_signals"]["converting_cherry_picks"]
                                             + d["missed_signals"]["non_converting_cherry_picks"])
    # the sweep at today's threshold is what the routes do today
    sales = sum(r["leads"] for r in d["by_route"] if r["route"] == "sales")
    assert {s["dimension"] for s in d["threshold_sweep"]} == {"profile", "engagement"}
    for s in d["threshold_sweep"]:
        cur = next(r for r in s["candidates"] if r["current"])
        assert cur["leads"] == sales and cur["worked"] == cp["routed_to_sales"]["worked"]
        assert cur["converted"] == cp["routed_to_sales"]["converted"]
        # a higher bar never sends more leads to sales
        counts = [r["leads"] for r in s["candidates"]]
        assert counts == sorted(counts, reverse=True)
    for g in d["by_grade"]:
        if g["worked"]:
            assert g["ci_low"] <= g["rate"] <= g["ci_high"]
            assert math.isclose(g["rate"], g["converted"] / g["worked"], abs_tol=1e-6)


def test_bundled_outcomes_are_what_the_script_makes(tmp_path):
    import subprocess

    out = tmp_path / "outcomes.csv"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "gen_outcomes.py"), "--out", str(out)], check=True,
                   capture_output=True)
    assert out.read_text(encoding="utf-8") == SAMPLE_OUTCOMES.read_text(encoding="utf-8"), (
        "rulesets/samples/outcomes.csv is not what scripts/gen_outcomes.py makes from the current acme.rules and "
        "leads.jsonl; regenerate it with: python scripts/gen_outcomes.py")


# ---- accounts: a lead's route depends on its account on the day it was worked -------------------

ACCOUNT_RULES = HEADER + """
score profile "Fit" max 100 {
  "Senior"  +70 when title contains word "VP"
}

score engagement "Interest" max 100 {
  "Demo"  +60 each form_submit where form = "demo" max 60
}

grade profile {
  A when >= 70
  B otherwise
}

grade engagement {
  1 when >= 50
  2 otherwise
}

accounts by domain(email) {
  score buying "Buying group" max 100 {
    "Champion"  +60 when has lead where engagement >= 50
  }
  grade buying {
    hot  when >= 50
    cold otherwise
  }
}

route {
  disqualified        -> suppress
  A1                  -> sales "s"
  account hot and B*  -> sales "abm"
  otherwise           -> nurture "n"
}
"""

ACCOUNT_LEADS = [
    # the champion: asked for a demo on 2026-10-20; never worked
    {"id": "P1", "email": "p1@acme.com", "title": "Analyst", "events": [
        {"type": "form_submit", "form": "demo", "at": "2026-10-20"}]},
    # worked on 2026-10-10, before the demo: a cold account then, so routed to nurture: a cherry-pick
    {"id": "P2", "email": "p2@acme.com", "title": "Analyst"},
    # worked on 2026-10-25, after it: a hot account, so routed to sales "abm"
    {"id": "P3", "email": "p3@acme.com", "title": "Analyst"},
]

ACCOUNT_OUTCOMES = """lead_id,worked_at,converted
P1,,false
P2,2026-10-10,true
P3,2026-10-25,false
"""


def test_accounts_are_replayed_at_each_worked_day(tmp_path):
    rules = tmp_path / "a.rules"
    rules.write_text(ACCOUNT_RULES, encoding="utf-8")
    leads = tmp_path / "leads.jsonl"
    leads.write_text("".join(json.dumps(x) + "\n" for x in ACCOUNT_LEADS), encoding="utf-8")
    outcomes = tmp_path / "o.csv"
    outcomes.write_text(ACCOUNT_OUTCOMES, encoding="utf-8")
    code, out, err = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--as-of", "2026-11-01",
                         "--format", "json", "--min-support", "1")
    assert code == 0, err
    d = json.loads(out)
    routes = {(r["route"], r["queue"]): (r["leads"], r["worked"], r["converted"]) for r in d["by_route"]}
    assert routes == {("sales", "abm"): (2, 1, 0), ("nurture", "n"): (1, 1, 1)}
    cp = d["cherry_picking"]
    assert (cp["cherry_picked"]["worked"], cp["cherry_picked"]["converted"]) == (1, 1)
    assert cp["by_grade"] == [{"grade": "B2", "route": "nurture", "queue": "n", "leads": 2, "worked": 1,
                               "converted": 1, "rate": 1.0, "ci_low": pytest.approx(0.206549, abs=1e-6),
                               "ci_high": 1.0}]
    # the sweep routes with the account lines too: today's threshold sends today's sales leads
    for s in d["threshold_sweep"]:
        assert s["account_routes"] is True
        cur = next(r for r in s["candidates"] if r["current"])
        assert (cur["leads"], cur["worked"]) == (2, 1)
    # stdin cannot be read three times
    r = CliRunner().invoke(cli.main, ["calibrate", str(rules), "--leads", "-", "--outcomes", str(outcomes)],
                           input=leads.read_text(encoding="utf-8"))
    assert r.exit_code == 2 and "cannot be read again" in r.stderr
