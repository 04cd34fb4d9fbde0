"""Scores over time: `explain --from/--to` (a lead's timeline), `simulate --from/--to` (the sales load)
and `explain --next` (the next step up). Expected values are computed by hand in the tests: decay from
the half-life formula, crossings by scoring each lead at each date by that formula."""
from __future__ import annotations

import datetime as dt
import json
import math
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cli
from dsl.formatter import format_text
from dsl.parser import parse
from dsl.checker import check
from runtime.analysis.load import sla_due_days
from runtime.analysis.timeline import MAX_DATES, date_range
from runtime.core.errors import Failure

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"
SAMPLE = ROOT / "rulesets" / "samples" / "leads.jsonl"

HL = 10        # half-life, days
P = 40         # points per demo request
HOT = 25       # band threshold

RULES = f'''ruleset "t" version 1
fields {{
  email: text
  industry: text
}}
events {{
  form_submit(form: text)
}}
score engagement "Interest" max 100 {{
  decay half-life {HL} days
  "Demo"  +{P} each form_submit max 80
}}
grade engagement {{
  hot when >= {HOT}
  cold otherwise
}}
route {{
  hot       -> sales "hot-leads" within 1 day
  otherwise -> nurture "education"
}}
'''


def round2(x: float) -> float:
    return math.floor(x * 100 + 0.5) / 100


def by_hand(event_days: list[dt.date], day: dt.date) -> float:
    """LANGUAGE.md's arithmetic for RULES, written out: each past event decays by whole days, capped."""
    total = sum(P * 0.5 ** ((day - e).days / HL) for e in event_days if e <= day)
    return round2(min(min(total, 80), 100))


def run(*args):
    r = CliRunner().invoke(cli.main, [str(a) for a in args])
    return r


@pytest.fixture
def rules(tmp_path):
    p = tmp_path / "t.rules"
    p.write_text(RULES)
    return p


def _lead_json(id_, days, **fields):
    return {"id": id_, "email": f"{id_.lower()}@co.com", **fields,
            "events": [{"type": "form_submit", "form": "demo", "at": d.isoformat()} for d in days]}


# ---- a lead's timeline ------------------------------------------------------------------------------


def test_timeline_band_changes_follow_the_half_life(rules):
    got = dt.date(2026, 10, 1)
    # the first day on which 40 x 0.5^(t/10) falls below 25: t > 10 x log2(40/25) = 6.78, so day 7
    t_cross = math.floor(HL * math.log2(P / HOT)) + 1
    assert by_hand([got], got + dt.timedelta(days=t_cross - 1)) >= HOT > by_hand([got], got + dt.timedelta(days=t_cross))
    start, end = dt.date(2026, 9, 20), dt.date(2026, 10, 19)    # 30 days
    lead = json.dumps(_lead_json("L1", [got]))
    r = run("explain", rules, "--lead", lead, "--from", start, "--to", end, "--format", "json")
    assert r.exit_code == 0, r.output
    t = json.loads(r.output)
    assert len(t["dates"]) == 30
    for s in t["dates"]:
        assert s["scores"]["engagement"] == by_hand([got], dt.date.fromisoformat(s["date"]))
    assert [c["date"] for c in t["changes"]] == [got.isoformat(), (got + dt.timedelta(days=t_cross)).isoformat()]
    up, down = t["changes"]
    assert up["dimensions"][0]["events"] == 40 and up["dimensions"][0]["decay"] == 0
    assert up["route"] == {"from": 'nurture "education"', "to": 'sales "hot-leads" within 1 day'}
    assert up["events"][0]["criteria"] == [{"dimension": "engagement", "criterion": "Demo", "points": 40, "fires": True}]
    d = down["dimensions"][0]
    assert d["events"] == 0 and d["band"] == ["hot", "cold"]
    assert d["half_life_days"] == HL
    assert d["decay"] == round2(by_hand([got], end.replace(day=8)) - by_hand([got], end.replace(day=7)))
    # the text names the decay and the event
    r = run("explain", rules, "--lead", lead, "--from", start, "--to", end)
    assert r.exit_code == 0, r.output
    assert "2026-10-01: engagement 0 → 40 (events +40), band cold → hot, grade cold → hot" in r.output
    assert "  +40 Demo (form_submit on 2026-10-01)" in r.output
    assert f"2026-10-0{1 + t_cross}: engagement 26.39 → 24.62 (decay −1.77), band hot → cold" in r.output
    md = run("explain", rules, "--lead", lead, "--from", start, "--to", end, "--format", "markdown").output
    assert "| 2026-10-01 | 40 | hot | sales \"hot-leads\" |" in md


