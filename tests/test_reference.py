"""docs/reference.md: every example parses and checks, and together they show every construct."""
from __future__ import annotations

import re

import pytest

from dsl import nodes as n
from dsl.checker import check_text
from dsl.diagnostics import CODES
from dsl.lint import lint
from dsl.printer import KEYWORDS
from tests.doc_examples import ROOT, rule_blocks, wrap

REF = ROOT / "docs" / "reference.md"
BLOCKS = rule_blocks(REF)


def _checked(text: str):
    c = check_text(wrap(text), "reference.rules")
    return c


@pytest.mark.parametrize("line,text", BLOCKS, ids=[f"reference.md:{l}" for l, _ in BLOCKS])
def test_every_example_parses_and_checks(line, text):
    c = _checked(text)
    errors = [f"{d.line}:{d.col} {d.code} {d.message}" for d in c.diagnostics if d.is_error]
    assert errors == [], f"docs/reference.md:{line}\n" + wrap(text)
    lint(c)  # and lint has nothing to crash on


def test_there_are_many_examples_and_complete_files():
    assert len(BLOCKS) >= 20
    complete = [t for _, t in BLOCKS if re.search(r"^\s*ruleset\s", t, re.M)]
    assert len(complete) >= 3


@pytest.mark.parametrize("line,text", [(l, t) for l, t in BLOCKS if re.search(r"^\s*ruleset\s", t, re.M)
                                        and re.search(r"^\s*test\s", t, re.M)],
                         ids=lambda v: str(v) if isinstance(v, int) else "")
def test_the_tests_of_complete_examples_pass(line, text):
    """The arithmetic the page claims, checked by the engine."""
    import datetime as dt

    from runtime.analysis.testing import run_tests
    from runtime.backends.pygen import compile_fast

    c = check_text(text, "reference.rules")
    outs = run_tests(compile_fast(c), dt.date(2026, 11, 1))
    assert outs and [(o.name, o.failures) for o in outs if not o.passed] == [], f"docs/reference.md:{line}"


def _walk(x, out: list):
    if isinstance(x, (list, tuple)):
        for i in x:
            _walk(i, out)
    elif hasattr(x, "__dataclass_fields__"):
        out.append(x)
        for f in x.__dataclass_fields__:
            if f != "span" and not f.endswith("_span"):
                _walk(getattr(x, f), out)


def _all_nodes():
    out: list = []
    for _, text in BLOCKS:
        c = _checked(text)
        body = c.file
        _walk(list(body.items), out)
    return out


def test_examples_show_every_construct():
    nodes = _all_nodes()
    kinds = {type(x).__name__ for x in nodes}
    assert {"Compare", "In", "TextTest", "Matches", "Between", "IsMissing", "Has", "Not", "BoolOp",
            "Call", "Count", "CountTypes", "DaysSinceLast", "DaysSince", "Accounts", "Simulation", "Owners",
            "ListDecl", "Disqualify", "Test", "Route"} <= kinds
    ops = {x.op for x in nodes if isinstance(x, n.Compare)}
    assert ops == {"=", "!=", "<", "<=", ">", ">="}
    assert {x.op for x in nodes if isinstance(x, n.TextTest)} == {
        "contains", "contains_any", "contains_all", "contains_word", "contains_any_word", "starts_with", "ends_with"}
    assert {x.negated for x in nodes if isinstance(x, n.In)} == {True, False}
    assert {x.missing for x in nodes if isinstance(x, n.IsMissing)} == {True, False}
    assert {x.op for x in nodes if isinstance(x, n.BoolOp)} == {"and", "or"}
    assert {x.func for x in nodes if isinstance(x, n.Call)} == {"domain", "lower", "length"}
    assert {x.event is None for x in nodes if isinstance(x, n.DaysSinceLast)} == {True, False}
    assert {x.filter.event is None for x in nodes if isinstance(x, n.Count)} == {True, False}
    crits = [x for x in nodes if isinstance(x, n.Criterion)]
    assert {c.kind for c in crits} == {"when", "each", "first"}
    assert any(c.no_decay for c in crits) and any(c.filter and c.filter.within for c in crits)
    assert any(c.filter and c.filter.event == "lead" for c in crits)
    # issue 13: per ATTR, per count, windows anchored at a date field, the newest matching event
    assert any(c.per for c in crits) and any(c.per_count for c in crits)
    assert any(c.filter and c.filter.anchor for c in crits)
    assert any(x.filter.anchor for x in nodes if isinstance(x, n.Count))
    assert any(x.filter is not None and x.filter.where is not None for x in nodes if isinstance(x, n.DaysSinceLast))
    assert any(t.cond is None for c in crits for t in c.tiers)
    assert any(x.floor != 0 for x in nodes if isinstance(x, n.Score))
    assert {x.unit for x in nodes if isinstance(x, n.Duration)} == {"day", "week", "hour"}
    types = {x.type for x in nodes if isinstance(x, n.FieldDecl)}
    assert {"text", "number", "date", "bool", "text list"} <= types
    lits = {x.kind for x in nodes if isinstance(x, n.Literal)}
    assert lits == {"text", "number", "date", "bool"}
    assert {x.kind for x in nodes if isinstance(x, n.Expect)} == {
        "grade", "route", "disqualified", "not_disqualified", "fires", "not_fires", "account", "score",
        "score_between"}
    assert {x.op for x in nodes if isinstance(x, n.Expect) and x.kind == "score"} >= {"=", ">="}
    assert {x.subject for x in nodes if isinstance(x, n.ShareExpect)} == {"route", "grade", "disqualified", "account"}
    assert {x.bound for x in nodes if isinstance(x, n.ShareExpect)} == {"between", "at_most", "at_least"}
    assert {x.kind for x in nodes if isinstance(x, n.Action)} == {"sales", "qualify", "nurture", "suppress"}
    assert {x.kind for x in nodes if isinstance(x, n.Pattern)} == {"grade", "disqualified", "otherwise"}
    assert any("*" in x.text for x in nodes if isinstance(x, n.Pattern))
    assert any(x.account_band for x in nodes if isinstance(x, n.RouteLine))
    events = [x for x in nodes if isinstance(x, n.TestEvent)]
    assert any(e.at for e in events) and any(e.days_ago is not None for e in events)
    assert any(e.at is None and e.days_ago is None for e in events)
    assert any(x.events for x in nodes if isinstance(x, n.Simulation))
    flows = [x for x in nodes if type(x).__name__ == "FlowExpect"]
    assert {x.bound for x in flows} >= {"at_most", "between"} and any(x.queue for x in flows)


def test_every_code_and_keyword_is_documented():
    text = REF.read_text(encoding="utf-8")
    for code in CODES:
        assert f"| {code} |" in text, f"{code} is missing from the Diagnostics table of docs/reference.md"
    for kw in KEYWORDS:
        assert re.search(r"(?<![\w-])" + re.escape(kw) + r"(?![\w-])", text), \
            f"keyword `{kw}` is not in docs/reference.md: document it (new syntax described on its own page " \
            "belongs in the note at the end)"


def test_reference_is_linked_and_self_contained():
    for doc in ("README.md", "docs/language.md"):
        assert "docs/reference.md" in (ROOT / doc).read_text(encoding="utf-8") or \
            "reference.md" in (ROOT / doc).read_text(encoding="utf-8"), doc
    text = REF.read_text(encoding="utf-8")
    assert "shared/" not in text
    # the arithmetic, exactly as the engine does it
    assert "floor(x * 100 + 0.5) / 100" in text and "0.5 ** (age / H)" in text
    assert "45.52" in text and "`age <= N`" in text
