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
from runtime.analysis.calibrate import benjamini_hochberg, compare, fisher_exact, norm_path, two_proportion_z, wilson
from runtime.analysis.signals import ScoredBy, lead_features
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


# ---- signals and mentions -----------------------------------------------------------------------


def test_signals_ignore_events_after_the_scoring_day():
    r = load_rules(str(ACME))
    schema = schema_of(r)
    ld = lead("x", title="Engineer", company_size=60, interests=["crm", "AI "],
              events=[ev("web_visit", 3, page="/integrations/hubspot"), ev("form_submit", -2, form="demo-request"),
                      ev("web_visit", 10, page="/pricing"), ev("web_visit", 40, page="/pricing")])
    cats, nums = lead_features(ld, AS_OF, schema)
    assert ("attr", "web_visit", "page", "/integrations") in cats
    assert ("event", "web_visit") in cats
    assert ("field", "title", "engineer") in cats
    assert ("field", "interests", "ai") in cats
    assert nums[("num", "company_size")] == 60
    assert nums[("count", "web_visit")] == 3
    assert nums[("count", "web_visit", 7)] == 1 and nums[("count", "web_visit", 30)] == 2
    assert nums[("count", "web_visit", "page", "/pricing")] == 2
    assert nums[("recency", "web_visit")] == 3
    assert not any(s[1] == "form_submit" for s in cats)  # two days after the as-of date
    assert ("count", "form_submit") not in nums       # none yet: the analysis counts it as 0


def test_a_date_field_after_the_scoring_day_is_not_yet_known():
    r = load_rules(str(ACME))
    schema = schema_of(r)
    import datetime as dt

    day = dt.date.fromordinal(AS_OF)
    past = lead("a", created_at=day - dt.timedelta(days=9))
    future = lead("b", created_at=day + dt.timedelta(days=5))
    assert lead_features(past, AS_OF, schema)[1][("age", "created_at")] == 9
    assert ("age", "created_at") not in lead_features(future, AS_OF, schema)[1]


def test_scored_by_evaluates_the_rules_not_their_text():
    r = load_rules(str(ACME))
    m = ScoredBy(r.engine, AS_OF)
    assert m.of(("attr", "web_visit", "page", "/pricing")) == ["Pricing page"]
    assert m.of(("attr", "web_visit", "page", "/customers")) == ["Case studies"]
    assert m.of(("attr", "web_visit", "page", "/integrations")) == []
    assert m.of(("field", "industry", "software")) == ["Target industry"]  # via the list
    assert m.of(("field", "country", "br")) == []
    assert m.of(("field", "title", "vp marketing")) == ["Seniority"]
    # "supervisor" shares letters with no tier; "vpn engineer" contains "vp" but not the word
    assert m.of(("field", "title", "vpn engineer")) == []
    assert m.of(("field", "title", "it manager")) == ["Seniority"]
    assert m.of(("field", "title", "intern")) == []      # a disqualify reason, not a criterion
    assert "Demo request" in m.of(("event", "form_submit"))
    assert m.of(("event", "email_open")) == ["Email opens", "Gone quiet"]   # "days since last event"
    # a number bin is scored when a criterion tells it apart from the leads outside it
    assert m.of(("num", "company_size"), 450, 60, 200) == ["Mid-market"]
    assert m.of(("num", "company_size"), 5000, 60, 1000) == ["Enterprise"]
    assert m.of(("num", "company_size"), 20, 15, 10) == []
    # counts: an `each` scores counts below its cap; `has` only tells 0 from 1 or more
    assert "Pricing page" in m.of(("count", "web_visit", "page", "/pricing"), None, None, 2)
    assert "Pricing page" not in m.of(("count", "web_visit", "page", "/pricing"), None, None, 4)  # max 30 = 3 visits
    assert m.of(("count", "unsubscribe"), None, None, 1) == ["Gone quiet", "Unsubscribed"]
    assert m.of(("count", "unsubscribe"), None, None, 2) == []


