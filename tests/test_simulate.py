"""runtime/analysis/simulate.py (the streaming aggregates and the guardrails), runtime/report/simulate.py (the json
report's shape, text and markdown) and `leadrules simulate` end to end through click."""
from __future__ import annotations

import io
import json
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console

import cli
from dsl import nodes as n
from runtime.report import simulate as simreport
from runtime.core.model import Result
from runtime.analysis.simulate import (Aggregator, bin_edges, check_guardrail, grade_pattern, histogram, nice_width,
                              quantile)
from tests.helpers import AS_OF, HEADER, engine, ev, lead

RULES = """
disqualify "test lead" when email ends with "@example.com"
disqualify "competitor" when domain(email) in ["rival.com"]

score profile "Who they are" max 100 {
  "Senior"  +50 when title contains word "VP"
  "Big"     +30 when company_size >= 1000
  "Never"   +10 when industry = "nothing matches this"
}

score engagement "How interested" max 100 {
  "Clicks"  +10 each email_click max 30
  "Demo"    +60 when has form_submit where form = "demo" within 30 days
}

grade profile {
  A when >= 80
  B when >= 50
  C when >= 30
  D otherwise
}

grade engagement {
  1 when >= 60
  2 when >= 20
  3 otherwise
}

route {
  A1            -> sales "hot" within 1 hour
  A*, B1        -> sales "standard" within 1 day
  disqualified  -> suppress
  otherwise     -> nurture "track"
}
"""


@pytest.fixture(scope="module")
def eng():
    return engine(RULES, header=True)


def leads_mix():
    """10 leads with known results (as of AS_OF)."""
    clicks = lambda k: [ev("email_click", 1)] * k  # noqa: E731
    return [
        lead("a1", title="VP Sales", company_size=5000, events=[ev("form_submit", 2, form="demo")]),  # A1 sales hot
        lead("a2", title="VP Sales", company_size=5000, events=clicks(2)),                           # A2 sales standard
        lead("a3", title="VP Sales", company_size=5000),                                             # A3 sales standard
        lead("b1", title="VP", events=[ev("form_submit", 1, form="demo")]),                          # B1 sales standard
        lead("b2", title="VP", events=clicks(5)),                                                    # B2 (clicks capped 30)
        lead("c3", company_size=2000, events=clicks(3)),                                             # C2 (30 = cap, not binding)
        lead("d3", title="Analyst"),                                                                 # D3
        lead("d3b"),                                                                                 # D3
        lead("x1", email="mm@example.com", title="VP"),                                              # disqualified
        lead("x2", email="spy@rival.com"),                                                           # disqualified
    ]


@pytest.fixture(scope="module")
def agg(eng):
    a = Aggregator(eng)
    for l in leads_mix():
        a.add(eng.score(l, AS_OF))
    return a


# ---- the aggregates ---------------------------------------------------------------------------


def test_counts_and_disqualified_reasons(agg):
    rep = agg.report()
    assert rep["leads"] == {"scored": 10, "disqualified": 2, "graded": 8, "numbered": 0}
    assert rep["disqualified"] == [{"reason": "competitor", "count": 1, "share": 0.1},
                                   {"reason": "test lead", "count": 1, "share": 0.1}]


def test_grade_distribution_lists_every_grade_in_band_order(agg):
    grades = agg.report()["grades"]
    assert [g["grade"] for g in grades] == [b + e for b in "ABCD" for e in "123"] + ["disqualified"]
    counts = {g["grade"]: g["count"] for g in grades}
    assert counts["A1"] == 1 and counts["A2"] == 1 and counts["A3"] == 1
    assert counts["B1"] == 1 and counts["B2"] == 1 and counts["C2"] == 1 and counts["D3"] == 2
    assert counts["disqualified"] == 2
    assert sum(counts.values()) == 10
    assert sum(g["share"] for g in grades) == pytest.approx(1.0)


def test_matrix_is_profile_by_engagement(agg):
    m = agg.report()["matrix"]
    assert m["rows"] == "profile" and m["columns"] == "engagement"
    assert m["row_bands"] == ["A", "B", "C", "D"] and m["column_bands"] == ["1", "2", "3"]
    assert m["counts"] == [[1, 1, 1], [1, 1, 0], [0, 1, 0], [0, 0, 2]]
    assert sum(map(sum, m["counts"])) == 8  # disqualified leads have no bands


