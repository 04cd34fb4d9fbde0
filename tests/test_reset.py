"""`reset on EVENT [where COND]` (issue 16): the language front end (parse, check, lint, fmt) and the
meaning, computed by hand, on every engine. docs/language.md ("Resets") and docs/reference.md
(`reset on`) describe it."""
from __future__ import annotations

import pytest

from dsl import nodes as n
from dsl.checker import check_text
from dsl.formatter import format_text
from dsl.lint import lint_text
from dsl.parser import parse

HEAD = """ruleset "r" version 1
fields { email: text  title: text  reset: number  on: text }
events { web_visit(page: text)  form_submit(form: text)  sales_rejected(reason: text)  email_open }
"""


def codes(text: str) -> list[tuple[str, int, int]]:
    return [(d.code, d.line, d.col) for d in lint_text(text, "r.rules") if d.code != "LR405"]


# ---- syntax ---------------------------------------------------------------------------------------


def test_parse_resets_in_order_with_spans():
    rf = parse(HEAD + """score engagement "E" max 100 {
  decay half-life 30 days
  reset on sales_rejected where reason != "timing"
  reset on email_open
  "Visits" +10 each web_visit max 50
}
""", "r.rules")
    sc = rf.first(n.Score)
    assert [r.event for r in sc.resets] == ["sales_rejected", "email_open"]
    assert isinstance(sc.resets[0].where, n.Compare) and sc.resets[1].where is None
    assert (sc.resets[0].span.line, sc.resets[0].span.col) == (6, 3)
    assert (sc.resets[0].event_span.line, sc.resets[0].event_span.col) == (6, 12)
    assert sc.half_life.days == 30 and len(sc.criteria) == 1


def test_reset_and_on_stay_usable_as_names():
    text = HEAD + """score engagement "E" max 100 {
  reset on sales_rejected where on = "x" and reset > 2
  "R" +1 when reset > 3 and on = "y"
  "V" +1 each web_visit max 3
}
"""
    c = check_text(text, "r.rules")
    assert c.ok, c.errors
    assert format_text(format_text(text)) == format_text(text)


@pytest.mark.parametrize("body, hint", [
    ('"x" +1 each web_visit max 3\n reset on web_visit', "come before the criteria"),
    ('reset on web_visit\n decay half-life 3 days', "first line of a score block"),
    ("reset web_visit", 'expected "on"'),
])
def test_misplaced_or_broken_reset_is_a_syntax_error_with_a_hint(body, hint):
    c = check_text(HEAD + 'score e "E" max 10 {\n ' + body + "\n}\n", "r.rules")
    (d,) = c.errors
    assert d.code == "LR101" and d.line >= 5 and hint in d.hint


# ---- checker and lint -----------------------------------------------------------------------------


def test_unknown_event_and_attribute():
    c = check_text(HEAD + """score e "E" max 100 {
  reset on sales_rejectd
  reset on sales_rejected where reasn = "x"
  "V" +1 each web_visit max 3
}
""", "r.rules")
    got = {(d.code, d.line, d.col): d for d in c.errors}
    assert set(got) == {("LR202", 5, 12), ("LR203", 6, 33)}
    assert got[("LR202", 5, 12)].hint == 'did you mean "sales_rejected"?'
    assert got[("LR203", 6, 33)].hint == 'did you mean "reason"?'


def test_a_reset_condition_is_about_the_reset_event_only():
    c = check_text(HEAD + """score e "E" max 100 {
  reset on sales_rejected where has web_visit
  reset on sales_rejected where days since last web_visit > 3
  "V" +1 each web_visit max 3
}
""", "r.rules")
    assert [(d.code, d.line) for d in c.errors] == [("LR213", 5), ("LR213", 6)]
    assert "attributes" in c.errors[0].hint


def test_reset_in_an_account_dimension_is_lr214():
    c = check_text(HEAD + """score engagement "E" max 100 { "V" +1 each web_visit max 3 }
accounts by domain(email) {
  score buying "B" max 100 {
    reset on sales_rejected
    "x" +10 when has lead where engagement > 3
  }
  grade buying { hot when >= 5  cold otherwise }
}
""", "r.rules")
    assert [(d.code, d.line) for d in c.errors] == [("LR214", 7)]


