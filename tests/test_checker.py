"""The checker: every error and warning docs/language.md lists, with its code, position and hint, and the
symbol tables the compilers rely on."""
from __future__ import annotations

from pathlib import Path

import pytest

from dsl.checker import check, check_text
from dsl.parser import parse
from tests.helpers import HEADER

DATA = Path(__file__).parent / "data"

SCORE = '''score profile "P" max 100 {
  "Senior" +30 when title contains "VP"
}
grade profile {
  A when >= 20
  B otherwise
}
route {
  A -> sales "q"
  otherwise -> nurture "n"
}
test "t" { lead { title: "VP" } expect grade A }
'''


def findings(text: str, header: bool = True):
    return check(parse((HEADER if header else "") + text, "t.rules")).diagnostics


def codes(text: str, header: bool = True) -> list[str]:
    return [d.code for d in findings(text, header)]


def at(text: str, needle: str, header: bool = True) -> tuple[int, int]:
    """1-based line and column of `needle` in the file as checked."""
    full = (HEADER if header else "") + text
    i = full.index(needle)
    line = full.count("\n", 0, i) + 1
    return line, i - (full.rfind("\n", 0, i) + 1) + 1


def one(text: str, code: str, header: bool = True):
    ds = [d for d in findings(text, header) if d.code == code]
    assert ds, (code, findings(text, header))
    return ds[0]


def test_the_language_example_and_the_acme_ruleset_are_clean():
    for path in (DATA / "language_example.rules", Path(__file__).parent.parent / "rulesets" / "acme.rules"):
        c = check_text(path.read_text(encoding="utf-8"), str(path))
        assert c.ok, c.diagnostics
        assert not [d for d in c.diagnostics if d.severity == "warning"], c.diagnostics


def test_symbol_tables():
    c = check_text((DATA / "language_example.rules").read_text(encoding="utf-8"), "ex.rules")
    assert c.fields["company_size"] == "number" and c.fields["interests"] == "text list"
    assert c.events["form_submit"] == {"form": "text"} and c.events["unsubscribe"] == {}
    assert c.lists["competitor_domains"] == ("rivalsoft.com", "competeco.io")
    assert list(c.dims) == ["profile", "engagement"] and c.graded == ["profile", "engagement"]
    assert c.bands == {"profile": ["A", "B", "C", "D"], "engagement": ["1", "2", "3", "4"]}
    assert len(c.grades) == 16 and c.grades[0] == "A1" and c.grades[-1] == "D4"
    assert c.reasons == ["fake or test lead", "competitor"]
    assert c.criteria["profile"] == ["Seniority", "Enterprise", "Mid-market", "Target industry", "Personal email"]
    assert ("sales", "hot-leads") in c.routes and ("suppress", None) in c.routes


def test_clean_minimal_file_has_no_findings():
    assert findings(SCORE) == []


# ---- the errors docs/language.md lists ---------------------------------------------------------------

def test_unknown_field_with_a_did_you_mean():
    text = SCORE.replace('title contains "VP"', 'titel contains "VP"')
    d = one(text, "LR201")
    assert (d.line, d.col) == at(text, "titel")
    assert d.severity == "error" and 'did you mean "title"' in d.hint


def test_unknown_event():
    text = SCORE.replace('title contains "VP"', "has webinar")
    d = one(text, "LR202")
    assert (d.line, d.col) == at(text, "has webinar")
    assert "webinar_attended" in d.hint


def test_unknown_attribute_inside_where():
    text = SCORE.replace('title contains "VP"', 'has web_visit where url contains "/pricing"')
    d = one(text, "LR203")
    assert (d.line, d.col) == at(text, "url")
    assert "page" in d.hint


def test_where_names_fall_back_to_the_leads_fields():
    text = SCORE.replace('title contains "VP"', 'has web_visit where page contains "/pricing" and title = "x"')
    assert findings(text) == []


def test_unknown_list():
    text = SCORE.replace('title contains "VP"', "industry in targets")
    d = one(text, "LR204")
    assert (d.line, d.col) == at(text, "targets")