def test_routes_and_queues(agg):
    rep = agg.report()
    assert rep["routes"] == [{"route": "sales", "count": 4, "share": 0.4},
                             {"route": "suppress", "count": 2, "share": 0.2},
                             {"route": "nurture", "count": 4, "share": 0.4}]
    q = {(x["route"], x["queue"]): (x["count"], x["sla"]) for x in rep["queues"]}
    assert q == {("sales", "hot"): (1, "1 hour"), ("sales", "standard"): (3, "1 day"),
                 ("suppress", None): (2, None), ("nurture", "track"): (4, None)}
    # queues come in route-block order
    assert [x["queue"] for x in rep["queues"]] == ["hot", "standard", None, "track"]


def test_criteria_fires_mean_points_and_cap_binds(agg):
    crit = {c["name"]: c for c in agg.report()["criteria"]}
    assert crit["Senior"]["fired"] == 5 and crit["Senior"]["mean_points"] == 50
    assert crit["Senior"]["fire_rate"] == pytest.approx(5 / 8, abs=1e-6)  # over graded leads
    assert crit["Big"]["fired"] == 4
    # Clicks: a2 (2 -> 20), b2 (5 -> 50 capped at 30: binds), c3 (3 -> 30: at the cap, not binding)
    assert crit["Clicks"]["fired"] == 3
    assert crit["Clicks"]["mean_points"] == pytest.approx((20 + 30 + 30) / 3, abs=0.01)
    assert crit["Clicks"]["cap"] == 30 and crit["Clicks"]["cap_binds"] == 1
    assert crit["Demo"]["cap"] is None and crit["Demo"]["cap_binds"] is None
    assert crit["Never"]["fired"] == 0 and crit["Never"]["mean_points"] is None


def test_never_fired_and_unreached_bands(agg):
    rep = agg.report()
    assert rep["never_fired"] == [{"dimension": "profile", "name": "Never"}]
    # every profile band and engagement band has a lead
    assert rep["unreached_bands"] == []


def test_unreached_bands_listed(eng):
    a = Aggregator(eng)
    a.add(eng.score(lead("d"), AS_OF))
    ub = a.report()["unreached_bands"]
    assert {"dimension": "profile", "band": "A"} in ub and {"dimension": "engagement", "band": "1"} in ub
    assert {"dimension": "profile", "band": "D"} not in ub


def test_dimension_histogram_and_stats(agg):
    prof = agg.report()["dimensions"][0]
    assert prof["dimension"] == "profile" and prof["label"] == "Who they are"
    assert [(h["from"], h["to"]) for h in prof["histogram"]] == [(i * 10, i * 10 + 10) for i in range(10)]
    by_bin = {h["from"]: h["count"] for h in prof["histogram"]}
    # scores: 80 x3, 50 x2, 30, 0 x2
    assert by_bin[80] == 3 and by_bin[50] == 2 and by_bin[30] == 1 and by_bin[0] == 2
    assert sum(by_bin.values()) == 8
    assert prof["stats"]["min"] == 0 and prof["stats"]["max"] == 80 and prof["stats"]["median"] == 50
    assert prof["stats"]["mean"] == pytest.approx((240 + 100 + 30) / 8, abs=0.01)
    bands = {b["band"]: b["count"] for b in prof["bands"]}
    assert bands == {"A": 3, "B": 2, "C": 1, "D": 2}


def test_histogram_edges_and_the_last_bin_holds_max():
    counts = {0.0: 1, 9.99: 1, 10.0: 1, 99.99: 1, 100.0: 1}
    h = histogram(counts, 0, 100, 5)
    assert h[0]["count"] == 2 and h[1]["count"] == 1 and h[-1]["count"] == 2
    assert bin_edges(-20, 100) == [-20, 0, 20, 40, 60, 80, 100]
    assert bin_edges(0, 40) == [0, 5, 10, 15, 20, 25, 30, 35, 40]
    assert bin_edges(0, 95)[-1] == 95  # the last bin ends at max, even off the round grid
    assert nice_width(100) == 10 and nice_width(25) == 2.5 and nice_width(1000) == 100


def test_quantile_nearest_rank():
    items = [(1.0, 1), (2.0, 1), (3.0, 1), (4.0, 1)]
    assert quantile(items, 4, 0.5) == 2.0 and quantile(items, 4, 0.9) == 4.0 and quantile([], 0, 0.5) is None


