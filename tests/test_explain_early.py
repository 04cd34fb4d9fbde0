"""`explain --leads FILE --id X` stops reading the file at the lead (docs/cli.md says when it cannot)."""
from __future__ import annotations

import json

from click.testing import CliRunner

from cli import main

RULES = """ruleset "t" version 1
fields {
  title: text
}
score fit "Fit" max 100 {
  "Senior" +10 when title contains word "vp"
}
"""


def _files(tmp_path, tail: str):
    rf = tmp_path / "r.rules"
    rf.write_text(RULES)
    leads = tmp_path / "leads.jsonl"
    rows = [json.dumps({"id": f"L{i}", "title": "VP Sales" if i == 3 else "Intern"}) for i in range(5)]
    leads.write_text("\n".join(rows[:4]) + "\n" + tail + "\n" + rows[4] + "\n")
    return str(rf), str(leads)


def _explain(rf, leads, lead_id, *more):
    return CliRunner().invoke(main, ["explain", rf, "--leads", leads, "--id", lead_id, "--as-of", "2026-11-01",
                                     "--format", "json", *more])


def test_explain_stops_at_the_lead(tmp_path):
    # the line after L3 is not JSON: a bad row that fails the run if it is ever read
    rf, leads = _files(tmp_path, "{this is not json")
    r = _explain(rf, leads, "L3")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["id"] == "L3" and json.loads(r.output)["scores"]["fit"] == 10
    # proof that the garbage is a bad row when it is reached: a lead after it cannot be explained
    r = _explain(rf, leads, "L4")
    assert r.exit_code != 0 and "not valid JSON" in r.output


def test_explain_missing_id_reads_the_whole_file(tmp_path):
    rf, leads = _files(tmp_path, json.dumps({"id": "L9", "title": "CEO"}))
    r = _explain(rf, leads, "nope")
    assert r.exit_code != 0 and "6 rows read" in r.output
