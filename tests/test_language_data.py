"""The constructs the data needs (issue 13): `+P per ATTR each EVENT`, `days since last EVENT where C
[within N days]`, windows anchored at a date field (`within N days of created_at`), and a date field
after the as-of date treated as not yet known. Each is computed by hand here and checked on every
engine (the closure engine, generated Python, DuckDB: tests/test_sql.py's `agree`)."""
from __future__ import annotations

import datetime as dt

import pytest

from dsl import printer
from dsl.checker import check
from dsl.formatter import format_text
from dsl.parser import parse
from runtime.core import kernel as K
from runtime.core.model import Event, Lead
from tests.test_sql import agree

AS_OF = dt.date(2026, 11, 1)
A = AS_OF.toordinal()

HEAD = """ruleset "t" version 1
fields { created_at: date  size: number }
events { web_visit(page: text, seconds: number)  form_submit(form: text)  call }
"""
TAIL = """
grade e { A when >= 20  B otherwise }
route { otherwise -> nurture "n" }
"""


def rules(body: str, decay: str = "") -> str:
    return HEAD + 'score e "E" max 1000 {\n' + decay + body + "\n}" + TAIL


def ev(t, days_ago, **attrs):
    return Event(t, A - days_ago, attrs)


def lead(id_, events=(), **fields):
    return Lead(id_, fields, list(events))


def score(text, leads):
    """Every engine agrees; the closure engine's scores."""
    return [r.scores["e"] for r in agree(text, leads, AS_OF)]


# ---- +P per ATTR ---------------------------------------------------------------------------------


def test_per_attribute_points_decayed_and_capped_by_hand():
    text = rules('  "Time on pricing" +0.1 per seconds each web_visit where page = "/pricing" max 30',
                 "  decay half-life 10 days\n")
    leads = [
        # 100 s today: 0.1 × 100 × 1 = 10; 60 s 10 days ago: 0.1 × 60 × 0.5 = 3; total 13
        lead("a", [ev("web_visit", 0, page="/pricing", seconds=100), ev("web_visit", 10, page="/pricing", seconds=60)]),
        # an event without a value adds nothing; another page is not matched
        lead("b", [ev("web_visit", 0, page="/pricing"), ev("web_visit", 0, page="/blog", seconds=500)]),
        # 1000 s today: 100 points, capped at 30
        lead("c", [ev("web_visit", 0, page="/pricing", seconds=1000)]),
    ]
    assert score(text, leads) == [13, 0, 30]
    r = agree(text, leads, AS_OF)
    assert [x.fired for x in r] == [(True,), (False,), (True,)]


def test_per_attribute_without_decay_and_negative_points():
    text = rules('  "Refunds" -1 per seconds each web_visit no decay max 50', "  decay half-life 10 days\n")
    leads = [lead("a", [ev("web_visit", 30, seconds=20), ev("web_visit", 5, seconds=12.5)])]
    assert score(text, leads) == [0]  # clamped at the floor 0: the raw total is -32.5
    assert agree(text, leads, AS_OF)[0].raw == (-32.5,)


def test_per_attribute_rejections_point_at_the_attribute():
    for body, code, where in [
        ('  "x" +1 per page each web_visit', "LR205", "page is text"),
        ('  "x" +1 per secs each web_visit', "LR203", 'did you mean "seconds"'),
        ('  "x" +1 per seconds each form_submit', "LR203", "not an attribute of form_submit"),
    ]:
        c = check(parse(rules(body), "t.rules"))
        errs = [d for d in c.diagnostics if d.is_error]
        assert [d.code for d in errs] == [code], errs
        d = errs[0]
        assert (d.file, d.line, d.col) == ("t.rules", 5, body.index("per ") + 5), d  # the attribute after `per`
        assert where in d.message + " " + (d.hint or "")


# ---- days since last EVENT where C -------------------------------------------------------------


def test_days_since_last_with_where_and_within_by_hand():
    text = rules('  "Recent demo" +10 when days since last form_submit where form = "demo" <= 14\n'
                 '  "Demo this quarter" +5 when days since last form_submit where form = "demo" within 90 days is present\n'
                 '  "Quiet" +1 when days since last form_submit where form = "demo" is missing')
    leads = [
        # the newest demo is 20 days old (the 3-day-old form is another one): not recent, this quarter
        lead("a", [ev("form_submit", 3, form="contact"), ev("form_submit", 20, form="Demo "), ev("form_submit", 50, form="demo")]),
        lead("b", [ev("form_submit", 14, form="demo")]),            # 14 <= 14: recent
        lead("c", [ev("form_submit", 100, form="demo")]),           # outside 90 days: +0 +0, present without within
        lead("d", [ev("form_submit", 1, form="contact")]),          # no demo at all: missing
        lead("e", [ev("form_submit", -2, form="demo")]),            # in the future: not yet happened
    ]
    assert score(text, leads) == [5, 15, 0, 1, 1]