def test_grade_pattern_wildcards():
    assert grade_pattern("A*").match("A1") and grade_pattern("A*").match("A")
    assert not grade_pattern("A*").match("BA1")
    assert grade_pattern("*1").match("B1") and not grade_pattern("*1").match("B12")
    assert grade_pattern("A1").match("A1") and not grade_pattern("A1").match("A10")


def test_results_without_criterion_points_are_fine(eng):
    """Another backend may give scores without per-criterion points: the counts still add up."""
    a = Aggregator(eng)
    a.add(Result("x", {"profile": 50.0, "engagement": 0.0}, {"profile": "B", "engagement": "3"}, "B3",
                 "nurture", "track", None, None))
    rep = a.report()
    assert rep["leads"]["graded"] == 1 and rep["never_fired"] == []
    assert all(c["fired"] == 0 for c in rep["criteria"])


def test_one_graded_dimension_has_no_matrix():
    e = engine('score profile "P" max 100 {\n "VP" +50 when title contains "VP"\n}\n'
               'grade profile {\n A when >= 50\n B otherwise\n}\nroute {\n A -> sales "q"\n otherwise -> nurture "n"\n}\n',
               header=True)
    a = Aggregator(e)
    a.add(e.score(lead(title="VP"), AS_OF))
    rep = a.report()
    assert rep["matrix"] is None
    assert [g["grade"] for g in rep["grades"]] == ["A", "B", "disqualified"]


def test_three_graded_dimensions_matrix_sums_over_the_third():
    e = engine('score p "P" max 10 {\n "a" +10 when title = "x"\n}\n'
               'score q "Q" max 10 {\n "b" +10 when industry = "y"\n}\n'
               'score r "R" max 10 {\n "c" +10 when company_size > 5\n}\n'
               'grade p {\n H when >= 10\n L otherwise\n}\ngrade q {\n 1 when >= 10\n 2 otherwise\n}\n'
               'grade r {\n x when >= 10\n y otherwise\n}\nroute {\n otherwise -> nurture "n"\n}\n', header=True)
    a = Aggregator(e)
    for size in (1, 10, 20):
        a.add(e.score(lead(title="x", company_size=size), AS_OF))
    rep = a.report()
    assert rep["matrix"]["counts"] == [[0, 3], [0, 0]]
    assert {g["grade"]: g["count"] for g in rep["grades"]}["H2x"] == 2


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from(["VP", "Analyst", None]), st.sampled_from([10, 1000, None]),
                          st.integers(0, 6), st.booleans(), st.sampled_from(["a.com", "example.com", "rival.com"])),
                max_size=40))
def test_aggregates_match_a_naive_count(eng, rows):
    """Property: the streamed aggregates equal counts made from the full list of results."""
    results = []
    for i, (title, size, clicks, demo, dom) in enumerate(rows):
        evs = [ev("email_click", 3)] * clicks + ([ev("form_submit", 1, form="demo")] if demo else [])
        results.append(eng.score(lead(f"L{i}", title=title, company_size=size, email=f"x@{dom}", events=evs), AS_OF))
    a = Aggregator(eng).add_all(results)
    rep = a.report()
    assert rep["leads"]["scored"] == len(results)
    assert rep["leads"]["disqualified"] == sum(1 for r in results if r.disqualified)
    grades = {g["grade"]: g["count"] for g in rep["grades"]}
    for g in set(r.grade for r in results):
        assert grades[g] == sum(1 for r in results if r.grade == g)
    assert sum(grades.values()) == len(results)
    graded = [r for r in results if not r.disqualified]
    for c in rep["criteria"]:
        i = [s.name for s in eng.criteria].index(c["name"])
        fired = [r for r in graded if r.fired[i]]
        assert c["fired"] == len(fired)
        if fired:
            assert c["mean_points"] == pytest.approx(sum(r.points[i] for r in fired) / len(fired), abs=0.006)
        if c["cap"] is not None:
            assert c["cap_binds"] == sum(1 for r in graded if r.raw[i] != r.points[i])
    for d in rep["dimensions"]:
        assert sum(h["count"] for h in d["histogram"]) == len(graded)
    assert sum(q["count"] for q in rep["queues"]) == len(results)


def test_memory_does_not_grow_with_the_number_of_leads(eng):
    results = [eng.score(l, AS_OF) for l in leads_mix()]

    def peak(times: int) -> int:
        a = Aggregator(eng)
        tracemalloc.start()
        for _ in range(times):
            for r in results:
                a.add(r)
        _, p = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return p

    small, big = peak(50), peak(2000)
    assert big < small + 20_000, (small, big)


