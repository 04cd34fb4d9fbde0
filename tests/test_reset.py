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
