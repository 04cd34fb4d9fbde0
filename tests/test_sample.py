"""runtime/analysis/sample.py and `leadrules sample`: synthetic leads that fit the rule file, deterministic by
seed, streamed, and varied enough that every band is reached and every criterion fires."""
from __future__ import annotations

import datetime as dt
import io
import json
import tracemalloc
from pathlib import Path

import pytest
from click.testing import CliRunner

import cli
from dsl.checker import check
from dsl.parser import parse
from runtime.backends.closure import compile_checked
from runtime.core.kernel import date_ordinal
from runtime.core.model import Schema
from runtime.io.readers import LeadReader
from runtime.analysis.sample import NEG, POS, DISQ, Cand, Planner, Sampler, write_sample
from runtime.analysis.simulate import Aggregator

ASOF = dt.date(2026, 11, 1)

RULES = """ruleset "sample-test" version 2
fields {
  email: text
  first_name: text
  last_name: text
  title: text
  company_size: number
  industry: text
  country: text
  created_at: date
  opted_out: bool
  interests: text list
}
events {
  email_click
  web_visit(page: text)
  form_submit(form: text)
  purchase(amount: number)
  unsubscribe
}
list target_industries = ["Software", "Financial Services"]
disqualify "test" when email ends with "@example.com" or last_name = "Mouse"
disqualify "opted out" when opted_out = true
score profile "Who" max 100 {
  "Seniority" first of {
    +35 when title contains any word ["VP", "Chief", "Head of"]
    +15 when title contains word "Manager"
  }
  "Enterprise"  +25 when company_size >= 1000
  "Mid-market"  +10 when company_size between 200 and 999
  "Industry"    +20 when industry in target_industries
  "New"         +10 when days since created_at <= 30
  "Interest"    +10 when interests contains "analytics"
  "Home market" +10 when country not in ["XX", "YY"] and country = "DE"
  "Personal"    -20 when domain(email) in ["gmail.com", "yahoo.com"]
}
score engagement "Interest" max 100 {
  decay half-life 30 days
  "Clicks"   +5  each email_click max 15
  "Pricing"  +10 each web_visit where page contains "/pricing" max 30
  "Demo"     +40 each form_submit where form = "demo-request" max 40
  "Buyer"    +20 when count purchase where amount >= 500 >= 2
  "Quiet"    -20 when days since last event > 60
  "Unsub"    -50 when has unsubscribe
}
grade profile {
  A when >= 80
  B when >= 60
  C when >= 30
  D otherwise
}
grade engagement {
  1 when >= 75
  2 when >= 50
  3 when >= 25
  4 otherwise
}
route {
  A1, A2, B1 -> sales "hot" within 1 hour
  disqualified -> suppress
  otherwise -> nurture "n"
}
simulation "s" {
  leads "leads.jsonl"
  as of 2026-10-15
  expect share of disqualified at most 10%
}
"""


@pytest.fixture(scope="module")
def checked():
    c = check(parse(RULES, "s.rules"))
    assert not [d for d in c.diagnostics if d.is_error]
    return c


def schema(checked):
    return Schema(dict(checked.fields), {k: dict(v) for k, v in checked.events.items()})


def make(checked, n_, seed=0, as_of=ASOF) -> str:
    buf = io.StringIO()
    write_sample(checked, buf, n_, seed=seed, as_of=as_of)
    return buf.getvalue()


def test_candidates_come_from_the_rule_files_literals(checked):
    p = Planner(checked)
    title = p.field_t["title"].cands[POS]
    assert Cand("contains", "VP") in title and Cand("contains", "Head of") in title and Cand("contains", "Manager") in title
    size = [c.value for c in p.field_t["company_size"].cands[POS]]
    assert 1000 in size and 200 in size and 999 in size
    assert Cand("exact", "Software") in p.field_t["industry"].cands[POS]
    assert Cand("domain", "gmail.com") in p.field_t["email"].cands[NEG]
    assert Cand("ends", "@example.com") in p.field_t["email"].cands[DISQ]
    assert Cand("exact", "Mouse") in p.field_t["last_name"].cands[DISQ]
    assert Cand("exact", True) in p.field_t["opted_out"].cands[DISQ]
    assert Cand("elements", ("analytics",)) in p.field_t["interests"].cands[POS]
    assert Cand("days_ago", 30) in p.field_t["created_at"].cands[POS]
    # `not in` flips: XX and YY make the positive test false
    assert Cand("exact", "XX") in p.field_t["country"].cands[NEG]
    assert Cand("exact", "DE") in p.field_t["country"].cands[POS]
    assert Cand("contains", "/pricing") in p.attr_t[("web_visit", "page")].cands[POS]
    assert Cand("exact", "demo-request") in p.attr_t[("form_submit", "form")].cands[POS]
    assert 500 in [c.value for c in p.attr_t[("purchase", "amount")].cands[POS]]
    assert POS in p.event_pol["purchase"] and NEG in p.event_pol["unsubscribe"]


def test_same_seed_same_leads_other_seed_other_leads(checked):
    a, b, c = make(checked, 200, seed=7), make(checked, 200, seed=7), make(checked, 200, seed=8)
    assert a == b and a != c
    assert len(a.splitlines()) == 200