def test_lint_reset_in_a_dimension_without_event_criteria():
    text = HEAD + """score e "E" max 100 {
  reset on sales_rejected
  "Recent"  +10  when days since last web_visit <= 7
}
"""
    ds = [d for d in lint_text(text, "r.rules") if d.code == "LR320"]
    assert [(d.line, d.col, d.severity) for d in ds] == [(5, 3, "warning")]
    assert "days since last" in ds[0].hint
    # any event-counting criterion makes the reset meaningful: each, has, count, count event types
    for crit in ('"V" +1 each web_visit max 3', '"H" +5 when has web_visit within 7 days',
                 '"C" +5 when count form_submit >= 2', '"T" first of { +5 when count event types >= 2 }',
                 '"W" +5 when title = "x" or (has email_open)'):
        assert "LR320" not in [c for c, _, _ in codes(HEAD + f'score e "E" max 100 {{\n  reset on sales_rejected\n'
                                                             f"  {crit}\n}}\n")], crit


def test_lint_reset_that_can_never_happen():
    got = codes(HEAD + """score e "E" max 100 {
  reset on sales_rejected where reason = "a" and reason = "b"
  "V" +1 each web_visit max 3
}
""")
    assert ("LR314", 5, 3) in got


# ---- fmt --------------------------------------------------------------------------------------------


def test_fmt_canonical_reset_lines_keep_comments():
    text = HEAD + """score e "E" max 100 { decay half-life 30 days   # c1
  # c2
  reset     on sales_rejected   where reason != "timing"   # c3
  reset on `email_open`
  "V" +1 each web_visit max 3 }
"""
    out = format_text(text)
    assert """score e "E" max 100 {
  decay half-life 30 days  # c1
  # c2
  reset on sales_rejected where reason != "timing"  # c3
  reset on email_open
  "V"  +1  each web_visit  max 3
}""" in out
    assert format_text(out) == out
    assert parse(out) == parse(text)


# ---- the meaning, by hand, on every engine ---------------------------------------------------------

import datetime as dt  # noqa: E402

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from runtime.core import kernel as K  # noqa: E402
from runtime.core.model import Event, Lead  # noqa: E402

AS_OF = dt.date(2026, 11, 1)
A = AS_OF.toordinal()

RULES = HEAD + """
score engagement "E" max 100 floor -50 {
  decay half-life 30 days
  reset on sales_rejected where reason != "wrong contact"
  "Visits"    +10  each web_visit  max 40
  "Demo"      +20  when has form_submit where form = "demo"
  "Opens"     +1   when count email_open >= 2
  "Seen"      +5   when days since last web_visit <= 7
  "Rejected"  -10  each sales_rejected
}
score fit "F" max 100 {
  "Visits anyway"  +10  each web_visit  max 40
}
grade engagement { hot when >= 25  cold otherwise }
route { hot -> sales "hot"  otherwise -> nurture "recycled" }
"""


def ev(t, days_ago, **attrs):
    return Event(t, A - days_ago, attrs, dt.date.fromordinal(A - days_ago).isoformat())


def w(age):
    return 0.5 ** (age / 30)


def leads():
    return [
        # rejected 10 days ago: the visit 20 days ago, the demo and the opens before it are voided;
        # the visit 3 days ago counts; the visit on the reset's own day is voided, the rejection scores
        Lead("voids", {}, [ev("web_visit", 20), ev("form_submit", 15, form="demo"), ev("email_open", 14),
                           ev("email_open", 12), ev("sales_rejected", 10, reason="no budget"), ev("web_visit", 10),
                           ev("web_visit", 3)]),
        # the rejection is in the future of the as-of date: nothing is voided yet
        Lead("future", {}, [ev("web_visit", 20), ev("form_submit", 15, form="demo"),
                            ev("sales_rejected", -2, reason="no budget")]),
        # a rejection that does not match the reset's condition resets nothing (it still scores)
        Lead("nomatch", {}, [ev("form_submit", 15, form="demo"), ev("sales_rejected", 10, reason="Wrong contact ")]),
        # two resets: the latest applies, and only it scores
        Lead("twice", {}, [ev("sales_rejected", 30, reason="a"), ev("web_visit", 25), ev("sales_rejected", 5, reason="b"),
                           ev("web_visit", 4)]),
        # days since last keeps its meaning: the only visit is voided but was 6 days ago
        Lead("recent", {}, [ev("web_visit", 6), ev("sales_rejected", 5, reason="x")]),
        Lead("none", {}, []),
    ]