@pytest.mark.parametrize("cond, needle", [
    ('company_size contains "x"', "company_size contains"),   # the example in docs/language.md
    ('company_size = "1000"', "company_size ="),
    ("title > 3", "title >"),
    ('created_at > "2026-01-01"', "created_at >"),
    ("opted_out > true", "opted_out >"),
    ('interests = "a"', "interests ="),
    ("company_size in [\"a\"]", "company_size in"),
    ('title between 1 and 2', "title between"),
    ("domain(company_size) = \"x\"", "domain(company_size)"),
    ("days since title > 3", "days since title"),
    ('company_size matches "x"', "company_size matches"),
])
def test_type_mismatches(cond, needle):
    text = SCORE.replace('title contains "VP"', cond)
    d = one(text, "LR205")
    assert (d.line, d.col) == at(text, needle), d
    assert d.hint


@pytest.mark.parametrize("cond", [
    'title contains "VP"', 'interests contains "ai"', 'interests contains any ["ai", "crm"]',
    "company_size between 10 and 20", "created_at between 2026-01-01 and 2026-02-01", "opted_out = true",
    'domain(email) in ["a.com"]', "length(title) > 3", "count web_visit within 2 weeks >= 3",
    "count event types within 30 days >= 2", "days since last event < 10", "days since created_at > 5",
    'title matches "^(vp|chief)"', "company_size is missing", 'lower(title) starts with "vp"',
    'not (title = "a" or title = "b") and company_size > 3',
])
def test_well_typed_conditions(cond):
    assert findings(SCORE.replace('title contains "VP"', cond)) == []


def test_duplicate_criterion_name_within_a_dimension():
    text = SCORE.replace('  "Senior" +30 when title contains "VP"\n',
                         '  "Senior" +30 when title contains "VP"\n  "Senior" +10 when company_size > 3\n')
    d = one(text, "LR206")
    assert d.line == at(text, '"Senior" +10')[0]
    assert "line" in d.hint


def test_same_criterion_name_in_two_dimensions_is_fine():
    text = SCORE + 'score other "O" max 10 {\n  "Senior" +1 when title contains "VP"\n}\n'
    assert "LR206" not in codes(text)


def test_grade_block_for_an_undeclared_dimension():
    text = SCORE.replace("grade profile {", "grade profil {")
    d = one(text, "LR207")
    assert (d.line, d.col) == at(text, "profil {")
    assert 'did you mean "profile"' in d.hint


def test_band_after_otherwise():
    text = SCORE.replace("  B otherwise\n", "  B otherwise\n  C when >= 5\n")
    d = one(text, "LR301")
    assert d.line == at(text, "C when >= 5")[0]


def test_bands_out_of_descending_order():
    text = SCORE.replace("  A when >= 20\n", "  A when >= 20\n  AA when >= 25\n")
    d = one(text, "LR302")
    assert d.line == at(text, "AA when")[0]


def test_max_on_a_when_criterion():
    text = SCORE.replace('"Senior" +30 when title contains "VP"', '"Senior" +30 when title contains "VP" max 30')
    d = one(text, "LR303")
    assert (d.line, d.col) == at(text, "30\n}")


def test_max_on_a_first_of_criterion():
    text = SCORE.replace('"Senior" +30 when title contains "VP"',
                         '"Senior" first of {\n    +30 when title contains "VP"\n  } max 30')
    assert "LR303" in codes(text)


def test_regex_that_does_not_compile():
    text = SCORE.replace('title contains "VP"', 'title matches "(vp"')
    d = one(text, "LR212")
    assert (d.line, d.col) == at(text, '"(vp"')
    assert "compile" in d.message


def test_route_pattern_that_names_no_possible_grade():
    text = SCORE.replace('  A -> sales "q"', '  A1 -> sales "q"\n  A -> sales "q"')
    d = one(text, "LR304")
    assert (d.line, d.col) == at(text, "A1 ->")
    assert "A, B" in d.hint


def test_route_without_otherwise():
    text = SCORE.replace('  otherwise -> nurture "n"\n', "")
    d = one(text, "LR305")
    assert d.line == at(text, "route {")[0]


@pytest.mark.parametrize("expect, code", [
    ("expect grade Z", "LR401"),
    ('expect route sales "nope"', "LR402"),
    ("expect route qualify", "LR402"),
    ('expect criterion "Senor" fires', "LR403"),
    ('expect disqualified "spam"', "LR404"),
    ("expect profil >= 3", "LR211"),
])
def test_a_test_that_names_unknown_things(expect, code):
    text = SCORE.replace("expect grade A }", expect + " }")
    d = one(text, code)
    assert d.line == at(text, expect)[0] and d.hint


