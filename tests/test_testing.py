"""Running test blocks: how an expectation names a criterion."""
from __future__ import annotations

import datetime as dt

from dsl.checker import check_text
from runtime.analysis.testing import run_tests
from runtime.backends.pygen import compile_fast

SHARED = '''ruleset "t" version 1
fields { title: text  company_size: number }
score profile "P" max 100 { "Big" +10 when company_size >= 1000 }
score fit "F" max 100 { "Big" +5 when company_size >= 5000 }
grade profile { A when >= 10  B otherwise }
route { otherwise -> nurture "x" }
test "dim.name picks the dimension" {
  lead { company_size: 2000 }
  expect criterion "profile.Big" fires
  expect criterion "fit.Big" does not fire
  expect criterion "Big" fires
}
test "a wrong dim.name expectation fails" {
  lead { company_size: 2000 }
  expect criterion "fit.Big" fires
}
'''


def test_criteria_named_by_dimension():
    c = check_text(SHARED, "t.rules")
    assert c.ok, c.diagnostics
    outs = {o.name: o for o in run_tests(compile_fast(c), dt.date(2026, 11, 1))}
    assert outs["dim.name picks the dimension"].passed, outs["dim.name picks the dimension"].failures
    assert outs["a wrong dim.name expectation fails"].failures == ['expected criterion "fit.Big" to fire, but it did not']