EXPECTED = {
    # visit 3 days ago + rejection 10 days ago, "Seen" (3 days)
    # (fit has no decay and no reset: every visit counts in full)
    "voids": {"engagement": 10 * w(3) - 10 * w(10) + 5, "fit": 30},
    "future": {"engagement": 10 * w(20) + 20, "fit": 10},
    "nomatch": {"engagement": 20 - 10 * w(10), "fit": 0},
    "twice": {"engagement": 10 * w(4) - 10 * w(5) + 5, "fit": 20},
    "recent": {"engagement": -10 * w(5) + 5, "fit": 10},
    "none": {"engagement": 0, "fit": 0},
}


def test_by_hand_on_every_engine():
    from tests.test_sql import agree

    res = {r.id: r for r in agree(RULES, leads())}
    for lid, want in EXPECTED.items():
        assert res[lid].scores == {d: K.round2(max(-50, min(100, x))) for d, x in want.items()}, lid
    crit = [c.name for c in check_text(RULES).file.first(n.Score).criteria]
    fired = dict(zip(crit, res["voids"].fired))
    assert fired["Demo"] is False and fired["Opens"] is False and fired["Rejected"] is True
    assert dict(zip(crit, res["future"].fired))["Demo"] is True


@pytest.mark.parametrize("path", ["docs/reference.md", "docs/language.md"])
def test_the_docs_examples_pass_their_tests(path):
    """The complete `reset on` examples of the docs, with their hand-computed expectations."""
    from pathlib import Path

    from runtime.analysis.testing import run_tests
    from runtime.backends.closure import compile_checked
    from runtime.backends.pygen import compile_fast
    from tests.doc_examples import rule_blocks

    root = Path(__file__).resolve().parents[1]
    blocks = [t for _, t in rule_blocks(root / path) if "reset on" in t and t.lstrip().startswith("ruleset")]
    assert blocks
    for text in blocks:
        c = check_text(text, "doc.rules")
        assert c.ok, c.errors
        for eng in (compile_checked(c), compile_fast(c)):
            outs = run_tests(eng, AS_OF)
            assert outs and [(o.name, o.failures) for o in outs if not o.passed] == []


def test_kernel_reset_age_is_the_latest_on_or_before():
    assert K.reset_age([]) is None and K.reset_age(iter([7, 3, 12])) == 3


def test_generated_python_takes_resets():
    from runtime.backends.pygen import FastEngine, compile_fast, python_source

    c = check_text(RULES)
    eng = compile_fast(c)
    assert isinstance(eng, FastEngine) and eng.limits == ()
    assert "ra0" in python_source(c)
    # a JSON object is scored the long way round (the reader, then score(lead)): same Result
    assert eng.score_obj({"id": "x", "events": []}, A, 1) is None


@pytest.mark.parametrize("extra", [
    '  "Variety"  +2  when count event types >= 2\n',
    '  "Any"  +1  when has event within 3 days\n',
    '  "Variety"  +2  when count event types >= 2\n  "Any"  +1  when has event within 3 days\n'
    '  "Recent types"  +4  when count event types within 5 days >= 1\n',
])
def test_any_event_tests_under_a_reset_on_every_engine(extra):
    """`count event types` and `has event` in a reset dimension count only the kept events, of any
    type; generated Python takes them (the reset pass keeps the ids of the reset events)."""
    from runtime.backends.capability import python_limits
    from runtime.backends.pygen import FastEngine, compile_fast
    from tests.test_sql import agree

    text = RULES.replace('  "Rejected"  -10  each sales_rejected\n', '  "Rejected"  -10  each sales_rejected\n' + extra)
    c = check_text(text)
    assert python_limits(c) == []
    assert isinstance(compile_fast(c), FastEngine)
    res = {r.id: r for r in agree(text, leads())}  # closure, generated Python and DuckDB agree
    # "voids": after the reset, the rejection (10 days ago, kept: a reset event of the reset's day) and
    # the visit 3 days ago: two types; within 3 days only the visit; the same-day visit is voided
    want = 10 * w(3) - 10 * w(10) + 5 + (2 if "Variety" in extra else 0) + (1 if "Any" in extra else 0) \
        + (4 if "Recent types" in extra else 0)
    assert res["voids"].scores["engagement"] == K.round2(want)
    # "recent": only the rejection 5 days ago survives: one type, nothing within 3 days, one within 5
    want = -10 * w(5) + 5 + (4 if "Recent types" in extra else 0)
    assert res["recent"].scores["engagement"] == K.round2(want)


