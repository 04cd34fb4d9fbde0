"""The parser: every construct of docs/language.md to a typed tree with positions, and syntax errors as
LR1xx diagnostics — never an exception from Lark, whatever the text."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dsl import nodes as n
from dsl.checker import check_text
from dsl.diagnostics import RuleError
from dsl.parser import parse

DATA = Path(__file__).parent / "data"
EXAMPLE = (DATA / "language_example.rules").read_text(encoding="utf-8")
ACME = (Path(__file__).parent.parent / "rulesets" / "acme.rules").read_text(encoding="utf-8")


def test_language_example_parses_into_every_section():
    rf = parse(EXAMPLE, "ex.rules")
    kinds = [type(i).__name__ for i in rf.items]
    assert kinds[:4] == ["Ruleset", "Owners", "Fields", "Events"]
    assert rf.first(n.Ruleset) == n.Ruleset("acme-b2b", 4)
    assert rf.first(n.Owners).owners == ("marketing-ops", "sales-ops")
    fields = {f.name: f.type for f in rf.first(n.Fields).fields}
    assert fields["company_size"] == "number" and fields["interests"] == "text list"
    assert fields["created_at"] == "date" and fields["opted_out"] == "bool"
    events = {e.name: {a.name: a.type for a in e.attrs} for e in rf.first(n.Events).events}
    assert events["web_visit"] == {"page": "text"} and events["email_open"] == {}
    profile, engagement = rf.of(n.Score)
    assert (profile.dim, profile.label, profile.max, profile.floor) == ("profile", "Who they are", 100, 0)
    assert engagement.half_life == n.Duration(30, "day")
    seniority = profile.criteria[0]
    assert seniority.kind == "first" and [t.points for t in seniority.tiers] == [35, 15]
    pricing = engagement.criteria[1]
    assert pricing.kind == "each" and pricing.filter.event == "web_visit" and pricing.max == 30
    assert pricing.filter.where == n.TextTest("contains", n.Name("page"), n.Literal("/pricing", "text"))
    webinar = engagement.criteria[3]
    assert webinar.filter.within == n.Duration(90, "day")
    route = rf.first(n.Route)
    assert [p.text for p in route.lines[0].patterns] == ["A1", "A2", "B1"]
    assert route.lines[0].action == n.Action("sales", "hot-leads", n.Duration(1, "hour"))
    assert route.lines[3].patterns[0].kind == "disqualified" and route.lines[3].action.kind == "suppress"
    t1, t2 = rf.of(n.Test)
    assert t1.as_of == "2026-11-01" and dict(t1.lead)["company_size"] == 5000
    assert t1.events[0].days_ago == 2 and t1.events[1].at == "2026-10-01"
    assert [e.kind for e in t1.expects] == ["grade", "route", "score", "score"]
    assert t2.expects[0] == n.Expect("disqualified", arg="fake or test lead")


def test_every_node_knows_its_file_line_and_column():
    rf = parse(EXAMPLE, "ex.rules")
    demo = rf.of(n.Score)[1].criteria[2]
    line = EXAMPLE.splitlines()[demo.span.line - 1]
    assert demo.span.file == "ex.rules"
    assert line[demo.span.col - 1:].startswith('"Demo request"')
    where = demo.filter.where
    assert line[where.span.col - 1:].startswith('form = "demo-request"')
    band = rf.of(n.Grade)[0].bands[0]
    assert EXAMPLE.splitlines()[band.span.line - 1].strip().startswith("A when >= 80")


def test_a_span_across_lines_keeps_its_end_column():
    rf = parse('ruleset "x" version 1\nfields { a: text }\ndisqualify "r" when a = "x"\n  or a = "yy"\n', "t.rules")
    d = rf.first(n.Disqualify)
    assert (d.span.line, d.span.end_line) == (3, 4)
    assert d.span.end_col == len('  or a = "yy"')


def test_comments_are_collected_with_their_positions():
    rf = parse('# top\nruleset "x" version 1  # trailing "quoted # not a comment"\nfields { a: text }\n', "t.rules")
    assert [(c.line, c.col, c.text) for c in rf.comments] == [
        (1, 1, "# top"), (2, 24, '# trailing "quoted # not a comment"')]


def test_hash_inside_a_string_is_not_a_comment():
    rf = parse('ruleset "a # b" version 1\nfields { a: text }\n', "t.rules")
    assert rf.first(n.Ruleset).name == "a # b" and rf.comments == ()


def test_string_escapes_and_backticked_names():
    rf = parse('ruleset "say \\"hi\\" \\\\ now\\n" version 1\nfields { `max`: number  `when`: text }\n', "t.rules")
    assert rf.first(n.Ruleset).name == 'say "hi" \\ now\n'
    assert [f.name for f in rf.first(n.Fields).fields] == ["max", "when"]


def test_not_binds_tighter_than_and_and_and_tighter_than_or():
    rf = parse('ruleset "x" version 1\nfields { a: text b: text c: text }\n'
               'disqualify "r" when not a = "1" and b = "2" or c = "3"\n', "t.rules")
    c = rf.first(n.Disqualify).cond
    assert isinstance(c, n.BoolOp) and c.op == "or"
    left = c.items[0]
    assert isinstance(left, n.BoolOp) and left.op == "and" and isinstance(left.items[0], n.Not)


def test_a_numeric_grade_pattern_after_a_follow_up_time():
    rf = parse('ruleset "x" version 1\nfields { a: text }\nroute {\n  1 -> sales "q" within 1 hour\n'
               '  2 -> suppress\n  otherwise -> nurture "n" within 2 weeks\n}\n', "t.rules")
    lines = rf.first(n.Route).lines
    assert [l.patterns[0].text for l in lines[:2]] == ["1", "2"]
    assert lines[2].action.sla == n.Duration(2, "week")


def test_null_in_test_data_is_kept_in_lists():
    rf = parse('ruleset "x" version 1\nfields { t: text list }\n'
               'test "t" { lead { t: [null, "a"] } expect grade A }\ntest "u" { lead { t: [] } expect grade A }\n',
               "t.rules")
    t, u = rf.of(n.Test)
    assert dict(t.lead)["t"] == [None, "a"] and dict(u.lead)["t"] == []


def test_weeks_are_seven_days_and_hours_a_twenty_fourth():
    assert n.Duration(2, "week").days == 14 and n.Duration(12, "hour").days == 0.5


@pytest.mark.parametrize("text, code, line, col", [
    ('ruleset "x" version 1\nfields { a: text }\nscore s "S" max 10 { "c" +1 wen a = "x" }\n', "LR101", 3, 29),
    ('ruleset "x" version 1\nfields { a: text ', "LR103", 2, 18),
    ('ruleset "x" version 1\nfields { a: text }\n§\n', "LR102", 3, 1),
    ('ruleset "x" version 1\nfields { a: text }\ndisqualify "r" when a = "x\n', "LR102", 3, 25),
    ('ruleset "x" version 1\nfields { d: date }\ndisqualify "r" when d > 2026-13-45\n', "LR104", 3, 25),
])
def test_syntax_errors_have_code_line_column_and_hint(text, code, line, col):
    with pytest.raises(RuleError) as e:
        parse(text, "bad.rules")
    d = e.value.diagnostics[0]
    assert (d.code, d.file, d.line, d.col) == (code, "bad.rules", line, col), d
    assert d.message and d.hint


def test_a_keyword_may_name_a_field_where_it_cannot_be_misread():
    """The contextual lexer reads a keyword as a name where only a name fits; backticks always work."""
    rf = parse('ruleset "x" version 1\nfields { max: number }\n', "t.rules")
    assert rf.first(n.Fields).fields[0].name == "max"
    plain = parse('ruleset "x" version 1\nfields { max: number }\ndisqualify "r" when max > 3\n', "t.rules")
    ok = parse('ruleset "x" version 1\nfields { max: number }\ndisqualify "r" when `max` > 3\n', "t.rules")
    assert ok.first(n.Disqualify).cond.left == n.Name("max") == plain.first(n.Disqualify).cond.left


def test_the_example_ruleset_parses():
    rf = parse(ACME, "acme.rules")
    assert len(rf.of(n.Test)) >= 10 and rf.of(n.Simulation)


# ---- robustness: random and damaged text never escapes as an exception --------------------------

TOKENS = st.sampled_from([
    "ruleset", "fields", "events", "score", "grade", "route", "test", "simulation", "accounts", "by", "{", "}",
    "(", ")", "[", "]", ",", ":", "=", "!=", ">=", "<=", "->", "when", "each", "where", "within", "max",
    "first", "of", "otherwise", "and", "or", "not", "in", "contains", "word", "any", "all", "matches",
    "between", "is", "missing", "present", "has", "count", "event", "types", "days", "since", "last",
    "domain", "lower", "length", "text", "number", "date", "bool", "list", "decay", "half-life", "floor",
    '"x"', '"a\\"b"', "42", "-3.5", "2026-11-01", "A1", "A*", "*1", "sales", "qualify", "nurture", "suppress",
    "expect", "lead", "ago", "at", "15%", "#c\n", "\n", "`max`", "name", "disqualify", "version", "null",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TOKENS, max_size=40))
def test_token_soup_never_crashes_the_checker(tokens):
    text = 'ruleset "x" version 1\nfields { a: text  n: number }\n' + " ".join(tokens)
    c = check_text(text, "soup.rules")
    for d in c.diagnostics:
        assert d.code[:2] == "LR" and d.message
        assert d.line >= 0 and d.col >= 0


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text_never_crashes_the_checker(text):
    c = check_text(text, "random.rules")
    assert all(d.code.startswith("LR") for d in c.diagnostics)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_damaged_example_files_end_in_diagnostics(data):
    """Cut, duplicate or delete a slice of the real example: a diagnostic or a clean check, never a crash."""
    src = ACME
    i = data.draw(st.integers(0, len(src)))
    j = data.draw(st.integers(i, min(len(src), i + 80)))
    op = data.draw(st.sampled_from(["cut", "dup", "insert"]))
    if op == "cut":
        text = src[:i] + src[j:]
    elif op == "dup":
        text = src[:j] + src[i:j] + src[j:]
    else:
        text = src[:i] + data.draw(st.text(max_size=5)) + src[i:]
    c = check_text(text, "acme.rules")
    for d in c.diagnostics:
        assert d.code.startswith("LR") and d.file == "acme.rules"