def test_timeline_every_n_days_keeps_the_last_date(rules, tmp_path):
    f = tmp_path / "l.jsonl"
    f.write_text(json.dumps(_lead_json("L1", [dt.date(2026, 10, 1)])) + "\n")
    r = run("explain", rules, "--leads", f, "--id", "L1", "--from", "2026-09-20", "--to", "2026-10-19",
            "--every", "7", "--format", "json")
    assert r.exit_code == 0, r.output
    t = json.loads(r.output)
    assert [s["date"] for s in t["dates"]] == ["2026-09-20", "2026-09-27", "2026-10-04", "2026-10-11",
                                               "2026-10-18", "2026-10-19"]
    # the event arrived between 09-27 and 10-04, and the lead was cold again by 10-11
    assert [(c["date"], c["previous_date"]) for c in t["changes"]] == [("2026-10-04", "2026-09-27"),
                                                                       ("2026-10-11", "2026-10-04")]


def test_bad_ranges_exit_2(rules):
    lead = json.dumps(_lead_json("L1", []))
    r = run("explain", rules, "--lead", lead, "--from", "2026-10-05", "--to", "2026-10-01")
    assert r.exit_code == 2 and "--from 2026-10-05 is after --to 2026-10-01" in r.output
    r = run("explain", rules, "--lead", lead, "--from", "2026-10-01", "--to", "2026-10-05", "--every", "0")
    assert r.exit_code == 2 and "--every" in r.output
    r = run("explain", rules, "--lead", lead, "--from", "2000-01-01", "--to", "2026-10-05")
    assert r.exit_code == 2 and "at most 1,000 are allowed: use --every 10" in r.output
    r = run("explain", rules, "--lead", lead, "--from", "2026-10-01")
    assert r.exit_code == 2 and "needs both --from DATE and --to DATE" in r.output
    r = run("simulate", rules, "--leads", "x.jsonl", "--from", "2026-10-05", "--to", "2026-10-01")
    assert r.exit_code == 2 and "is after --to" in r.output
    r = run("simulate", rules, "--leads", "x.jsonl", "--from", "2026-10-01", "--to", "2026-10-05", "--every", "-1")
    assert r.exit_code == 2
    f = Path(rules).with_name("one.jsonl")
    f.write_text(json.dumps(_lead_json("L1", [])) + "\n")
    r = run("simulate", rules, "--leads", f, "--from", "2026-01-01", "--to", "2026-12-31", "--format", "json")
    assert r.exit_code == 0 and "note: 365 dates: each lead is scored 366 times" in r.stderr
    with pytest.raises(Failure):
        date_range(dt.date(2026, 1, 1), dt.date(2026, 1, 1) + dt.timedelta(days=MAX_DATES), 1)
    assert len(date_range(dt.date(2026, 1, 1), dt.date(2026, 1, 1) + dt.timedelta(days=MAX_DATES - 1), 1)) == MAX_DATES


# ---- the sales load over time -----------------------------------------------------------------------


def _sample(tmp_path, n=60, seed=7):
    rnd = random.Random(seed)
    leads = []
    for i in range(n):
        days = sorted(dt.date(2026, 9, 15) + dt.timedelta(days=rnd.randrange(0, 50)) for _ in range(rnd.randrange(0, 4)))
        leads.append(_lead_json(f"L{i:03}", days))
    f = tmp_path / "leads.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in leads))
    return f, leads