@pytest.mark.parametrize("dialect", ["duckdb", "postgres", "spark", "snowflake", "bigquery"])
def test_sql_of_every_dialect_parses_back(dialect):
    import sqlglot

    from runtime.backends.sql import to_sql

    sql = to_sql(check_text(RULES), dialect, AS_OF)
    assert len([x for x in sqlglot.parse(sql, read=dialect) if x is not None]) == 1
    assert "lr_ra0" in sql and "PARTITION BY" in sql.upper()


# ---- explain, timeline, next step, diff -----------------------------------------------------------


def test_explain_shows_the_reset_date_and_the_voided_events():
    from runtime.analysis.explain import as_dict
    from runtime.backends.closure import compile_checked

    eng = compile_checked(check_text(RULES))
    lead = leads()[0]
    d = as_dict(eng, lead, A)
    eng_dim, fit_dim = d["dimensions"]
    assert eng_dim["reset"]["date"] == "2026-10-22" and eng_dim["reset"]["age_days"] == 10
    assert [(e["type"], e["date"]) for e in eng_dim["reset"]["voided_events"]] == [
        ("web_visit", "2026-10-12"), ("form_submit", "2026-10-17"), ("email_open", "2026-10-18"),
        ("email_open", "2026-10-20"), ("web_visit", "2026-10-22")]
    assert "reset" not in fit_dim
    visits = next(c for c in d["criteria"] if c["name"] == "Visits")
    assert [e["age_days"] for e in visits["events"]] == [3]
    assert as_dict(eng, leads()[1], A)["dimensions"][0]["reset"] is None  # not yet happened


def test_explain_command_text_names_the_reset(tmp_path):
    import json

    from click.testing import CliRunner

    import cli

    rules = tmp_path / "r.rules"
    rules.write_text(RULES, encoding="utf-8")
    data = tmp_path / "leads.jsonl"
    lead = leads()[0]
    data.write_text(json.dumps({"id": lead.id, "events": [{"type": e.type, "at": e.at, **e.attrs} for e in lead.events]})
                    + "\n", encoding="utf-8")
    res = CliRunner().invoke(cli.main, ["explain", str(rules), "--leads", str(data), "--id", "voids",
                                        "--as-of", "2026-11-01"])
    assert res.exit_code == 0, res.output
    assert "reset on 2026-10-22" in res.output and "voided 5 events" in res.output
    assert "form_submit 2026-10-17" in res.output


def test_timeline_applies_the_reset_from_its_day_on():
    from runtime.analysis.timeline import timeline
    from runtime.backends.closure import compile_checked

    eng = compile_checked(check_text(RULES))
    lead = Lead("t", {}, [ev("form_submit", 20, form="demo"), ev("web_visit", 19), ev("sales_rejected", 10, reason="x")])
    days = [AS_OF - dt.timedelta(days=k) for k in (12, 11, 10, 9)]
    t = timeline(eng, lead, days)
    scores = [s["scores"]["engagement"] for s in t["dates"]]
    # before the reset: demo and the visit (seen 7 days ago, then 8); on its day only the rejection
    # counts; a day later it has decayed a day
    assert scores == [K.round2(20 + 10 * w(7) + 5), K.round2(20 + 10 * w(8)), -10, K.round2(-10 * w(1))]
    (ch,) = [c for c in t["changes"] if c["date"] == "2026-10-22"]
    assert ch["grade"] == ["hot", "cold"]
    (e,) = ch["events"]
    assert e["type"] == "sales_rejected" and e["resets"] == ["engagement"]