def test_days_since_last_where_round_trips_and_prints():
    src = 'days since last form_submit where form = "demo" within 30 days <= 3'
    text = rules(f'  "x" +1 when {src}')
    crit = parse(text).first(__import__("dsl.nodes", fromlist=["Score"]).Score).criteria[0]
    assert printer.cond(crit.cond) == src
    assert parse(format_text(text)) == parse(text)


# ---- windows anchored at a date field ----------------------------------------------------------


def test_window_anchored_at_a_date_field_by_hand():
    text = rules('  "Fast start" +10 when count web_visit within 7 days of created_at >= 2\n'
                 '  "First week calls" +3 each call within 7 days of created_at no decay max 9')
    created = A - 30
    leads = [
        # created 30 days ago; visits on days 0, 7 (both in) and 8 after creation (out)
        lead("a", [ev("web_visit", 30), ev("web_visit", 23), ev("web_visit", 22)], created_at=created),
        # one visit the day before creation, one on day 3: only one inside
        lead("b", [ev("web_visit", 31), ev("web_visit", 27)], created_at=created),
        # calls on days 1, 2, 3, 4 after creation: 4 × 3 = 12, capped at 9
        lead("c", [ev("call", 29), ev("call", 28), ev("call", 27), ev("call", 26)], created_at=created),
        # no created_at: the window holds nothing
        lead("d", [ev("web_visit", 1), ev("web_visit", 2), ev("call", 1)]),
        # created "tomorrow" (a date after the as-of date is not yet known): nothing, though the
        # events would fall in a window counted from it
        lead("e", [ev("web_visit", 0), ev("web_visit", 0), ev("call", 0)], created_at=A + 1),
        # created today: today's events are day 0 of the window
        lead("f", [ev("web_visit", 0), ev("web_visit", 0), ev("call", 0)], created_at=A),
    ]
    assert score(text, leads) == [10, 0, 9, 0, 0, 13]


def test_anchored_window_at_an_earlier_as_of_ignores_later_events():
    text = rules('  "Fast start" +10 when count web_visit within 7 days of created_at >= 2')
    created = A - 30
    ls = [lead("a", [ev("web_visit", 29), ev("web_visit", 25)], created_at=created)]
    # as of 27 days ago, only the first visit has happened
    assert [r.scores["e"] for r in agree(text, ls, AS_OF - dt.timedelta(days=27))] == [0]
    assert [r.scores["e"] for r in agree(text, ls, AS_OF - dt.timedelta(days=25))] == [10]


def test_anchor_must_be_a_date_field():
    c = check(parse(rules('  "x" +1 when count web_visit within 7 days of size >= 1'), "t.rules"))
    errs = [d for d in c.diagnostics if d.is_error]
    assert [d.code for d in errs] == ["LR205"] and "size is a number" in errs[0].message
    assert (errs[0].line, errs[0].col) == (5, 48)
    c = check(parse(rules('  "x" +1 when has call within 7 days of creatd_at'), "t.rules"))
    errs = [d for d in c.diagnostics if d.is_error]
    assert [d.code for d in errs] == ["LR201"] and "created_at" in errs[0].hint


# ---- a date field after the as-of date is not yet known ------------------------------------------


def test_future_date_field_is_not_yet_known_everywhere():
    text = rules('  "Brand new" +5 when days since created_at <= 7\n  "Unknown" +1 when days since created_at is missing')
    leads = [lead("a", created_at=A + 3), lead("b", created_at=A - 3), lead("c")]
    assert score(text, leads) == [1, 5, 1]


@pytest.mark.parametrize("age, within, anchor, anchored, want", [
    (3, 7, None, False, True), (8, 7, None, False, False), (3, None, None, False, True),
    (3, 7, 10, True, True), (3, 7, 2, True, False), (3, 7, 11, True, False), (3, 7, None, True, False),
])
def test_kernel_window(age, within, anchor, anchored, want):
    assert K.in_window(age, within, anchor, anchored) is want