def test_every_lead_fits_the_schema(checked, tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(make(checked, 1500, seed=3), encoding="utf-8")
    reader = LeadReader(str(p), schema(checked))  # on_bad_row="fail": any bad row raises
    leads = list(reader)
    assert reader.read == 1500 and reader.rejected == 0 and len(leads) == 1500
    assert len({l.id for l in leads}) == 1500
    types = {e.type for l in leads for e in l.events}
    assert types == set(checked.events)
    # events are in the past of the as-of date
    assert max(e.day for l in leads for e in l.events) <= ASOF.toordinal()
    # some fields are left out, so `is missing` paths get exercised too
    assert any(l.fields.get("industry") is None for l in leads)


def test_the_sample_reaches_every_band_and_fires_every_criterion(checked, tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text(make(checked, 3000, seed=1), encoding="utf-8")
    eng = compile_checked(checked)
    agg = Aggregator(eng)
    asof = date_ordinal(ASOF.isoformat())
    for l in LeadReader(str(p), schema(checked)):
        agg.add(eng.score(l, asof))
    rep = agg.report()
    assert rep["unreached_bands"] == []
    assert rep["never_fired"] == []
    assert {g["grade"] for g in rep["grades"] if g["count"]} >= {"A1", "D4", "disqualified"}
    # every disqualify reason shows up, but rarely
    assert {d["reason"] for d in rep["disqualified"]} == {"test", "opted out"}
    assert 0 < rep["leads"]["disqualified"] / rep["leads"]["scored"] < 0.1
    # and sales gets some leads
    assert 0 < {r["route"]: r["share"] for r in rep["routes"]}["sales"] < 0.5


def test_language_example_reaches_every_band(tmp_path):
    text = (Path(__file__).parent / "data" / "language_example.rules").read_text(encoding="utf-8")
    c = check(parse(text, "language_example.rules"))
    eng = compile_checked(c)
    agg = Aggregator(eng)
    p = tmp_path / "s.jsonl"
    p.write_text(make(c, 3000, seed=2), encoding="utf-8")
    asof = date_ordinal(ASOF.isoformat())
    for l in LeadReader(str(p), schema(c)):
        agg.add(eng.score(l, asof))
    rep = agg.report()
    assert rep["unreached_bands"] == [] and rep["never_fired"] == []


def test_generation_streams_in_flat_memory(checked):
    class Sink:
        def __init__(self):
            self.n = 0

        def write(self, s):
            self.n += s.count("\n")

    def peak(count):
        sink = Sink()
        tracemalloc.start()
        write_sample(checked, sink, count, seed=1, as_of=ASOF)
        _, p = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert sink.n == count
        return p

    small, big = peak(600), peak(3000)
    assert big < small * 1.5 + 200_000, (small, big)


def test_a_rule_file_without_events_gets_leads_without_events():
    c = check(parse('ruleset "x" version 1\nfields {\n  title: text\n}\n'
                    'score p "P" max 10 {\n  "a" +10 when title = "boss"\n}\n', "x.rules"))
    rows = [json.loads(x) for x in make(c, 50).splitlines()]
    assert all("events" not in r for r in rows)
    assert any(r.get("title") == "boss" for r in rows)


# ---- the command ------------------------------------------------------------------------------


def test_cli_sample_then_simulate(tmp_path):
    rules = tmp_path / "s.rules"
    rules.write_text(RULES, encoding="utf-8")
    out = tmp_path / "leads.jsonl"
    runner = CliRunner()
    res = runner.invoke(cli.main, ["sample", str(rules), "-n", "300", "--seed", "5", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote 300 leads" in res.stderr
    assert len(out.read_text().splitlines()) == 300
    # the default as-of is the simulation block's (2026-10-15): no event after it
    last = max(e["at"] for line in out.read_text().splitlines() for e in json.loads(line).get("events", []))
    assert last[:10] <= "2026-10-15"
    # the simulation block's leads path is beside the rule file: simulate runs it as is
    res = runner.invoke(cli.main, ["simulate", str(rules), "--format", "json"])
    assert res.exit_code in (0, 1), res.output
    assert json.loads(res.stdout)["runs"][0]["leads"]["scored"] == 300


def test_cli_sample_to_stdout_and_gzip(tmp_path):
    rules = tmp_path / "s.rules"
    rules.write_text(RULES, encoding="utf-8")
    runner = CliRunner()
    res = runner.invoke(cli.main, ["sample", str(rules), "-n", "20", "--seed", "1", "--as-of", "2026-11-01"])
    assert res.exit_code == 0
    rows = [json.loads(x) for x in res.stdout.splitlines()]
    assert len(rows) == 20 and rows[0]["id"] == "L0000001"
    gz = tmp_path / "leads.jsonl.gz"
    assert runner.invoke(cli.main, ["sample", str(rules), "-n", "20", "--seed", "1", "--as-of", "2026-11-01",
                                    "-o", str(gz)]).exit_code == 0
    import gzip

    assert gzip.decompress(gz.read_bytes()).decode() == res.stdout


def test_cli_sample_usage_errors(tmp_path):
    rules = tmp_path / "s.rules"
    rules.write_text(RULES, encoding="utf-8")
    runner = CliRunner()
    assert runner.invoke(cli.main, ["sample", str(rules)]).exit_code == 2                     # no -n
    res = runner.invoke(cli.main, ["sample", str(rules), "-n", "5", "-o", str(tmp_path / "x.csv")])
    assert res.exit_code == 2 and "JSON Lines" in res.stderr
    res = runner.invoke(cli.main, ["sample", str(tmp_path / "nope.rules"), "-n", "5"])
    assert res.exit_code == 2 and "nope.rules" in res.stderr