def test_scored_by_a_tier_that_quotes_a_word_but_does_not_match(tmp_path):
    p = tmp_path / "t.rules"
    p.write_text(HEADER + """
score profile "Fit" max 100 {
  "Seniority" first of {
    +30 when title contains word "VP Sales"
    +10 when title starts with "director"
    +0 otherwise
  }
  "Demo views" +5 each web_visit where page = "/demo"
}
""", encoding="utf-8")
    r = load_rules(str(p))
    m = ScoredBy(r.engine, AS_OF)
    assert m.of(("field", "title", "vp of finance")) == []        # quotes "vp", does not match
    assert m.of(("field", "title", "senior vp sales")) == ["Seniority"]
    assert m.of(("field", "title", "director of it")) == ["Seniority"]
    assert m.of(("attr", "web_visit", "page", "/demo")) == ["Demo views"]
    assert m.of(("attr", "web_visit", "page", "/demos")) == []
    assert m.of(("field", "company", "demo views inc")) == []     # never named by a criterion


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
    assert d["version"] == 2 and d["as_of"] == "2026-11-01"
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
    # every worked lead the rules scored: L1, L4, L5 converted; L2, L6, L8 did not
    assert (ms["population"], ms["converting"], ms["not_converting"], ms["min_support"]) == ("worked", 3, 3, 1)
    rows = {r["label"]: r for r in ms["signals"]}
    integ = rows["web_visit page = /integrations"]
    assert (integ["leads"], integ["converting"], integ["not_converting"]) == (2, 2, 0)
    assert (integ["rate_with"], integ["rate_without"], integ["lift"]) == (1.0, 0.25, 4.0)
    # Cochran-Mantel-Haenszel, one stratum, continuity-corrected: U = 2 - 2*3/6 = 1,
    # V = 2*4*3*3 / (6^2 * 5) = 0.4, chi2 = (1 - 0.5)^2 / 0.4
    assert integ["p_value"] == pytest.approx(math.erfc(math.sqrt(0.625 / 2)), abs=1e-6)
    assert integ["scored_by"] == [] and integ["meaningful"] is False and integ["direction"] == "for"
    assert ms["top_unscored"] is None                                 # nothing meaningful with 6 leads
    # L8's demo came after it was worked: the only demo signal is L1's
    assert rows["has form_submit"]["leads"] == 1 and rows["has form_submit"]["scored_by"] == ["Demo"]
    # what the rules score is said from their meaning
    assert rows["title = vp sales"]["scored_by"] == ["Senior"] and rows["title = analyst"]["scored_by"] == []
    assert rows["company_size >= 5,000"]["scored_by"] == ["Big"]
    assert {e["key"] for e in ms["excluded_keys"]} == {"id"}
    assert ms["tested"] == len(ms["signals"])


def test_small_case_criteria_and_dimensions(small):
    d = small_report(small)
    crit = {c["criterion"]: c for c in d["criteria"]}
    s = crit["Senior"]      # L1 (converted) and L2 (not)
    assert (s["fires"], s["converted_when_fires"], s["rate_when_fires"], s["rate_otherwise"]) == (2, 1, 0.5, 0.5)
    assert s["lift"] == 1.0 and s["verdict"] == "no signal" and s["fire_rate"] == pytest.approx(1 / 3, abs=1e-6)
    demo = crit["Demo"]     # L1 only: L8's demo came after it was worked
    assert (demo["fires"], demo["converted_when_fires"], demo["lift"]) == (1, 1, 2.5)
    dm = d["dimensions"]
    assert (dm["worked_scored"], dm["converted"]) == (6, 3)
    # totals: L1 150, L2 70, L4 20, L5 0, L6 0, L8 20 -> converters (150, 20, 0) vs (70, 0, 20):
    # pairs won 1 + 1 + 1 + 0.5 + 0.5 + 0.5 ... = 5 of 9
    assert dm["total"]["auc"] == pytest.approx(5 / 9, abs=1e-4)
    prof = dm["by_dimension"][0]
    assert [(b["band"], b["worked"], b["converted"]) for b in prof["bands"]] == [("A", 2, 1), ("B", 2, 1), ("C", 2, 1)]
    assert prof["bands"][0]["median_days_to_convert"] == 20.0      # L1: 2026-10-31 -> 2026-11-20
    a1 = next(g for g in d["by_grade"] if g["grade"] == "A1")
    assert a1["median_days_to_convert"] == 20.0