# ---- guardrails -------------------------------------------------------------------------------


def expect(subject, arg=None, queue=None, bound="at_most", low=None, high=None) -> n.ShareExpect:
    return n.ShareExpect(subject, arg, queue, low, high, bound)


# the mix above: 10 leads, sales 4 (hot 1, standard 3), grade A* 3, *1 2, disqualified 2 (1 per reason)
GUARDS = [
    (expect("route", "sales", bound="between", low=30, high=40), True),
    (expect("route", "sales", bound="between", low=5, high=25), False),
    (expect("route", "sales", "hot", bound="at_most", high=10), True),
    (expect("route", "sales", "HOT", bound="at_least", low=20), False),
    (expect("route", "nurture", bound="at_least", low=40), True),
    (expect("grade", "A*", bound="at_most", high=30), True),
    (expect("grade", "A*", bound="at_most", high=29.9), False),
    (expect("grade", "*1", bound="at_least", low=20), True),
    (expect("grade", "D3", bound="between", low=25, high=50), False),
    (expect("disqualified", bound="at_most", high=20), True),
    (expect("disqualified", bound="at_least", low=25), False),
    (expect("disqualified", "competitor", bound="between", low=10, high=10), True),
    (expect("disqualified", "Test Lead", bound="at_most", high=5), False),
]


@pytest.mark.parametrize("e,ok", GUARDS, ids=[f"{g[0].subject}-{g[0].arg}-{g[0].bound}-{g[1]}" for g in GUARDS])
def test_each_guardrail_form_passes_and_fails(agg, e, ok):
    g = check_guardrail(e, agg)
    assert g["passed"] is ok, g
    assert g["of"] == 10
    if ok:
        assert g["miss"] == 0 and g["miss_leads"] == 0 and "within bounds" in g["message"]
    else:
        assert g["miss"] > 0 and g["miss_leads"] > 0


def test_guardrail_says_by_how_much_it_misses(agg):
    over = check_guardrail(expect("route", "sales", bound="between", low=5, high=25), agg)
    assert over["share"] == 0.4 and over["miss"] == pytest.approx(0.15) and over["miss_leads"] == 2
    assert over["message"] == "40% (4 of 10): 15 points above the 25% maximum (2 leads too many)"
    under = check_guardrail(expect("disqualified", bound="at_least", low=25), agg)
    assert under["miss"] == pytest.approx(0.05) and under["miss_leads"] == 1
    assert under["message"] == "20% (2 of 10): 5 points below the 25% minimum (1 lead short)"
    assert over["expect"] == "share of route sales between 5% and 25%"


def test_guardrail_bounds_are_exact_at_the_edge(eng):
    # 3 of 20 = 15% exactly: "at most 15%" holds, "at least 15.01%" does not (no float rounding)
    a = Aggregator(eng)
    for i in range(20):
        a.add(eng.score(lead(f"L{i}", title="VP", company_size=5000) if i < 3 else lead(f"L{i}"), AS_OF))
    assert check_guardrail(expect("grade", "A*", high=15), a)["passed"] is True
    assert check_guardrail(expect("grade", "A*", bound="at_least", low=15), a)["passed"] is True
    assert check_guardrail(expect("grade", "A*", bound="at_least", low=15.01), a)["passed"] is False


def test_guardrail_on_no_leads_fails_with_a_reason(eng):
    g = check_guardrail(expect("route", "sales", high=10), Aggregator(eng))
    assert g["passed"] is False and "no leads" in g["message"]


# ---- the command ------------------------------------------------------------------------------


def write_rules(path: Path, extra: str = "") -> Path:
    path.write_text(HEADER + RULES + extra, encoding="utf-8")
    return path


def lead_rows():
    """The same ten leads as `leads_mix`, as JSON Lines rows (as of 2026-11-01)."""
    click = {"type": "email_click", "at": "2026-10-31"}
    demo = {"type": "form_submit", "form": "demo", "at": "2026-10-30T10:00:00Z"}
    return [
        {"id": "a1", "title": "VP Sales", "company_size": 5000, "events": [demo]},
        {"id": "a2", "title": "VP Sales", "company_size": 5000, "events": [click] * 2},
        {"id": "a3", "title": "VP Sales", "company_size": 5000},
        {"id": "b1", "title": "VP", "events": [demo]},
        {"id": "b2", "title": "VP", "events": [click] * 5},
        {"id": "c3", "company_size": 2000, "events": [click] * 3},
        {"id": "d3", "title": "Analyst"},
        {"id": "d3b"},
        {"id": "x1", "email": "mm@example.com", "title": "VP"},
        {"id": "x2", "email": "spy@rival.com"},
    ]


