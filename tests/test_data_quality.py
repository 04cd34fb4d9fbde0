"""The data-quality section of `leadrules simulate`: presence, top values and ranges per declared
field, near-misses of the lists the rules use, events per type — in every format, in bounded memory."""
from __future__ import annotations

import datetime as dt
import json

from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from cli import main
from runtime.analysis.simulate import DQ_DISTINCT_CAP, DataQuality, list_uses, near_miss
from runtime.core.model import Event, Lead
from tests.helpers import HEADER

RULES = HEADER + '''
list targets = ["Technology", "Financial Services", "Healthcare"]

score fit "Fit" max 100 {
  "Target"   +50  when industry in targets
  "Named"    +10  when lower(title) = "cto"
  "Opens"    +5   each email_open  max 10
}
grade fit {
  A when >= 50
  B otherwise
}
'''


def _lead(i, **fields):
    return Lead(str(i), fields, [])


def test_near_miss_rule():
    items = ["Technology", "Financial Services", "Healthcare"]
    assert near_miss("Tech", items) == ("Technology", "a prefix of the list item")
    assert near_miss("financial-services", items)[0] == "Financial Services"
    assert near_miss("Health care", items)[1].startswith("same letters")
    assert near_miss("Helthcare", items)[0] == "Healthcare"          # a typo: similar spelling
    assert near_miss(" technology ", items) is None                   # the language already matches it
    assert near_miss("Retail", items) is None
    assert near_miss("Te", items) is None                             # too short to call a prefix


@given(st.text(max_size=12), st.lists(st.text(max_size=12), max_size=4))
def test_a_value_that_matches_is_never_a_near_miss(s, others):
    # a value the language already matches (trimmed, case-insensitive) is no miss; a miss names a list item
    assert near_miss(f"  {s} ", others + [s.casefold()]) is None
    hit = near_miss(s, others)
    assert hit is None or hit[0] in others


def test_list_uses_finds_the_lists_each_field_is_compared_with():
    from dsl.checker import check
    from dsl.parser import parse

    c = check(parse(RULES, "t.rules"))
    uses = list_uses(c.file, c.lists)
    assert uses["industry"] == [("targets", ("Technology", "Financial Services", "Healthcare"))]
    assert uses["title"] == [('"cto"', ("cto",))]


def test_distinct_values_are_capped():
    dq = DataQuality({"industry": "text"})
    for i in range(DQ_DISTINCT_CAP + 500):
        dq.add(_lead(i, industry=f"v{i}"))
    dq.add(_lead("x", industry="v1"))
    assert len(dq.values["industry"]) == DQ_DISTINCT_CAP
    rep = dq.report()["fields"][0]
    assert rep["distinct_capped"] is True and rep["present"] == DQ_DISTINCT_CAP + 501
    assert rep["top"][0] == {"value": "v1", "count": 2}


def test_fields_and_events_counted():
    dq = DataQuality({"industry": "text", "company_size": "number", "created_at": "date", "opted_out": "bool",
                      "interests": "text list"},
                     {"industry": [("targets", ("Technology",))]})
    dq.add(Lead("1", {"industry": "Tech", "company_size": 10, "created_at": 739000, "opted_out": True,
                      "interests": ("a", "b")}, [Event("email_open", 739100, {}), Event("email_open", 739050, {})]))
    dq.add(Lead("2", {"industry": "  ", "company_size": 30.5, "opted_out": False, "interests": ()},
                [Event("web_visit", 739010, {"page": "/"})]))
    dq.add(Lead("3", {"industry": "Tech"}, []))
    r = dq.report()
    f = {x["field"]: x for x in r["fields"]}
    assert (f["industry"]["present"], f["industry"]["blank"], f["industry"]["missing"]) == (2, 1, 1)
    assert f["industry"]["top"] == [{"value": "Tech", "count": 2}]
    assert (f["company_size"]["min"], f["company_size"]["max"], f["company_size"]["mean"]) == (10, 30.5, 20.25)
    assert f["created_at"]["min"] == f["created_at"]["max"] == dt.date.fromordinal(739000).isoformat()
    assert f["interests"]["present"] == 1 and f["interests"]["blank"] == 1
    assert r["near_misses"] == [{"field": "industry", "value": "Tech", "count": 2, "nearest": "Technology",
                                 "list": "targets", "why": "a prefix of the list item"}]
    ev = {e["type"]: e for e in r["events"]}
    day = lambda o: dt.date.fromordinal(o).isoformat()  # noqa: E731
    assert ev["email_open"] == {"type": "email_open", "count": 2, "leads": 1, "first": day(739050),
                                "last": day(739100)}