def test_timeline_names_an_event_a_reset_voids_and_does_not_credit_it():
    """A visit on the reset's own day (or before it, in the same step) adds nothing to the reset
    dimension: the timeline says it was voided and names only what it still does (`days since last`
    keeps its meaning; the dimension without reset counts it)."""
    from runtime.analysis.timeline import timeline
    from runtime.backends.closure import compile_checked
    from runtime.report.timeline import change_lines

    eng = compile_checked(check_text(RULES))
    lead = Lead("t", {}, [ev("form_submit", 20, form="demo"), ev("web_visit", 19), ev("web_visit", 12),
                          ev("sales_rejected", 10, reason="x"), ev("web_visit", 10), ev("web_visit", 9)])
    # one step from 2026-10-18 to 2026-10-23: a visit before the reset, the reset, a visit on its day,
    # a visit after it
    t = timeline(eng, lead, [AS_OF - dt.timedelta(days=14), AS_OF - dt.timedelta(days=9)])
    (ch,) = t["changes"]
    rows = {(e["type"], e["date"]): e for e in ch["events"]}
    rej = rows[("sales_rejected", "2026-10-22")]
    assert rej["resets"] == ["engagement"] and "voided_in" not in rej
    for day in ("2026-10-20", "2026-10-22"):
        v = rows[("web_visit", day)]
        assert v["voided_in"] == ["engagement"] and "resets" not in v
        crits = {c["criterion"]: c["points"] for c in v["criteria"]}
        assert "Visits" not in crits and crits["Visits anyway"] == 10
    assert {c["criterion"]: c["points"] for c in rows[("web_visit", "2026-10-22")]["criteria"]}.get("Seen") == 5
    after = rows[("web_visit", "2026-10-23")]
    assert "voided_in" not in after and {c["criterion"]: c["points"] for c in after["criteria"]}["Visits"] == 10
    # the per-dimension change is exact: 10 × w(0) for the visit after the reset, −10 × w(1) for the rejection
    (dim,) = [d for d in ch["dimensions"] if d["dimension"] == "engagement"]
    assert dim["to"] == K.round2(10 - 10 * w(1) + 5)
    text = "\n".join(change_lines(ch))
    assert "web_visit on 2026-10-22: voided in engagement" in text
    assert "sales_rejected on 2026-10-22: resets engagement" in text


def test_next_step_never_proposes_an_event_on_or_before_the_reset():
    from runtime.analysis.nextstep import next_steps
    from runtime.backends.closure import compile_checked

    eng = compile_checked(check_text(RULES))
    # rejected today: a visit today would be voided, so the visits are proposed for tomorrow
    lead = Lead("n", {}, [ev("web_visit", 2), ev("sales_rejected", 0, reason="x")])
    out = next_steps(eng, lead, A)
    visits = [s for s in out["steps"] if s["criterion"] == "Visits"]
    assert visits and all(s["on"] == "2026-11-02" for s in visits)
    assert any("reset today" in x for x in out["not_exact"])
    for s in visits:  # verified: the proposed events reach the band
        assert s["verified"]["bands"]["engagement"] == "hot"
    # rejected yesterday: today's events count
    from runtime.report.nextstep import step_line

    assert "done on 2026-11-02" in step_line(1, visits[0]) and "done today" not in step_line(1, visits[0])
    lead = Lead("m", {}, [ev("web_visit", 2), ev("sales_rejected", 1, reason="x")])
    out = next_steps(eng, lead, A)
    assert all("on" not in s for s in out["steps"])
    assert any(s["criterion"] == "Visits" for s in out["steps"])


def test_diff_names_a_changed_reset():
    from runtime.analysis.diff import rule_changes

    old = check_text(RULES)
    new = check_text(RULES.replace('where reason != "wrong contact"', ""))
    ch = [c for c in rule_changes(old.file, new.file) if c.kind == "reset_changed"]
    assert len(ch) == 1 and ch[0].old == 'reset on sales_rejected where reason != "wrong contact"'
    assert ch[0].new == "reset on sales_rejected"


