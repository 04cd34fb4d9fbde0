"""The calibrate report's fast paths, each pinned to the straightforward way it replaced (same numbers,
to the last bit): the AUC counted per distinct score, the value order of a numeric signal, each
criterion's AUC without it, and the threshold sweep aggregated per score."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.analysis.calibrate import SALES, Calibrator, replay, value_order
from runtime.analysis.signals import auc, auc_by_ranks
from runtime.backends.load import load_rules
from runtime.commands.options import schema_of
from runtime.core.kernel import date_ordinal, round2
from runtime.io.outcomes import OutcomeBook, OutcomeReader
from runtime.io.readers import LeadReader

ROOT = Path(__file__).resolve().parent.parent
ACME = ROOT / "rulesets" / "acme.rules"
SAMPLE_LEADS = ROOT / "rulesets" / "samples" / "leads.jsonl"
SAMPLE_OUTCOMES = ROOT / "rulesets" / "samples" / "outcomes.csv"

# scores with many ties, ints and floats that compare equal, halves and long fractions
score = st.one_of(st.sampled_from([0, 0.0, 1, 1.0, 2.5, 10, 33.33, 99.99, 100, -5, -0.0]),
                  st.floats(-200, 200, allow_nan=False), st.integers(-3, 3))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(score, st.integers(0, 1)), max_size=200))
def test_auc_per_distinct_score_is_the_rank_auc_exactly(pairs):
    scores = [s for s, _ in pairs]
    ys = [y for _, y in pairs]
    assert auc(scores, ys) == auc_by_ranks(scores, ys)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_value_order_is_the_stable_sort_of_row_value_pairs(data):
    n = data.draw(st.integers(1, 60))
    rows = sorted(data.draw(st.sets(st.integers(0, n - 1))))
    values = [data.draw(st.sampled_from([0, 0.0, 1, 2, 2.0, 3.5, 7, 1e6, -1])) for _ in rows]
    fill = data.draw(st.sampled_from([None, n]))
    # the way it was: (row, value) pairs, the missing rows of a count filled with 0.0, sorted by value
    pairs = list(zip(rows, values))
    if fill is not None and len(pairs) < fill:
        have = dict(pairs)
        pairs = [(j, have.get(j, 0.0)) for j in range(fill)]
    ref = sorted(pairs, key=lambda jv: jv[1])
    got_values, got_rows = value_order(rows, values, fill)
    assert got_rows == [j for j, _ in ref]
    assert [(v, type(v)) for v in got_values] == [(v, type(v)) for _, v in ref]


@pytest.fixture(scope="module")
def calibrated():
    """The bundled acme sample (accounts, cherry-picked leads), through a Calibrator as calibrate runs it."""
    rules = load_rules(str(ACME))
    schema = schema_of(rules)
    engine = rules.engine
    book = OutcomeBook(OutcomeReader(str(SAMPLE_OUTCOMES)).load())
    asof = date_ordinal("2026-11-01")
    cal = Calibrator(engine, schema)
    cal.asof_ordinal = asof

    def day_of(lead):
        o = None if lead.numbered else book.outcomes.get(lead.id)
        return o.worked_day if (o is not None and o.worked_day is not None) else asof

    def reader():
        return LeadReader(str(SAMPLE_LEADS), schema)

    for lead, r, day in replay(engine, reader, day_of, reader):
        cal.add(lead, r, None if lead.numbered else book.take(lead.id), day)
    assert cal.worked > 100 and cal.sweeps
    return cal


def test_auc_without_each_criterion_is_the_direct_recomputation(calibrated):
    cal = calibrated
    rows = cal.scored_rows()
    ys = [w.y for w in rows]
    dims = cal.engine.dims
    dim_of = [di for di, (_d, _mx, _fl, objs) in enumerate(dims) for _ in objs]
    got = {c["criterion"]: c["auc_without"] for c in cal._criteria()}
    checked = 0
    for i, spec in enumerate(cal.engine.criteria):
        di = dim_of[i]
        d, mx, fl, _o = dims[di]
        vals = []
        for w in rows:
            raw = 0.0
            for k, p in enumerate(w.r.points):
                if dim_of[k] == di:
                    raw += p
            vals.append(w.total - w.r.scores[d] + round2(min(mx, max(fl, raw - w.r.points[i]))))
        a = auc_by_ranks(vals, ys)
        assert got[spec.key] == (None if a is None else round(a, 4)), spec.key
        checked += 1
    assert checked == len(cal.engine.criteria) > 10


def test_threshold_sweep_is_the_cell_by_cell_routing(calibrated):
    cal = calibrated
    for sw in cal.sweeps:
        names = [b for b, _ in sw.bands]
        got = cal._sweep(sw)["candidates"]
        assert len(got) == len(sw.candidates()) > 3
        for row, t in zip(got, sw.candidates()):
            ths = sw.thresholds(t)
            leads = worked = conv = 0
            for (s, bands, acct), (l_, w_, c_) in sw.cells.items():
                if s is None:
                    continue
                band = names[-1]
                for name, th in zip(names, ths):
                    if th is None or s >= th:
                        band = name
                        break
                nb = bands[:sw.gi] + (band,) + bands[sw.gi + 1:]
                if cal.route_of(nb, acct)[0] == SALES:
                    leads, worked, conv = leads + l_, worked + w_, conv + c_
            assert (row["threshold"], row["leads"], row["worked"], row["converted"]) == (t, leads, worked, conv)
        assert any(r["leads"] for r in got) and len({r["leads"] for r in got}) > 1