def test_small_case_min_support_filters(small):
    # no signal is held by 3 converting (or 3 non-converting) worked leads
    ms = small_report(small, "--min-support", "3")["missed_signals"]
    assert ms["signals"] == [] and ms["tested"] == 0
    ms = small_report(small, "--min-support", "2")["missed_signals"]
    assert ms["tested"] == len(ms["signals"]) >= 1
    assert all(r["converting"] >= 2 or r["not_converting"] >= 2 for r in ms["signals"])


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
    assert got["L1"].worked and got["L1"].converted and got["L1"].line == 2
    assert not got["L6"].worked and not got["L6"].converted   # never worked, nothing happened
    assert got["L8"].stage == "open"
    assert (r.read, r.rejected, r.duplicates) == (9, 6, 1)
    assert r.read == len(got) + r.rejected
    lines = [json.loads(x) for x in rej.getvalue().splitlines()]
    assert [x["line"] for x in lines] == [3, 4, 5, 6, 7, 8]  # the file's lines: the header is line 1
    reasons = [x["reason"] for x in lines]
    assert "worked_at" in reasons[0] and "not a date" in reasons[0]
    assert "converted" in reasons[1] and "maybe" in reasons[1]
    assert '"lead_id" is missing' in reasons[2]
    assert "converted_at" in reasons[3]
    assert "duplicate outcome" in reasons[4] and "line 2" in reasons[4]
    assert '"converted" is missing' in reasons[5]
    assert lines[0]["row"] == "L2,2026-13-45,false,,"
    assert all(x["source"] == str(p) for x in lines)


def test_outcome_reader_bad_rows_fail(tmp_path):
    p = tmp_path / "o.csv"
    p.write_text(BAD_OUTCOMES, encoding="utf-8")
    with pytest.raises(BadRowsError) as e:
        OutcomeReader(str(p)).load()
    assert [b.line for b in e.value.bad_rows] == [3, 4, 5, 6, 7, 8]


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
    assert f"{p}:3:" in err and "Traceback" not in err
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
    ms = d["missed_signals"]
    assert ms["converting"] + ms["not_converting"] + d["dimensions"]["worked_disqualified"] == t["worked"]
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
    # stdin cannot be read twice
    r = CliRunner().invoke(cli.main, ["calibrate", str(rules), "--leads", "-", "--outcomes", str(outcomes)],
                           input=leads.read_text(encoding="utf-8"))
    assert r.exit_code == 2 and "cannot be read again" in r.stderr


# ---- --scores-out, --as-of-field ------------------------------------------------------------------


def test_scores_out_writes_each_lead_as_of_its_own_day(small, tmp_path):
    rules, leads, outcomes = small
    out = tmp_path / "scores.jsonl"
    small_report(small, "--scores-out", out)
    rows = {r["id"]: r for r in map(json.loads, out.read_text(encoding="utf-8").splitlines())}
    assert len(rows) == 8
    assert rows["L1"]["as_of"] == "2026-10-31" and rows["L3"]["as_of"] == "2026-11-01"   # L3 never worked
    assert rows["L8"]["grade"] == "B2" and rows["L8"]["as_of"] == "2026-10-27"        # the demo came later
    csv_out = tmp_path / "scores.csv"
    small_report(small, "--scores-out", csv_out)
    lines = csv_out.read_text(encoding="utf-8").splitlines()
    assert lines[0].endswith(",as_of") and len(lines) == 9
    assert any(x.startswith("L8,") and x.endswith(",2026-10-27") for x in lines)