def test_simulate_new_entries_sum_to_the_leads_that_crossed(rules, tmp_path):
    f, leads = _sample(tmp_path)
    start, end = dt.date(2026, 10, 1), dt.date(2026, 10, 30)
    r = run("simulate", rules, "--leads", f, "--from", start, "--to", end, "--format", "json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.output)
    rep = doc["runs"][0]
    assert rep["leads"] == {"read": 60, "scored": 60, "rejected": 0}
    assert rep["baseline"] == "2026-09-30"
    # by hand: each lead's route on each date (and the day before the range), from the formula
    days = [start - dt.timedelta(days=1)] + [start + dt.timedelta(days=k) for k in range(30)]
    crossed_in = {"sales": [0] * 30, "nurture": [0] * 30}
    due = {}
    for x in leads:
        evs = [dt.date.fromisoformat(e["at"]) for e in x["events"]]
        routes = ["sales" if by_hand(evs, d) >= HOT else "nurture" for d in days]
        for k in range(1, len(days)):
            if routes[k] != routes[k - 1]:
                crossed_in[routes[k]][k - 1] += 1
                if routes[k] == "sales":
                    due_day = days[k] + dt.timedelta(days=1)     # within 1 day
                    due[due_day] = due.get(due_day, 0) + 1
    for route in ("sales", "nurture"):
        per_day = [next(x["entered"] for x in d["routes"] if x["route"] == route) for d in rep["dates"]]
        assert per_day == crossed_in[route]
        total = next(t for t in rep["totals"] if t["route"] == route)
        assert total["entered"] == sum(crossed_in[route]) > 0
    # leaving sales = entering nurture (two routes), and the standing count follows
    for d in rep["dates"]:
        row = {x["route"]: x for x in d["routes"]}
        assert row["sales"]["left"] == row["nurture"]["entered"]
        assert row["sales"]["standing"] + row["nurture"]["standing"] == 60
    # standing moves by entries minus leaves, date after date
    for prev, cur in zip(rep["dates"], rep["dates"][1:]):
        for a, b in zip(prev["routes"], cur["routes"]):
            assert b["standing"] == a["standing"] + b["entered"] - b["left"]
    got_due = {dt.date.fromisoformat(x["date"]): x["count"] for x in rep["due"]}
    assert got_due == due
    assert any(x["after_range"] for x in rep["due"]) == (max(due) > end)


def test_simulate_flow_guardrail(rules, tmp_path):
    f, leads = _sample(tmp_path)
    base = run("simulate", rules, "--leads", f, "--from", "2026-10-01", "--to", "2026-10-30", "--format", "json")
    rep = json.loads(base.output)["runs"][0]
    peak = max(next(x["entered"] for x in d["routes"] if x["route"] == "sales") for d in rep["dates"])
    assert peak >= 2
    for limit, code in ((peak, 0), (peak - 1, 1)):
        p = tmp_path / f"g{limit}.rules"
        p.write_text(RULES + f'simulation "s" {{\n  leads "{f.name}"\n'
                             f'  expect new leads in route sales "hot-leads" per day at most {limit}\n'
                             '  expect share of route sales at most 100%\n}\n')
        r = run("simulate", p, "--from", "2026-10-01", "--to", "2026-10-30")
        assert r.exit_code == code, r.output
        if code:
            assert f'FAIL: simulation "s": expect new leads in route sales "hot-leads" per day at most {limit}: ' \
                   f"{peak} per day on" in r.output
        else:
            assert "over-time guardrails: 1 passed, 0 failed" in r.output
        md = run("simulate", p, "--from", "2026-10-01", "--to", "2026-10-30", "--format", "markdown")
        assert md.exit_code == code
        assert ("❌" if code else "✅") + f' `expect new leads in route sales "hot-leads" per day at most {limit}`' \
            in md.stdout
        # a one-date run does not check it, and says so
        r = run("simulate", p, "--as-of", "2026-10-30")
        assert r.exit_code == 0 and "is checked by `leadrules simulate --from DATE --to DATE`" in r.output


def test_flow_guardrail_per_day_over_longer_periods(rules, tmp_path):
    """With --every 7 a date's entries are spread over its 7 days: 7 entries are 1 per day."""
    f, _ = _sample(tmp_path, n=200, seed=3)
    rep = json.loads(run("simulate", rules, "--leads", f, "--from", "2026-10-01", "--to", "2026-10-29",
                         "--every", "7", "--format", "json").output)["runs"][0]
    assert [d["days"] for d in rep["dates"]] == [7, 7, 7, 7, 7]
    top = max(next(x["entered"] for x in d["routes"] if x["route"] == "sales") for d in rep["dates"])
    p = tmp_path / "g.rules"
    p.write_text(RULES + f'simulation "s" {{\n  leads "{f.name}"\n'
                         f'  expect new leads in route sales per day at most {top / 7}\n}}\n')
    assert run("simulate", p, "--from", "2026-10-01", "--to", "2026-10-29", "--every", "7").exit_code == 0


def test_sla_due_days():
    assert [sla_due_days(s) for s in (None, "1 hour", "4 hours", "24 hours", "36 hours", "1 day", "2 days",
                                      "1 week")] == [None, 0, 0, 1, 1, 1, 2, 7]


def test_flow_guardrail_parses_checks_and_formats():
    src = RULES + 'simulation "s" {\n  leads "x.jsonl"\n  expect  new leads in route sales per day between 5 and 2\n}\n'
    c = check(parse(src, "t.rules"))
    assert any(d.code == "LR205" and "between 5 and 2 leads per day" in d.message for d in c.diagnostics)
    out = format_text(src.replace("between 5 and 2", "at least 3"), "t.rules")
    assert "  expect new leads in route sales per day at least 3\n" in out


def test_simulate_over_time_refuses_what_it_cannot_do(rules, tmp_path):
    f, _ = _sample(tmp_path, n=3)
    r = run("simulate", rules, "--leads", f, "--from", "2026-10-01", "--to", "2026-10-02", "--engine", "duckdb")
    assert r.exit_code == 2 and "--engine duckdb is not supported" in r.output
    r = run("simulate", rules, "--leads", f, "--from", "2026-10-01")
    assert r.exit_code == 2 and "needs both --from DATE and --to DATE" in r.output
    r = run("simulate", rules, "--leads", f, "--from", "2026-10-01", "--to", "2026-10-02", "--as-of", "2026-10-01")
    assert r.exit_code == 2


def test_simulate_over_time_with_accounts_matches_scoring_each_date():
    """acme has an accounts block: a lead's route per date depends on its account's band that day. The
    standing count per route on each date equals a one-date `simulate` at that date."""
    r = run("simulate", ACME, "--from", "2026-10-30", "--to", "2026-11-01", "--format", "json")
    assert r.exit_code == 0, r.output
    rep = json.loads(r.output)["runs"][0]
    for d in rep["dates"]:
        one = json.loads(run("simulate", ACME, "--as-of", d["date"], "--format", "json").stdout)["runs"][0]
        want = {(q["route"], q["queue"]): q["count"] for q in one["queues"]}
        got = {(x["route"], x["queue"]): x["standing"] for x in d["routes"] if x["standing"]}
        assert got == {k: v for k, v in want.items() if v}


# ---- the next step up -----------------------------------------------------------------------------


def test_next_names_the_cheapest_criterion_that_closes_a_5_point_gap():
    # profile 75 = VP 35 + target industry 20 + target country 10 + partner 10; the A band starts at 80
    lead = {"id": "X1", "email": "ana@bigco.com", "title": "VP Marketing", "company_size": 50,
            "industry": "Software", "country": "US", "lead_source": "partner"}
    r = run("explain", ACME, "--lead", json.dumps(lead), "--next", "--as-of", "2026-11-01", "--format", "json")
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert d["scores"]["profile"] == 75 and d["grade"] == "B4"
    # by hand: the profile criteria that do not fire and reward a field value: Mid-market +15,
    # Enterprise +25 (Personal email is negative). One change each; the smaller points win.
    first = d["steps"][0]
    assert first["criterion"] == "Mid-market" and first["change"] == "company_size = 200"
    assert first["cost"] == 1 and first["points"] == 15
    assert first["verified"]["scores"]["profile"] == 90 and first["verified"]["grade"] == "A4"
    assert first["predicted_score"] == 90 and first["exact"]
    # every step is verified better, and they are ordered by cost, then points
    keys = [(s["cost"], s["points"]) for s in d["steps"]]
    assert keys == sorted(keys)
    assert all(s["better_grade"] or s["better_route"] for s in d["steps"])
    text = run("explain", ACME, "--lead", json.dumps(lead), "--next", "--as-of", "2026-11-01").output
    assert "1. company_size = 200 (Mid-market +15): profile 90, grade A4" in text


def test_next_each_criterion_counts_events_and_their_deadline(rules):
    # one demo request 3 days ago: 40 x 0.5^(3/10) = 32.49, hot; no better band. A cold lead instead:
    # 30 days ago: 40 x 0.5^3 = 5, needs 20 more: one more event today (+40) reaches 45.
    asof = dt.date(2026, 11, 1)
    lead = _lead_json("L1", [asof - dt.timedelta(days=30)])
    r = run("explain", rules, "--lead", json.dumps(lead), "--next", "--as-of", asof, "--format", "json")
    d = json.loads(r.output)
    assert d["scores"]["engagement"] == by_hand([asof - dt.timedelta(days=30)], asof) == 5
    s = d["steps"][0]
    assert s["criterion"] == "Demo" and s["events"] == 1 and s["event"] == {"type": "form_submit", "attrs": {}}
    assert s["verified"]["scores"]["engagement"] == 45 and s["verified"]["route"] == 'sales "hot-leads" within 1 day'
    # no deadline: one fresh +40 always clears 25; done today it holds while 40 x 0.5^(t/10) (+ the old) >= 25
    assert s["by"] is None
    t = 0
    evs = [asof - dt.timedelta(days=30), asof]
    while by_hand(evs, asof + dt.timedelta(days=t + 1)) >= HOT:
        t += 1
    assert s["lasts_until"] == (asof + dt.timedelta(days=t)).isoformat()


def test_next_on_a_disqualified_lead_says_why_there_is_none():
    lead = {"id": "X", "email": "x@rivalsoft.com", "title": "VP"}
    r = run("explain", ACME, "--lead", json.dumps(lead), "--next", "--as-of", "2026-11-01")
    assert r.exit_code == 0 and 'disqualified ("competitor")' in r.output


# ---- the docs' worked example ---------------------------------------------------------------------


def test_docs_over_time_examples_run():
    doc = (ROOT / "docs" / "over-time.md").read_text()
    import re
    import shlex

    blocks = re.findall(r"```\n\$ (leadrules [^\n]+)\n(.*?)```", doc, re.S)
    assert len(blocks) >= 3
    for cmd, out in blocks:
        args = shlex.split(cmd)[1:]
        r = CliRunner().invoke(cli.main, args, catch_exceptions=False)
        assert r.exit_code in (0, 1), r.output
        for line in out.splitlines():
            if line.strip() and not line.startswith("..."):
                assert line.rstrip() in r.output, (cmd, line)


def test_next_combines_field_changes_when_no_single_one_reaches_a_band():
    # profile 30 = Manager 15 + Mid-market 15; B starts at 60. Single changes: Seniority to the top tier
    # +20, Target industry +20, Target country +10, Enterprise +25 but Mid-market -15 = +10: none
    # reaches 60 alone; the two biggest (net) do: 30 + 20 + 20 = 70.
    lead = {"id": "M", "email": "max@steelco.com", "title": "IT Manager", "company_size": 300,
            "industry": "Retail", "country": "BR"}
    d = json.loads(run("explain", ACME, "--lead", json.dumps(lead), "--next", "--as-of", "2026-11-01",
                       "--format", "json").output)
    assert d["scores"]["profile"] == 30
    combo = [s for s in d["steps"] if s["kind"] == "fields"]
    assert len(combo) == 1
    s = combo[0]
    assert s["cost"] == 2 and s["criterion"] == "Seniority + Target industry"
    assert s["change"] == 'title = "Chief", industry = "Software"'
    assert s["verified"]["scores"]["profile"] == 70 == s["predicted_score"] and s["verified"]["grade"] == "B4"


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.integers(min_value=0, max_value=40), max_size=6), st.integers(min_value=1, max_value=5))
def test_timeline_events_plus_decay_is_the_change(rules, offsets, every):
    """Property: every change's `events + decay` is the dimension's change, and each score is the formula's."""
    days = [dt.date(2026, 10, 1) + dt.timedelta(days=o) for o in offsets]
    lead = json.dumps(_lead_json("P", days))
    t = json.loads(run("explain", rules, "--lead", lead, "--from", "2026-10-01", "--to", "2026-11-10",
                       "--every", every, "--format", "json").output)
    for s in t["dates"]:
        assert s["scores"]["engagement"] == by_hand(days, dt.date.fromisoformat(s["date"]))
    for c in t["changes"]:
        for d in c["dimensions"]:
            assert round2(d["events"] + d["decay"]) == round2(d["to"] - d["from"])
            if not any(c["previous_date"] < x.isoformat() <= c["date"] for x in days):
                assert d["events"] == 0