def write_leads(path: Path, rows) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


SIM_OK = """
simulation "weekly sample" {
  leads "data/leads.jsonl"
  as of 2026-11-01
  expect share of route sales between 30% and 45%
  expect share of grade A* at most 30%
  expect share of disqualified at most 20%
}
"""

SIM_BAD = """
simulation "tight" {
  leads "data/leads.jsonl"
  as of 2026-11-01
  expect share of route sales between 5% and 25%
  expect share of grade A* at most 30%
}
"""


def invoke(*args, cwd=None):
    runner = CliRunner()
    if cwd is None:
        return runner.invoke(cli.main, list(map(str, args)))
    with runner.isolated_filesystem(temp_dir=cwd):
        return runner.invoke(cli.main, list(map(str, args)))


@pytest.fixture
def project(tmp_path):
    """rules/acme.rules + rules/data/leads.jsonl."""
    (tmp_path / "rules" / "data").mkdir(parents=True)
    write_leads(tmp_path / "rules" / "data" / "leads.jsonl", lead_rows())
    return tmp_path


def test_cli_simulate_with_leads(tmp_path):
    rules = write_rules(tmp_path / "t.rules")
    leads = write_leads(tmp_path / "leads.jsonl", lead_rows())
    res = invoke("simulate", rules, "--leads", leads, "--as-of", "2026-11-01", "--format", "json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    run = doc["runs"][0]
    assert run["simulation"] is None and run["as_of"] == "2026-11-01"
    assert run["leads"]["read"] == 10 and run["leads"]["scored"] == 10 and run["leads"]["disqualified"] == 2
    assert {g["grade"]: g["count"] for g in run["grades"]}["A1"] == 1
    assert run["guardrails"] == [] and doc["passed"] is True


def test_cli_simulation_blocks_resolve_paths_against_the_rule_file(project):
    rules = write_rules(project / "rules" / "acme.rules", SIM_OK)
    # run from another directory: the block's leads path is relative to the rule file
    res = invoke("simulate", rules, "--format", "json", cwd=project)
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    run = doc["runs"][0]
    assert run["simulation"] == "weekly sample" and run["as_of"] == "2026-11-01"
    assert Path(run["leads_file"]) == project / "rules" / "data" / "leads.jsonl"
    assert [g["passed"] for g in run["guardrails"]] == [True, True, True]
    assert doc["passed"] is True and doc["guardrails_failed"] == 0


def test_cli_broken_guardrail_exits_1_and_says_which_and_by_how_much(project):
    rules = write_rules(project / "rules" / "acme.rules", SIM_OK + SIM_BAD)
    res = invoke("simulate", rules)
    assert res.exit_code == 1, res.output
    assert 'FAIL: simulation "tight": expect share of route sales between 5% and 25%' in res.stdout
    assert "15 points above the 25% maximum (2 leads too many)" in res.stdout
    res = invoke("simulate", rules, "--format", "json")
    assert res.exit_code == 1
    # with the report going to a file, stderr still says what broke
    assert 'FAIL: simulation "tight": expect share of route sales between 5% and 25%' in res.stderr
    doc = json.loads(res.stdout)
    assert [r["simulation"] for r in doc["runs"]] == ["weekly sample", "tight"]
    assert [r["passed"] for r in doc["runs"]] == [True, False]
    assert doc["guardrails_failed"] == 1 and doc["passed"] is False
    # --simulation picks one block
    assert invoke("simulate", rules, "--simulation", "weekly sample").exit_code == 0
    assert invoke("simulate", rules, "--simulation", "nope").exit_code == 2


def test_cli_leads_run_checks_the_files_guardrails(project):
    rules = write_rules(project / "rules" / "acme.rules", SIM_BAD)
    res = invoke("simulate", rules, "--leads", project / "rules" / "data" / "leads.jsonl", "--as-of", "2026-11-01",
                 "--format", "json")
    assert res.exit_code == 1
    g = json.loads(res.stdout)["runs"][0]["guardrails"]
    assert [(x["simulation"], x["passed"]) for x in g] == [("tight", False), ("tight", True)]


def test_cli_no_simulation_block_and_no_leads_exits_2_saying_how_to_add_one(tmp_path):
    rules = write_rules(tmp_path / "t.rules")
    res = invoke("simulate", rules)
    assert res.exit_code == 2
    assert "no simulation block" in res.stderr and 'simulation "weekly sample" {' in res.stderr
    assert "Traceback" not in res.output


def test_cli_missing_leads_file_exits_2(tmp_path):
    rules = write_rules(tmp_path / "t.rules", SIM_OK)
    res = invoke("simulate", rules)
    assert res.exit_code == 2
    assert "leads.jsonl" in res.stderr and "Traceback" not in res.output


def test_cli_as_of_option_overrides_the_block(project):
    rules = write_rules(project / "rules" / "acme.rules", SIM_OK)
    # 2027: the demo requests are older than 30 days, so "Demo" fires for nobody
    doc = json.loads(invoke("simulate", rules, "--as-of", "2027-01-01", "--format", "json").stdout)
    run = doc["runs"][0]
    assert run["as_of"] == "2027-01-01"
    assert {c["name"]: c["fired"] for c in run["criteria"]}["Demo"] == 0


def test_cli_bad_rows_fail_by_default_and_are_counted_when_skipped(tmp_path):
    rules = write_rules(tmp_path / "t.rules")
    rows = lead_rows() + ['{"id": "bad1", "company_size": "lots"}', '{not json',
                          {"id": "bad3", "events": [{"type": "email_click", "at": "yesterday"}]}]
    leads = write_leads(tmp_path / "leads.jsonl", rows)
    res = invoke("simulate", rules, "--leads", leads, "--as-of", "2026-11-01")
    assert res.exit_code == 2 and "leads.jsonl:11" in res.stderr
    rej = tmp_path / "rej.jsonl"
    res = invoke("simulate", rules, "--leads", leads, "--as-of", "2026-11-01", "--on-bad-row", "skip",
                 "--rejects", rej, "--format", "json")
    assert res.exit_code == 0, res.output
    L = json.loads(res.stdout)["runs"][0]["leads"]
    assert (L["read"], L["scored"], L["rejected"]) == (13, 10, 3)
    assert L["read"] == L["scored"] + L["rejected"]
    assert len(rej.read_text().splitlines()) == 3


def test_cli_orphan_events_are_reported(tmp_path):
    rules = write_rules(tmp_path / "t.rules")
    leads = write_leads(tmp_path / "leads.jsonl", [{"id": "a"}, {"id": "b"}])
    events = write_leads(tmp_path / "events.jsonl", [
        {"lead_id": "a", "type": "email_click", "at": "2026-10-30"},
        {"lead_id": "ghost", "type": "email_click", "at": "2026-10-30"},
        {"lead_id": "ghost", "type": "email_open", "at": "2026-10-30"}])
    res = invoke("simulate", rules, "--leads", leads, "--events", events, "--as-of", "2026-11-01", "--format", "json")
    assert res.exit_code == 0, res.output
    run = json.loads(res.stdout)["runs"][0]
    assert run["events"]["orphans"] == 2 and run["events"]["orphan_lead_ids"] == ["ghost"]
    assert {c["name"]: c["fired"] for c in run["criteria"]}["Clicks"] == 1
    text = invoke("simulate", rules, "--leads", leads, "--events", events, "--as-of", "2026-11-01").stdout
    assert "2 events for leads not in the leads file" in text


def test_cli_output_writes_every_scored_lead(tmp_path):
    rules = write_rules(tmp_path / "t.rules")
    leads = write_leads(tmp_path / "leads.jsonl", lead_rows())
    out = tmp_path / "scored.jsonl"
    res = invoke("simulate", rules, "--leads", leads, "--as-of", "2026-11-01", "--output", out)
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == [r["id"] for r in lead_rows()]
    assert lines[0]["grade"] == "A1" and lines[0]["route"] == "sales" and lines[0]["queue"] == "hot"
    assert lines[8]["disqualified"] == "test lead" and lines[8]["scores"] == {}
    csv_out = tmp_path / "scored.csv"
    assert invoke("simulate", rules, "--leads", leads, "--as-of", "2026-11-01", "-o", csv_out).exit_code == 0
    head = csv_out.read_text().splitlines()[0]
    assert head == ("id,profile_score,profile_band,engagement_score,engagement_band,grade,route,queue,sla,disqualified,"
                    "reasons,ruleset,ruleset_version,rules_sha256,as_of")


def test_cli_text_report_when_piped_is_plain(tmp_path):
    rules = write_rules(tmp_path / "t.rules")
    leads = write_leads(tmp_path / "leads.jsonl", lead_rows())
    res = invoke("simulate", rules, "--leads", leads, "--as-of", "2026-11-01")
    out = res.stdout
    assert "\x1b[" not in out
    for part in ("10 read · 10 scored · 0 rejected · 2 disqualified", "Grades", "Profile × engagement",
                 "Routes", "Disqualified", 'Scores: profile "Who they are"', "Criteria",
                 'Never fired: "Never" (profile)', "Every band was reached."):
        assert part in out, part


def test_cli_markdown_report(project):
    rules = write_rules(project / "rules" / "acme.rules", SIM_BAD)
    res = invoke("simulate", rules, "--format", "markdown")
    assert res.exit_code == 1
    md = res.stdout
    assert md.startswith("## leadrules simulate:")
    assert "#### Guardrails" in md and "| ❌ FAIL | share of route sales between 5% and 25% |" in md
    assert "| grade | leads | share |" in md and "|---|---:|---:|" in md


# ---- the json report's shape ----------------------------------------------------------------------

TOP_KEYS = {"version", "rules", "ruleset", "ruleset_version", "passed", "guardrails_failed", "runs"}
RUN_KEYS = {"simulation", "line", "leads_file", "events_file", "as_of", "leads", "events", "disqualified",
            "grades", "matrix", "routes", "queues", "dimensions", "criteria", "never_fired", "unreached_bands",
            "guardrails", "passed", "data_quality", "columns"}


def test_json_report_shape(project):
    rules = write_rules(project / "rules" / "acme.rules", SIM_BAD)
    doc = json.loads(invoke("simulate", rules, "--format", "json").stdout)
    assert set(doc) == TOP_KEYS and doc["version"] == 1
    assert doc["ruleset"] == "t" and doc["ruleset_version"] == 1
    run = doc["runs"][0]
    assert set(run) == RUN_KEYS
    assert set(run["leads"]) == {"read", "scored", "rejected", "disqualified", "graded", "numbered"}
    assert set(run["events"]) == {"read_from_events_file", "orphans", "orphan_lead_ids", "bad", "ignored"}
    assert set(run["columns"]) == {"missing", "unused"}
    assert set(run["disqualified"][0]) == {"reason", "count", "share"}
    assert set(run["grades"][0]) == {"grade", "count", "share"}
    assert set(run["matrix"]) == {"rows", "columns", "row_bands", "column_bands", "counts", "shares"}
    assert set(run["routes"][0]) == {"route", "count", "share"}
    assert set(run["queues"][0]) == {"route", "queue", "sla", "count", "share"}
    d = run["dimensions"][0]
    assert set(d) == {"dimension", "label", "floor", "max", "leads", "stats", "histogram", "bands"}
    assert set(d["stats"]) == {"mean", "min", "p25", "median", "p75", "p90", "max"}
    assert set(d["histogram"][0]) == {"from", "to", "count", "share"}
    assert set(d["bands"][0]) == {"band", "threshold", "count", "share"}
    assert set(run["criteria"][0]) == {"dimension", "name", "key", "kind", "rule", "fired", "fire_rate",
                                       "mean_points", "cap", "cap_binds", "cap_bind_rate"}
    assert set(run["never_fired"][0]) == {"dimension", "name"}
    g = run["guardrails"][0]
    assert set(g) == {"simulation", "expect", "subject", "value", "queue", "bound", "low", "high", "count", "of",
                      "share", "passed", "miss", "miss_leads", "message", "line"}
    assert (g["subject"], g["value"], g["bound"], g["low"], g["high"]) == ("route", "sales", "between", 0.05, 0.25)
    assert g["line"] is not None and g["line"] > 1


def test_text_renderer_on_a_terminal_uses_rich_tables(project):
    rules = write_rules(project / "rules" / "acme.rules", SIM_OK)
    doc = json.loads(invoke("simulate", rules, "--format", "json").stdout)
    buf = io.StringIO()
    buf.isatty = lambda: True  # type: ignore[method-assign]
    simreport.print_text(doc, Console(file=buf, force_terminal=True, width=160))
    out = buf.getvalue()
    assert "╭" in out and "█" in out and "weekly sample" in out