def test_every_format_has_the_section(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text(RULES, encoding="utf-8")
    leads = tmp_path / "leads.jsonl"
    rows = [{"id": str(i), "industry": ["Tech", "Technology", "Helthcare", "Retail"][i % 4], "title": "CTO ",
             "events": [{"type": "email_open", "at": "2026-10-0%d" % (1 + i % 9)}]} for i in range(20)]
    leads.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    base = ["simulate", str(rules), "--leads", str(leads), "--as-of", "2026-11-01"]
    run = CliRunner().invoke
    doc = json.loads(run(main, base + ["--format", "json"]).output)
    dq = doc["runs"][0]["data_quality"]
    assert dq["leads"] == 20
    assert {(m["value"], m["nearest"]) for m in dq["near_misses"]} == {("Tech", "Technology"),
                                                                     ("Helthcare", "Healthcare")}
    assert dq["events"] == [{"type": "email_open", "count": 20, "leads": 20, "first": "2026-10-01",
                             "last": "2026-10-09"}]
    text = run(main, base).output
    assert "Data quality over 20 leads" in text and "Near-misses" in text and "Events per type" in text
    md = run(main, base + ["--format", "markdown"]).output
    assert "#### Data quality over 20 leads" in md and '| industry | "Tech" | 5 | "Technology" |' in md
    page = run(main, base + ["--format", "html"]).output
    assert "Data quality" in page and "Near-misses" not in page and "near-misses of a list" in page


def test_stdin_leads_say_why_there_is_no_section(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text(RULES, encoding="utf-8")
    r = CliRunner().invoke(main, ["simulate", str(rules), "--leads", "-", "--as-of", "2026-11-01", "--format", "json"],
                           input='{"id": "1", "industry": "Tech"}\n')
    dq = json.loads(r.output)["runs"][0]["data_quality"]
    assert dq["leads"] is None and "stdin" in dq["note"]


def test_a_lead_value_never_becomes_markup_in_markdown(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text(RULES, encoding="utf-8")
    leads = tmp_path / "leads.jsonl"
    leads.write_text(json.dumps({"id": "1", "industry": "<img src=x onerror=alert(1)>", "title": "a|b"}) + "\n",
                     encoding="utf-8")
    md = CliRunner().invoke(main, ["simulate", str(rules), "--leads", str(leads), "--as-of", "2026-11-01",
                                   "--format", "markdown"]).output
    assert "<img" not in md and '"&lt;img src=x onerror=alert(1)>" 1' in md and '"a\\|b" 1' in md


def test_rich_markup_in_a_lead_value_is_printed_as_typed(tmp_path):
    rules = tmp_path / "t.rules"
    rules.write_text(RULES, encoding="utf-8")
    leads = tmp_path / "leads.jsonl"
    leads.write_text(json.dumps({"id": "1", "industry": "[/bold] Tech [red]"}) + "\n", encoding="utf-8")
    r = CliRunner().invoke(main, ["simulate", str(rules), "--leads", str(leads), "--as-of", "2026-11-01"])
    assert r.exit_code == 0, r.output
    assert '"[/bold] Tech [red]" 1' in r.output