def test_kernel_known_age_and_per_unit():
    assert K.known_age(100, 90) == 10 and K.known_age(100, 101) is None and K.known_age(100, None) is None
    assert K.per_unit(0.5, 10, 0.5) == 2.5 and K.per_unit(2, None) is None


# ---- lint ----------------------------------------------------------------------------------------


def test_lint_per_attribute_without_cap_and_anchored_windows():
    from dsl.lint import lint_text

    def codes(body):
        return {d.code: d for d in lint_text(rules(body, "  decay half-life 7 days\n"), "t.rules")}

    # decay does not bound points per unit: a per-ATTR criterion without a cap is LR317 even so
    d = codes('  "Time" +1 per seconds each web_visit')["LR317"]
    assert "per unit of seconds" in d.message and d.line == 6
    assert "LR317" not in codes('  "Time" +1 per seconds each web_visit max 30')
    # a window counted from a date field does not bound an event's age: no LR316 for it
    assert "LR316" in codes('  "Calls" +1 each call within 300 days max 5')
    assert "LR316" not in codes('  "Calls" +1 each call within 300 days of created_at max 5')


# ---- the docs' examples of these constructs ----------------------------------------------------


def test_the_guides_complete_examples_pass_their_tests():
    """docs/language.md's complete examples (with their `test` blocks) pass on the generated engine
    and the closure engine; docs/reference.md's are run by tests/test_reference.py."""
    import re

    from dsl.checker import check_text
    from runtime.analysis.testing import run_tests
    from runtime.backends.closure import compile_checked
    from runtime.backends.pygen import compile_fast
    from tests.doc_examples import ROOT, rule_blocks

    blocks = [(ln, t) for ln, t in rule_blocks(ROOT / "docs" / "language.md")
              if re.search(r"^\s*ruleset\s", t, re.M) and re.search(r"^\s*test\s", t, re.M)]
    assert any("within 7 days of created_at" in t and " per minutes " in t and "days since last form_submit where" in t
               for _, t in blocks)
    for line, text in blocks:
        c = check_text(text, "language.rules")
        for engine in (compile_fast(c), compile_checked(c)):
            outs = run_tests(engine, AS_OF)
            assert outs and [(o.name, o.failures) for o in outs if not o.passed] == [], f"docs/language.md:{line}"


# ---- diff and explain show them ------------------------------------------------------------------