def test_a_test_with_a_lead_value_of_the_wrong_type():
    text = SCORE.replace('lead { title: "VP" }', 'lead { title: "VP", company_size: "lots" }')
    d = one(text, "LR407")
    assert "company_size" in d.message and "number" in d.hint
    text = SCORE.replace('lead { title: "VP" }', 'lead { title: "VP", company_sise: 3 }')
    assert 'did you mean "company_size"' in one(text, "LR407").hint


def test_a_test_event_of_an_unknown_type_or_attribute():
    text = SCORE.replace("expect grade A }", "event webinar 1 day ago\n expect grade A }")
    assert "LR202" in codes(text)
    text = SCORE.replace("expect grade A }", 'event web_visit { url: "/x" } 1 day ago\n expect grade A }')
    assert "LR203" in codes(text)


# ---- warnings -----------------------------------------------------------------------------------

def test_unreachable_band_is_a_warning():
    text = SCORE.replace("A when >= 20", "A when >= 40")
    d = one(text, "LR306")
    assert d.severity == "warning" and "30" in d.message


def test_points_exceeding_the_dimension_max_is_a_warning():
    text = SCORE.replace('max 100 {', 'max 20 {').replace("A when >= 20", "A when >= 15")
    d = one(text, "LR307")
    assert d.severity == "warning"


def test_shadowed_route_line_is_a_warning():
    text = SCORE.replace('  A -> sales "q"', '  A -> sales "q"\n  A -> qualify "z"')
    d = one(text, "LR308")
    assert d.severity == "warning" and d.line == at(text, 'A -> qualify')[0]


def test_unused_list_is_a_warning():
    d = one('list spare = ["a"]\n' + SCORE, "LR309")
    assert d.severity == "warning" and "spare" in d.message


def test_no_tests_is_a_warning():
    text = SCORE.replace('test "t" { lead { title: "VP" } expect grade A }\n', "")
    d = one(text, "LR405")
    assert d.severity == "warning"
    assert check_text(HEADER + text, "t.rules").ok


# ---- structure ----------------------------------------------------------------------------------

def test_missing_ruleset_and_fields():
    c = check_text('score s "S" max 10 { }\n', "t.rules")
    assert [d.code for d in c.diagnostics if d.code == "LR209"] == ["LR209", "LR209"]


def test_repeated_sections():
    text = SCORE + 'route {\n  otherwise -> suppress\n}\n'
    assert "LR210" in codes(text)


def test_duplicate_declarations():
    assert "LR208" in codes('ruleset "x" version 1\nfields { a: text  a: number }\n', header=False)
    assert "LR208" in codes('list l = ["a"]\nlist l = ["b"]\n' + SCORE)
    assert "LR408" in codes(SCORE + 'test "t" { lead { title: "VP" } expect grade A }\n')


def test_grade_without_otherwise_and_second_grade_block():
    assert "LR310" in codes(SCORE.replace("  B otherwise\n", ""))
    assert "LR312" in codes(SCORE + "grade profile {\n  X otherwise\n}\n")


def test_where_on_any_event_is_rejected():
    d = one(SCORE.replace('title contains "VP"', 'has event where page = "x"'), "LR213")
    assert "event type" in d.message


def test_within_in_hours_is_rejected():
    assert "LR205" in codes(SCORE.replace('title contains "VP"', "has web_visit within 5 hours"))


def test_mixed_list_is_rejected():
    assert "LR205" in codes('list l = ["a", 1]\n' + SCORE.replace('title contains "VP"', "title in l"))


def test_simulation_that_names_nothing_possible_warns():
    text = SCORE + ('simulation "s" {\n  leads "x.jsonl"\n  expect share of grade Q* at most 5%\n'
                    '  expect share of route qualify at most 5%\n}\n')
    ds = [d for d in findings(text) if d.code in ("LR304", "LR402")]
    assert len(ds) == 2 and all(d.severity == "warning" for d in ds)


def test_every_finding_names_the_file_and_has_a_hint():
    bad = SCORE.replace('title contains "VP"', 'titel contains 3').replace("grade profile {", "grade prof {")
    for d in findings(bad):
        assert d.file == "t.rules" and d.line > 0 and d.col > 0 and d.hint, d


def test_check_text_turns_syntax_errors_into_diagnostics():
    c = check_text('ruleset "x" version\n', "t.rules")
    assert not c.ok and c.diagnostics[0].code.startswith("LR1")