def test_calibrate_as_of_field_scores_at_a_lead_date(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text(RULES, encoding="utf-8")   # HEADER declares created_at: date
    leads = tmp_path / "leads.jsonl"
    leads.write_text(json.dumps({"id": "L1", "title": "Analyst", "created_at": "2026-10-01", "events": [
        {"type": "form_submit", "form": "demo", "at": "2026-10-15"}]}) + "\n", encoding="utf-8")
    outcomes = tmp_path / "o.csv"
    outcomes.write_text("lead_id,worked_at,converted\nL1,2026-10-20,true\n", encoding="utf-8")
    scores = tmp_path / "s.jsonl"
    base = ["calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--as-of", "2026-11-01", "--format", "json"]
    code, out, err = run(*base, "--scores-out", scores)
    assert code == 0, err
    assert json.loads(scores.read_text())["scores"]["engagement"] == 60     # worked_at: after the demo
    code, out, err = run(*base, "--scores-out", scores, "--as-of-field", "created_at")
    assert code == 0, err
    assert json.loads(out)["as_of_field"] == "created_at"
    got = json.loads(scores.read_text())
    assert got["as_of"] == "2026-10-01" and got["scores"]["engagement"] == 0   # before the demo
    code, out, err = run(*base, "--as-of-field", "title")
    assert code == 2 and "not a date field" in err and "created_at" in err and out == ""


AS_OF_RULES = """ruleset "t" version 1
fields {
  title: text
  created_at: date
}
events {
  web_visit
}
score engagement "E" max 100 {
  "Visits" +10 each web_visit max 50
}
grade engagement {
  hot when >= 20
  cold otherwise
}
route {
  hot -> sales "s"
  otherwise -> nurture "n"
}
"""

AS_OF_LEADS = [
    {"id": "a", "created_at": "2026-10-02", "events": [{"type": "web_visit", "at": "2026-10-01"},
                                                      {"type": "web_visit", "at": "2026-10-02"},
                                                      {"type": "web_visit", "at": "2026-10-20"}]},
    {"id": "b", "events": [{"type": "web_visit", "at": "2026-10-01"}, {"type": "web_visit", "at": "2026-10-03"}]},
    # created after the as-of date: not yet known, scored as of --as-of
    {"id": "c", "created_at": "2026-12-30", "events": [{"type": "web_visit", "at": "2026-10-01"}]},
]


@pytest.fixture()
def as_of_case(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text(AS_OF_RULES, encoding="utf-8")
    leads = tmp_path / "leads.jsonl"
    leads.write_text("".join(json.dumps(x) + "\n" for x in AS_OF_LEADS), encoding="utf-8")
    return rules, leads


def test_score_simulate_explain_diff_take_as_of_field(as_of_case):
    rules, leads = as_of_case
    common = ["--leads", leads, "--as-of", "2026-11-01"]
    code, out, err = run("score", rules, *common, "--as-of-field", "created_at")
    assert code == 0, err
    got = {r["id"]: r["scores"]["engagement"] for r in map(json.loads, out.splitlines())}
    assert got == {"a": 20, "b": 20, "c": 10}           # a: 2 visits by 2026-10-02, not 3
    code, out, _ = run("score", rules, *common)
    assert {r["id"]: r["scores"]["engagement"] for r in map(json.loads, out.splitlines())}["a"] == 30
    code, out, err = run("simulate", rules, *common, "--as-of-field", "created_at", "--format", "json")
    assert code == 0, err
    grades = {g["grade"]: g["count"] for g in json.loads(out)["runs"][0]["grades"]}
    assert grades["hot"] == 2 and grades["cold"] == 1
    code, out, err = run("explain", rules, "--leads", leads, "--id", "a", "--as-of", "2026-11-01",
                         "--as-of-field", "created_at", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["as_of"] == "2026-10-02"
    code, out, err = run("diff", rules, rules, *common, "--as-of-field", "created_at", "--format", "json")
    assert code == 0, err
    assert json.loads(out)["inputs"][0]["scored"] == 3


def test_as_of_field_worked_at_from_outcomes(as_of_case, tmp_path):
    rules, leads = as_of_case
    outcomes = tmp_path / "o.csv"
    outcomes.write_text("lead_id,worked_at,converted\na,2026-10-01,true\nb,2026-10-03,false\n", encoding="utf-8")
    common = ["--leads", leads, "--as-of", "2026-11-01", "--as-of-field", "worked_at", "--outcomes", outcomes]
    code, out, err = run("score", rules, *common)
    assert code == 0, err
    got = {r["id"]: r["scores"]["engagement"] for r in map(json.loads, out.splitlines())}
    assert got == {"a": 10, "b": 20, "c": 10}        # c was never worked: as of --as-of
    assert "not the fast path" in err
    code, out, err = run("simulate", rules, *common, "--format", "json")
    assert code == 0, err
    assert {g["grade"]: g["count"] for g in json.loads(out)["runs"][0]["grades"]}["hot"] == 1
    code, out, err = run("explain", rules, "--id", "b", *common, "--format", "json")
    assert code == 0, err
    assert json.loads(out)["as_of"] == "2026-10-03"
    code, out, err = run("diff", rules, rules, *common, "--format", "json")
    assert code == 0, err


def test_as_of_field_refusals_exit_2(as_of_case):
    rules, leads = as_of_case
    common = ["--leads", leads, "--as-of", "2026-11-01"]
    code, out, err = run("score", rules, *common, "--as-of-field", "title")
    assert code == 2 and "not a date field" in err and out == ""
    code, out, err = run("score", rules, *common, "--as-of-field", "worked_at")
    assert code == 2 and "--outcomes PATH" in err and out == ""
    code, out, err = run("simulate", rules, *common, "--outcomes", leads)
    assert code == 2 and "only with --as-of-field worked_at" in err and out == ""
    pytest.importorskip("duckdb")
    code, out, err = run("score", rules, *common, "--as-of-field", "created_at", "--engine", "duckdb")
    assert code == 2 and "duckdb engine cannot" in err and out == ""


# ---- --suggest on the bundled example ------------------------------------------------------------


def test_suggest_needs_the_calibrate_extra(small, tmp_path, monkeypatch):
    rules, leads, outcomes = small
    monkeypatch.setitem(sys.modules, "sklearn", None)
    monkeypatch.setitem(sys.modules, "sklearn.linear_model", None)
    out = tmp_path / "v2.rules"
    code, stdout, err = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--suggest", out)
    assert code == 2 and "pip install 'leadrules[calibrate]'" in err and stdout == ""
    assert len(err.strip().splitlines()) == 1 and not out.exists()


@pytest.fixture(scope="module")
def acme_suggested(tmp_path_factory):
    pytest.importorskip("sklearn")
    out = tmp_path_factory.mktemp("acme") / "acme-v5.rules"
    code, stdout, err = run("calibrate", ACME, "--leads", SAMPLE_LEADS, "--outcomes", SAMPLE_OUTCOMES,
                            "--as-of", "2026-11-01", "--format", "json", "--suggest", out)
    assert code == 0, err
    return json.loads(stdout), out


def test_suggest_on_acme_round_trips_through_lint_and_diff(acme_suggested):
    d, out = acme_suggested
    text = out.read_text(encoding="utf-8")
    assert 'ruleset "acme-b2b" version 5' in text
    # the integrations pages become a criterion of engagement, with the reason on its line
    line = next(x for x in text.splitlines() if "/integrations" in x and "when has web_visit" in x)
    assert "# new, lift" in line and ", q " in line
    assert d["suggested"]["added"][0]["signal"] == "web_visit page = /integrations"
    h = d["suggested"]["held_out_auc"]
    assert h["suggested"] > h["current"] + 0.05 and h["logistic_regression"] >= h["current"]
    code, lint_out, _ = run("lint", "--strict", out)
    assert code == 0, lint_out
    code, fmt_out, _ = run("fmt", "--check", out)
    assert code == 0, fmt_out
    code, diff_out, err = run("diff", ACME, out, "--leads", SAMPLE_LEADS, "--as-of", "2026-11-01")
    assert code == 0, err
    assert "points changed" in diff_out and "criterion added" in diff_out


def test_suggest_recuts_bands_to_keep_shares_unless_told(acme_suggested, tmp_path):
    d, out = acme_suggested
    old = {g["grade"] for g in d["by_grade"]}
    assert old
    # today's band shares per dimension, and the suggested file's over the same leads, as of 2026-11-01
    def shares(rules_path):
        code, o, err = run("calibrate", rules_path, "--leads", SAMPLE_LEADS, "--outcomes", SAMPLE_OUTCOMES,
                           "--as-of", "2026-11-01", "--format", "json")
        assert code == 0, err
        doc = json.loads(o)
        return {(x["dimension"], b["band"]): b["leads"] for x in doc["dimensions"]["by_dimension"]
                for b in x["bands"]}
    before, after = shares(ACME), shares(out)
    total = sum(v for (dim, _), v in before.items() if dim == "profile")
    for k in before:
        assert abs(before[k] - after[k]) <= 0.03 * total, (k, before[k], after[k])
    kept = tmp_path / "kept.rules"
    code, _, err = run("calibrate", ACME, "--leads", SAMPLE_LEADS, "--outcomes", SAMPLE_OUTCOMES,
                       "--as-of", "2026-11-01", "--format", "json", "--suggest", kept, "--keep-bands")
    assert code == 0, err
    grade_lines = lambda t: [x.split("#")[0].strip() for x in t.splitlines() if " when >= " in x and  # noqa: E731
                             x.strip()[:2].strip().isalnum() and "+" not in x and "-" not in x.split("#")[0]]
    assert grade_lines(kept.read_text()) == grade_lines(ACME.read_text())


def test_readme_calibrate_section_is_what_the_commands_print(acme_suggested, tmp_path):
    """The README's calibrate example, run: its table rows are the report's, its suggested lines the
    suggested file's (alignment aside), and the held-out AUCs the report's."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Should sales cherry-pick?"):readme.index("## Layout")]
    code, out, err = run("calibrate", ACME, "--leads", SAMPLE_LEADS, "--outcomes", SAMPLE_OUTCOMES,
                         "--as-of", "2026-11-01")
    assert code == 0, err
    squash = lambda s: " ".join(s.split())  # noqa: E731
    report = squash(out)
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| ...") and not any(
                k in line for k in ("rules today", "suggested rules", "logistic regression")):
            assert squash(line) in report, line
    d, suggested = acme_suggested
    text = squash(suggested.read_text(encoding="utf-8"))
    for line in section.splitlines():
        if line.startswith('  "') and "# " in line:
            assert squash(line) in text, line
    h = d["suggested"]["held_out_auc"]
    for name, key in (("rules today", "current"), ("suggested rules", "suggested"),
                      ("logistic regression (same signals)", "logistic_regression")):
        assert f"| {name}" in section and f"{h[key]:.3f}" in section


# ---- the statistics of signals, by hand ----------------------------------------------------------


def test_auc_by_hand_with_ties():
    from runtime.analysis.signals import auc, auc_ci

    # converters 3, 2; others 2, 1: pairs (3>2, 3>1, 2=2 half, 2>1) = 3.5 of 4
    assert auc([3, 2, 2, 1], [1, 1, 0, 0]) == pytest.approx(3.5 / 4)
    assert auc([1, 2], [1, 1]) is None
    lo, hi = auc_ci(0.875, 2, 2)
    assert 0 <= lo < 0.875 < hi <= 1


def test_risk_ratio_and_katz_interval():
    from runtime.analysis.signals import risk_ratio

    rr, (lo, hi) = risk_ratio(30, 100, 15, 100)
    assert rr == pytest.approx(2.0)
    se = math.sqrt(1 / 30 - 1 / 100 + 1 / 15 - 1 / 100)
    assert lo == pytest.approx(2 * math.exp(-1.959964 * se), rel=1e-5)
    assert hi == pytest.approx(2 * math.exp(1.959964 * se), rel=1e-5)
    assert risk_ratio(3, 10, 0, 10) == (None, None)


def test_cluster_robust_variance_by_hand():
    from runtime.analysis.signals import Population

    # two clusters of identical leads: a and b hold the signal and converted, c and d did neither
    ys, clusters = [1, 1, 0, 0], ["g1", "g1", "g2", "g2"]
    pop = Population(ys, [0, 0, 0, 0], clusters)
    t = pop.test([0, 1])
    # U = 2 - 2*2/4 = 1; model V = 2*2*2*2/(16*3) = 1/3; robust: per cluster sum of (x - 1/2)(y - 1/2):
    # g1 = 2 * 1/4, g2 = 2 * 1/4 -> (1/2)^2 + (1/2)^2 = 1/2, times G/(G-1) = 2 -> 1; the larger wins
    assert t["p_value"] == pytest.approx(math.erfc(math.sqrt((1 - 0.5) ** 2 / 1 / 2)))
    lone = Population(ys, [0, 0, 0, 0], None).test([0, 1])
    assert lone["p_value"] == pytest.approx(math.erfc(math.sqrt((1 - 0.5) ** 2 / (1 / 3) / 2)))
    assert t["p_value"] > lone["p_value"]


def test_quantile_bins_follow_the_data():
    from runtime.analysis.signals import quantile_bins

    # quintile cut points at positions 20, 40, 60, 80 of 100: 0, 0, 1, 3 -> bins 0, 1-2, 3 and up
    counts = [0] * 50 + [1] * 20 + [2] * 10 + [3] * 10 + [7] * 10
    assert quantile_bins(counts, integer=True) == [(0, 1.0), (1.0, 3.0), (3.0, None)]
    revenue = [10 ** (5 + i / 100) for i in range(300)]
    bins = quantile_bins(revenue)
    assert len(bins) == 5 and bins[-1][1] is None
    assert all(float(f"{hi:.2g}") == hi for _, hi in bins[:-1])     # two significant digits
    assert quantile_bins([4, 4, 4]) == [(4, None)]


def test_identifier_keys():
    from runtime.analysis.signals import identifier_keys

    rows = [{("field", "email", f"p{i}@x.com"), ("field", "account", f"a{i % 60}"),
             ("field", "title", "vp" if i % 3 else "cfo"), ("attr", "web_visit", "page", f"/p{i % 4}")}
            for i in range(600)]
    ids = identifier_keys(rows, {("field", "id")})
    assert set(ids) == {("field", "id"), ("field", "email"), ("field", "account")}
    assert ids[("field", "email")].startswith("identifier-like")
    assert ids[("field", "account")].startswith("high-cardinality")


def test_suggested_file_elsewhere_keeps_its_simulation_and_diffs_without_leads(tmp_path):
    pytest.importorskip("sklearn")
    out = tmp_path / "v5" / "acme.rules"
    code, _, err = run("calibrate", ACME, "--leads", SAMPLE_LEADS, "--outcomes", SAMPLE_OUTCOMES,
                       "--as-of", "2026-11-01", "--suggest", out, "--keep-bands")
    assert code == 2 and "no such folder" in err          # said before any work
    out.parent.mkdir()
    code, _, err = run("calibrate", ACME, "--leads", SAMPLE_LEADS, "--outcomes", SAMPLE_OUTCOMES,
                       "--as-of", "2026-11-01", "--suggest", out, "--keep-bands")
    assert code == 0, err
    # the simulation block's sample, relative to the new file
    code, diff_out, err = run("diff", ACME, out, "--format", "json")
    assert code == 0, err
    assert json.loads(diff_out)["inputs"][0]["read"] == 3000


@settings(max_examples=150, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=1, max_size=300), st.booleans())
def test_quantile_bins_partition_the_values(values, integer):
    from runtime.analysis.signals import quantile_bins

    vals = [float(v) if integer else v * 1234.5 for v in values]
    bins = quantile_bins(vals, integer=integer)
    assert bins and bins[0][0] == min(vals) and bins[-1][1] is None
    assert all(lo < hi for lo, hi in bins[:-1]) and all(a[1] == b[0] for a, b in zip(bins, bins[1:]))
    for v in vals:   # every value in exactly one bin
        assert sum(1 for lo, hi in bins if v >= lo and (hi is None or v < hi)) == 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(0, 5)), min_size=2, max_size=80))
def test_signal_test_p_values_are_probabilities_and_clusters_never_narrow(rows):
    from runtime.analysis.signals import Population

    ys = [int(y) for y, _, _ in rows]
    idx = [i for i, (_, x, _) in enumerate(rows) if x]
    lone = Population(ys, [0] * len(ys), None).test(idx)
    clustered = Population(ys, [0] * len(ys), [g for _, _, g in rows]).test(idx)
    for t in (lone, clustered):
        assert t["p_value"] is None or 0.0 <= t["p_value"] <= 1.0
    if lone["p_value"] is not None:
        assert clustered["p_value"] >= lone["p_value"] - 1e-12   # the larger variance is used


def test_suggest_with_too_few_outcomes_says_so(small, tmp_path):
    pytest.importorskip("sklearn")
    rules, leads, outcomes = small
    out = tmp_path / "v2.rules"
    code, stdout, err = run("calibrate", rules, "--leads", leads, "--outcomes", outcomes, "--as-of", "2026-11-01",
                            "--suggest", out)
    assert code == 2 and "at least 10 that converted and 10 that did not (here 3 and 3)" in err
    assert "internal error" not in err and not out.exists()