def test_diff_and_explain_show_the_constructs(tmp_path):
    import json

    from click.testing import CliRunner

    import cli

    v1 = rules('  "Time on pricing" +0.1 per seconds each web_visit where page = "/pricing" within 30 days of created_at max 20\n'
               '  "Recent demo" +10 when days since last form_submit where form = "demo" <= 14', "  decay half-life 30 days\n")
    v2 = v1.replace("+0.1 per seconds each", "+2 each").replace("within 30 days of created_at", "within 14 days of created_at")
    (tmp_path / "v1.rules").write_text(v1)
    (tmp_path / "v2.rules").write_text(v2)
    lead_ = {"id": "a", "created_at": "2026-10-20", "events": [
        {"type": "web_visit", "at": "2026-10-21T10:00:00Z", "page": "/pricing", "seconds": 120},
        {"type": "web_visit", "at": "2026-10-30T10:00:00Z", "page": "/pricing", "seconds": 30},
        {"type": "form_submit", "at": "2026-10-29T10:00:00Z", "form": "demo"}]}
    (tmp_path / "leads.jsonl").write_text(json.dumps(lead_) + "\n")

    def run(*args):
        r = CliRunner().invoke(cli.main, [str(a) for a in args], catch_exceptions=False)
        return r.exit_code, r.output

    code, out = run("explain", tmp_path / "v1.rules", "--lead", json.dumps(lead_), "--as-of", "2026-11-01",
                    "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    crit = {c["name"]: c for c in data["criteria"]}
    t = crit["Time on pricing"]
    assert "+0.1 per seconds each web_visit" in t["rule"] and "within 30 days of created_at" in t["rule"]
    # 0.1 × 120 × 0.5^(11/30) + 0.1 × 30 × 0.5^(2/30), each event with its own points
    assert [round(e["points"], 3) for e in t["events"]] == [round(12 * 0.5 ** (11 / 30), 3), round(3 * 0.5 ** (2 / 30), 3)]
    assert crit["Recent demo"]["fired"] and "days since last form_submit where form" in crit["Recent demo"]["rule"]

    code, out = run("diff", tmp_path / "v1.rules", tmp_path / "v2.rules", "--leads", tmp_path / "leads.jsonl",
                    "--as-of", "2026-11-01", "--format", "markdown")
    assert code == 0, out
    assert "per seconds each web_visit" in out and "within 14 days of created_at" in out


# ---- +P per count EVENT [where C] [within N days] ------------------------------------------------


def test_per_count_by_hand_not_decayed_and_capped():
    text = rules('  "Touches" +2 per count call within 30 days max 10\n'
                 '  "Demo forms" +5 per count form_submit where form = "demo" max 20\n'
                 '  "First week" +1 per count web_visit within 7 days of created_at max 5',
                 "  decay half-life 10 days\n")
    created = A - 40
    leads = [
        # calls 1 and 29 days old count (31 is outside), 2 × 2 = 4, in full though the dimension decays;
        # the 40-day-old demo counts 5 in full; the 2-day-old "x" form is not a demo
        lead("a", [ev("call", 1), ev("call", 29), ev("call", 31), ev("form_submit", 40, form="demo"),
                   ev("form_submit", 2, form="x")]),
        # eight calls: 16, capped at 10; a call tomorrow has not happened
        lead("b", [ev("call", i) for i in range(8)] + [ev("call", -1)]),
        # visits on days 0, 3 and 8 after creation: two in the first week
        lead("c", [ev("web_visit", 40), ev("web_visit", 37), ev("web_visit", 32)], created_at=created),
        lead("d"),
    ]
    assert score(text, leads) == [9, 10, 2, 0]
    assert [r.fired for r in agree(text, leads, AS_OF)] == [
        (True, True, False), (True, False, False), (False, False, True), (False, False, False)]


def test_per_count_means_each_without_decay_and_round_trips():
    a = rules('  "Touches" +2 per count web_visit where page = "/p" within 30 days max 10', "  decay half-life 5 days\n")
    b = rules('  "Touches" +2 each web_visit where page = "/p" within 30 days no decay max 10', "  decay half-life 5 days\n")
    leads = [lead("a", [ev("web_visit", d, page="/p") for d in (0, 3, 12, 29, 45)] + [ev("web_visit", 1, page="/q")])]
    assert score(a, leads) == score(b, leads) == [8]
    crit = parse(a).first(__import__("dsl.nodes", fromlist=["Score"]).Score).criteria[0]
    assert printer.criterion_rule(crit) == "+2 per count web_visit where page = \"/p\" within 30 days max 10"
    assert parse(format_text(a)) == parse(a) and format_text(format_text(a)) == format_text(a)


def test_per_count_lint_and_checker_errors():
    from dsl.lint import lint_text

    def diags(body, decay=""):
        return {d.code: d for d in lint_text(rules(body, decay), "t.rules")}

    # a count is not decayed: no cap is LR317 with or without the dimension's decay, and never LR409
    d = diags('  "Touches" +2 per count call')
    assert "LR317" in d and "a count is not decayed" in d["LR317"].message and "LR409" not in d
    assert "LR409" not in diags('  "Touches" +2 per count call max 10', "  decay half-life 7 days\n")
    c = check(parse(rules('  "x" +1 per count cal within 7 days'), "t.rules"))
    errs = [e for e in c.diagnostics if e.is_error]
    assert [e.code for e in errs] == ["LR202"] and (errs[0].line, errs[0].col) == (5, 20), errs
    assert "call" in (errs[0].hint or "") + errs[0].message
    for body, code, words in [('  "x" +1 per count event within 7 days max 5', "LR213", "needs an event type"),
                              ('  "x" +1 per count lead max 5', "LR213", "`per count lead` only makes sense"),
                              ('  "x" +1 per count call within 7 days of size max 5', "LR205", "size is a number")]:
        errs = [e for e in check(parse(rules(body), "t.rules")).diagnostics if e.is_error]
        assert [e.code for e in errs] == [code] and words in errs[0].message, errs
        assert errs[0].line == 5 and errs[0].hint, errs


def test_diff_and_explain_show_per_count_and_per_attribute():
    from runtime.analysis.diff import rule_changes
    from runtime.analysis.explain import as_dict
    from runtime.backends.closure import compile_checked

    old = rules('  "Time" +0.1 per seconds each web_visit max 30\n  "Touches" +2 per count call within 30 days max 10')
    new = rules('  "Time" +0.1 each web_visit max 30\n  "Touches" +2 per count call within 14 days of created_at max 10')
    ch = {(c.name, c.kind): (c.old, c.new) for c in rule_changes(parse(old), parse(new))}
    assert ch[("Time", "condition_changed")] == ("per seconds each web_visit", "each web_visit")
    assert ch[("Touches", "condition_changed")] == ("per count call within 30 days",
                                                    "per count call within 14 days of created_at")
    eng = compile_checked(check(parse(old)))
    x = as_dict(eng, lead("a", [ev("web_visit", 0, seconds=50), ev("call", 2)]), A)
    rows = {r["name"]: r for r in x["criteria"]}
    assert rows["Time"]["rule"] == "+0.1 per seconds each web_visit max 30" and rows["Time"]["points"] == 5
    assert rows["Touches"]["rule"] == "+2 per count call within 30 days max 10" and rows["Touches"]["points"] == 2


def test_seeded_leads_agree_on_every_local_engine():
    """tests/data/data_language.rules (every construct of issue 13) on the seeded leads that
    tests/test_pg_spark.py runs on PostgreSQL and Spark: closure, generated Python and DuckDB agree,
    and each construct fires for some leads and not for others."""
    from pathlib import Path

    from tests.test_pg_spark import AS_OF as PG_AS_OF, _data_leads

    text = (Path(__file__).parent / "data" / "data_language.rules").read_text(encoding="utf-8")
    got = agree(text, _data_leads(), PG_AS_OF)
    fired = list(zip(*[r.fired for r in got]))
    assert all(any(f) and not all(f) for f in fired), fired


def test_per_count_lead_in_an_accounts_block_by_hand():
    text = """ruleset "t" version 1
fields { email: text  size: number }
events { call }
score e "E" max 100 { "Calls" +5 per count call within 30 days max 20 }
grade e { A when >= 10  B otherwise }
accounts by domain(email) {
  score buying "B" max 100 {
    "Engaged leads" +15 per count lead where e >= 10 max 40
  }
  grade buying { hot when >= 30  cold otherwise }
}
route { account hot and * -> sales "abm"  otherwise -> nurture "n" }
"""
    leads = [lead("1", [ev("call", 1), ev("call", 2)], email="a@x.com"),    # e = 10
             lead("2", [ev("call", 3), ev("call", 40)], email="b@x.com"),   # e = 5: not engaged
             lead("3", [ev("call", 1)] * 5, email="c@x.com"),                # e = 25 capped 20
             lead("4", [ev("call", 1)] * 2, email="d@y.org")]                # alone: 15
    got = {r.id: r for r in agree(text, leads, AS_OF)}
    assert [got[i].scores["e"] for i in "1234"] == [10, 5, 20, 10]
    assert got["1"].account_scores == {"buying": 30} and got["1"].route == "sales"
    assert got["4"].account_scores == {"buying": 15} and got["4"].route == "nurture"


def test_editor_hover_explains_per_count_per_attribute_and_anchored_windows():
    from runtime.editor.analysis import RulesDocument

    text = rules('  "Time" +0.1 per seconds each web_visit max 30\n'
                 '  "Touches" +2 per count call within 7 days of created_at max 10', "  decay half-life 10 days\n")
    doc = RulesDocument(text, "t.rules")

    def hover(needle):
        i = text.index(needle)
        line = text.count("\n", 0, i)
        return doc.hover(line, i - text.rfind("\n", 0, i))[0]

    h = hover('"Time"')
    assert "+0.1 for every unit of `seconds` of each `web_visit` event" in h and "reached by" not in h
    h = hover('"Touches"')
    assert "+2 for every `call` event counted" in h
    assert "from the lead's `created_at` to 7 days after it" in h and "a count counts every event in full" in h


def test_each_event_of_any_type_is_named_not_unknown():
    """`each event` (any type) is LR213 with a hint, not "unknown event" (docs/reference.md)."""
    from dsl.checker import check_text

    text = ('ruleset "t" version 1\nfields {\n  email: text\n}\nevents {\n  visit(page: text)\n}\n'
            'score e "E" max 100 {\n  "Any" +2 each event within 30 days max 10\n}\n')
    c = check_text(text, "t.rules")
    assert [(d.code, d.line) for d in c.errors] == [("LR213", 9)]
    assert "needs an event type" in c.errors[0].message and "count event within" in c.errors[0].hint
