"""`score`'s JSON lines are written in pieces (runtime/io/writers.py LineFormatter: the id, the scores and
the reasons per lead, the rest encoded once per distinct value), with and without an accounts block. Each
line must be byte for byte what the JSON encoder writes for `Columns.record` — the one definition of the
columns — for any result, hostile ids and account keys included."""
from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.backends.load import load_rules
from runtime.io.writers import LineFormatter, needs_ascii
from runtime.core.model import Result

AS_OF = dt.date(2026, 11, 1)


@pytest.fixture(scope="module")
def plans():
    return {"accounts": load_rules("rulesets/acme.rules").engine.plan,
            "plain": load_rules("bench/model.rules").engine.plan}


TEXT = st.text(st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
    ['"q"', "a\\b", "\x00\x1f\x7f", "\u2028\u2029", "é😀", "", " ", "\ud800x", "x\udfff"])
SCORE = st.floats(-1000, 1000, allow_nan=False).map(lambda x: round(x, 2)) | st.integers(-500, 500) | st.sampled_from(
    [0.0, -0.0, 1e16, 1.5e-7, 123456789.25])
MAYBE = st.none() | TEXT


@st.composite
def result(draw, plan):
    dims = [d.name for d in plan.dimensions]
    graded = [g.dim for g in plan.grades]
    r = Result(id=draw(TEXT), scores={d: draw(SCORE) for d in dims},
               bands={d: draw(st.sampled_from(["A", "B", "hot", "3", "é"])) for d in graded},
               grade=draw(st.sampled_from(["A", "B", "disqualified", "x\"y"])), route=draw(MAYBE),
               queue=draw(MAYBE), sla=draw(st.none() | st.sampled_from(["4h", "2d"])),
               disqualified=draw(MAYBE), points=tuple(draw(SCORE) for _ in plan.criteria),
               fired=tuple(draw(st.booleans()) for _ in plan.criteria))
    if plan.accounts is not None:
        adims = [d.name for d in plan.accounts.dimensions]
        r.account = draw(MAYBE)
        r.account_scores = {d: draw(st.none() | SCORE) for d in adims}
        r.account_bands = draw(st.none() | st.just({g.dim: draw(st.sampled_from(["hot", "cold", "\u00e9"]))
                                                    for g in plan.accounts.grades}))
    if draw(st.booleans()):
        r.reasons = draw(TEXT)
    return r


def reference(fmt: LineFormatter, r: Result) -> str:
    """The JSON encoder on the record: ASCII escapes only where a lone surrogate must be escaped."""
    return json.dumps(fmt.cols.record(r), ensure_ascii=needs_ascii(r), separators=(", ", ": ")) + "\n"


@settings(max_examples=300, deadline=None)
@given(data=st.data(), kind=st.sampled_from(["accounts", "plain"]))
def test_pieces_are_the_encoder_byte_for_byte(plans, data, kind):
    plan = plans[kind]
    fmt = LineFormatter(plan, "jsonl", False, AS_OF)
    for _ in range(3):  # the same formatter: its caches of encoded pieces are reused
        r = data.draw(result(plan))
        buf = io.StringIO()
        fmt.write(buf, r)
        assert buf.getvalue() == reference(fmt, r)


def test_accounts_lines_take_the_piecewise_path(plans):
    """The accounts block no longer sends every line through the whole-record encoder."""
    plan = plans["accounts"]
    fmt = LineFormatter(plan, "jsonl", False, AS_OF)
    r = Result(id="L1", scores={"profile": 40.0, "engagement": 12.5}, bands={"profile": "A", "engagement": "B"},
               grade="A", route="sales", queue="ae", sla="4h", disqualified=None,
               points=tuple(0 for _ in plan.criteria), fired=tuple(False for _ in plan.criteria),
               account="acme.com", account_scores={"buying": 85.0}, account_bands={"buying": "hot"})
    calls = []
    fmt._json = lambda *a: calls.append(a) or ""  # noqa: E731 (would be used only by the slow path)
    buf = io.StringIO()
    fmt.write(buf, r)
    assert calls == []
    assert json.loads(buf.getvalue())["account_bands"] == {"buying": "hot"}