def test_calibrate_replay_as_of_worked_at_respects_the_resets_known_then():
    """`calibrate` (and `--as-of-field`) score each lead as of its own date: a reset after that date
    does not apply, one before it does."""
    from runtime.backends.pygen import compile_fast
    from runtime.backends.replay import replay

    eng = compile_fast(check_text(RULES))
    evs = [ev("form_submit", 20, form="demo"), ev("sales_rejected", 10, reason="x")]
    before, after = Lead("before", {}, list(evs)), Lead("after", {}, list(evs))
    day = {"before": A - 15, "after": A - 5}
    got = {lead.id: r for lead, r, _d in replay(eng, lambda: [before, after], lambda lead: day[lead.id])}
    assert got["before"].scores["engagement"] == 20 and got["before"].grade == "cold"
    assert got["after"].scores["engagement"] == K.round2(-10 * w(5))


def test_simulate_over_time_a_reset_moves_a_lead_out_of_sales_on_its_day():
    from runtime.analysis.load import Load

    from runtime.backends.pygen import compile_fast

    c = check_text(RULES)
    eng = compile_fast(c)
    # hot (demo + visit) until sales rejects it 10 days before the as-of date; a second lead never rejected
    rejected = Lead("r", {}, [ev("form_submit", 20, form="demo"), ev("web_visit", 19), ev("sales_rejected", 10, reason="x")])
    kept = Lead("k", {}, [ev("form_submit", 20, form="demo"), ev("web_visit", 19)])
    days = [AS_OF - dt.timedelta(days=k) for k in range(12, 7, -1)]   # 2026-10-20 … 2026-10-24
    load = Load(eng, days, 1)
    for lead in (rejected, kept):
        load.add(lead)
    rep = load.report(c)
    by_date = {d["date"]: {r["route"]: r for r in d["routes"]} for d in rep["dates"]}
    assert by_date["2026-10-22"]["sales"]["left"] == 1 and by_date["2026-10-22"]["nurture"]["entered"] == 1
    assert all(by_date[d]["sales"]["left"] == 0 for d in by_date if d != "2026-10-22")
    assert by_date["2026-10-21"]["sales"]["standing"] == 2 and by_date["2026-10-22"]["sales"]["standing"] == 1


RECENCY_RULES = '''ruleset "rl" version 1
fields {
  email: text
}
events {
  form_submit(form: text)
  web_visit(page: text)
  sales_rejected
}
score engagement "Engagement" max 100 {
  reset on sales_rejected
  "forms" 10 each form_submit max 30
  "recent visit" 20 when days since last web_visit where page = "/pricing" <= 10
}
grade engagement { A when >= 20  B otherwise }
route { A -> sales "s"  otherwise -> nurture "n" }
'''


@pytest.mark.parametrize("engine", [["--engine", "python"], ["--engine", "duckdb"], ["--workers", "2"]])
def test_a_reset_voids_counts_not_recency_where(engine, tmp_path):
    """`days since last EVENT where C` keeps its meaning after a reset, as `days since last` does: a
    pricing visit before the reset still counts for recency; the form before it no longer counts."""
    import json

    from click.testing import CliRunner

    import cli

    rules = tmp_path / "rl.rules"
    rules.write_text(RECENCY_RULES, encoding="utf-8")
    evs = [{"type": "form_submit", "at": "2026-10-20T10:00:00Z", "form": "x"},
           {"type": "web_visit", "at": "2026-10-25T10:00:00Z", "page": "/pricing"},
           {"type": "sales_rejected", "at": "2026-10-28T10:00:00Z"},
           {"type": "form_submit", "at": "2026-10-30T10:00:00Z", "form": "y"}]
    leads = tmp_path / "l.jsonl"
    leads.write_text(json.dumps({"id": "a", "email": "x@y.com", "events": evs}) + "\n", encoding="utf-8")
    out = tmp_path / "o.jsonl"
    res = CliRunner().invoke(cli.main, ["score", str(rules), "--leads", str(leads), "--as-of", "2026-11-01",
                                        "-o", str(out), *engine])
    assert res.exit_code == 0, res.output
    rec = json.loads(out.read_text(encoding="utf-8"))
    assert rec["scores"] == {"engagement": 30.0} and rec["reasons"] == "recent visit +20; forms +10"