def test_next_uncapped_each_proposes_as_many_events_as_the_gap_needs(tmp_path):
    # +3 per click, no cap; the lead has 2 clicks today (6), band "warm" at 20: (20 - 6) / 3 -> 5 more
    p = tmp_path / "c.rules"
    p.write_text('''ruleset "c" version 1
fields { email: text }
events { email_click }
score engagement "Interest" max 100 {
  "Clicks" +3 each email_click
}
grade engagement {
  warm when >= 20
  cold otherwise
}
route {
  warm      -> sales "inbound" within 2 days
  otherwise -> nurture "all"
}
''')
    lead = {"id": "C", "email": "c@d.com", "events": [{"type": "email_click", "at": "2026-11-01"}] * 2}
    d = json.loads(run("explain", p, "--lead", json.dumps(lead), "--next", "--as-of", "2026-11-01",
                       "--format", "json").output)
    assert d["scores"]["engagement"] == 6
    (s,) = d["steps"]
    assert s["events"] == s["predicted_events"] == math.ceil((20 - 6) / 3) == 5
    assert s["verified"]["scores"]["engagement"] == 21 and s["verified"]["grade"] == "warm"
    assert s["by"] is None and s["lasts_until"] is None   # no decay: no deadline, it lasts


def test_timeline_names_an_event_that_disqualifies(tmp_path):
    p = tmp_path / "dq.rules"
    p.write_text(RULES.replace("events {\n  form_submit(form: text)\n}",
                               "events {\n  form_submit(form: text)\n  unsubscribe\n}\n"
                               'disqualify "unsubscribed" when has unsubscribe')
                 .replace("route {\n", "route {\n  disqualified -> suppress\n"))
    lead = {"id": "U", "email": "u@co.com", "events": [{"type": "form_submit", "form": "d", "at": "2026-10-02"},
                                                     {"type": "unsubscribe", "at": "2026-10-05"}]}
    t = json.loads(run("explain", p, "--lead", json.dumps(lead), "--from", "2026-10-01", "--to", "2026-10-06",
                       "--format", "json").output)
    last = t["changes"][-1]
    assert last["date"] == "2026-10-05" and last["disqualified"] == [None, "unsubscribed"]
    assert last["disqualified_by"] == "events" and last["route"]["to"] == "suppress"
    assert last["events"][0]["disqualifies"] == "unsubscribed" and last["events"][0]["criteria"] == []
    assert t["dates"][-1]["grade"] is None and t["dates"][-1]["scores"] == {}


@pytest.mark.parametrize("every,dates", [("7", 5), ("7d", 5), ("7 days", 5), ("1 week", 5), ("2", 15)])
def test_every_is_a_number_of_days_in_any_spelling(rules, every, dates):
    lead = json.dumps(_lead_json("L1", []))
    r = run("explain", rules, "--lead", lead, "--from", "2026-10-01", "--to", "2026-10-29", "--every", every,
            "--format", "json")
    assert r.exit_code == 0, r.output
    assert len(json.loads(r.output)["dates"]) == dates
    bad = run("explain", rules, "--lead", lead, "--from", "2026-10-01", "--to", "2026-10-29", "--every", "soon")
    assert bad.exit_code == 2 and "is not a step" in bad.output
