"""Running the `test` blocks of a rule file.

A test builds one lead (and its events) from the block, scores it at the test's `as of` date (else
the command line's `--as-of`, else today) and checks every `expect` line. A failure says what was
expected, what came out, and which criteria fired, so the fix is obvious from the report alone.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from dsl import nodes as n
from dsl import printer

from runtime.backends.accounts import account_model
from runtime.backends.closure import Engine
from runtime.core.model import Result
from runtime.core.kernel import grade_matches, date_ordinal, round2
from runtime.core.model import Event, Lead  # noqa: F401
from runtime.core.testlead import build_lead  # noqa: F401 (part of this module's API)


@dataclass
class TestOutcome:
    name: str
    span: n.Span
    passed: bool
    failures: list[str] = field(default_factory=list)
    result: Result | None = None
    fired: list[str] = field(default_factory=list)   # "NAME +P" of criteria that fired
    as_of: str = ""
    lead: Lead | None = None   # the lead the test built (runtime/analysis/coverage.py looks deeper)


def _cmp(op: str, a: float, b: float) -> bool:
    return {"=": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _fmt(x) -> str:
    return printer.num(x)


def run_test(test: n.Test, engine: Engine, default_asof: dt.date) -> TestOutcome:
    checked = engine.checked
    asof_text = test.as_of or default_asof.isoformat()
    asof = date_ordinal(asof_text)
    lead = build_lead(test, checked.fields, checked.events, asof)
    res = engine.score(lead, asof)
    model = account_model(engine)
    if model is not None:
        # a test holds one lead, so its account is that lead alone (docs/accounts.md)
        res = model.alone(lead, res, asof)
    account_dims = {d for d, _mx, _fl, _o in model.dims} if model is not None else set()
    fails: list[str] = []
    # a criterion is named by its quoted name, or as DIM.NAME (needed when two dimensions share a name)
    crit_index: dict[str, int] = {}
    for i, c in enumerate(engine.criteria):
        crit_index.setdefault(c.name, i)
        crit_index[f"{c.dim}.{c.name}"] = i
    for e in test.expects:
        if e.kind == "grade":
            ok = grade_matches(e.arg, res.grade)
            if not ok:
                fails.append(f"expected grade {e.arg}, got {res.grade}")
        elif e.kind == "route":
            want = e.arg + (f' "{e.queue}"' if e.queue else "")
            got = (res.route or "no route") + (f' "{res.queue}"' if res.queue else "")
            if res.route != e.arg or (e.queue is not None and res.queue != e.queue):
                fails.append(f"expected route {want}, got {got}")
        elif e.kind == "disqualified":
            if res.disqualified is None:
                fails.append("expected the lead to be disqualified" + (f' ("{e.arg}")' if e.arg else "")
                             + f", but it was scored: grade {res.grade}")
            elif e.arg is not None and res.disqualified != e.arg:
                fails.append(f'expected disqualified "{e.arg}", got disqualified "{res.disqualified}"')
        elif e.kind == "not_disqualified":
            if res.disqualified is not None:
                fails.append(f'expected the lead to be scored, but it was disqualified "{res.disqualified}"')
        elif e.kind in ("fires", "not_fires"):
            i = crit_index.get(e.arg)
            fired = bool(i is not None and res.fired and res.fired[i])
            if e.kind == "fires" and not fired:
                fails.append(f'expected criterion "{e.arg}" to fire, but it did not')
            if e.kind == "not_fires" and fired:
                fails.append(f'expected criterion "{e.arg}" not to fire, but it gave {_fmt(round2(res.points[i]))}')
        elif e.kind in ("score", "score_between") and e.arg in account_dims:
            got = res.account_scores.get(e.arg)
            if e.kind == "score" and not _cmp(e.op, got, e.low):
                fails.append(f"expected account {e.arg} {e.op} {_fmt(e.low)}, got {_fmt(got)}")
            elif e.kind == "score_between" and not (e.low <= got <= e.high):
                fails.append(f"expected account {e.arg} between {_fmt(e.low)} and {_fmt(e.high)}, got {_fmt(got)}")
        elif e.kind in ("score", "score_between"):
            if res.disqualified is not None:
                fails.append(f"expected {e.arg} {'between' if e.kind == 'score_between' else e.op} ..., "
                             f'but the lead was disqualified "{res.disqualified}" and has no scores')
                continue
            got = res.total() if e.arg == "total" else res.scores.get(e.arg)
            if got is None:
                fails.append(f"no score named {e.arg}")
            elif e.kind == "score" and not _cmp(e.op, got, e.low):
                fails.append(f"expected {e.arg} {e.op} {_fmt(e.low)}, got {_fmt(got)}")
            elif e.kind == "score_between" and not (e.low <= got <= e.high):
                fails.append(f"expected {e.arg} between {_fmt(e.low)} and {_fmt(e.high)}, got {_fmt(got)}")
        elif e.kind == "account":
            bands = res.account_bands or {}
            if e.arg not in bands.values():
                got = ", ".join(f"{d} {b} ({_fmt(res.account_scores.get(d))})" for d, b in bands.items()) or "no account band"
                fails.append(f"expected account {e.arg}, got account {got}")
    fired = [f"{c.key} {printer.points(round2(p))}" for c, p, f in zip(engine.criteria, res.points, res.fired) if f]
    return TestOutcome(test.name, test.span, not fails, fails, res, fired, asof_text, lead)


def run_tests(engine: Engine, default_asof: dt.date, select: str | None = None) -> list[TestOutcome]:
    out = []
    for t in engine.checked.file.of(n.Test):
        if select and select.lower() not in t.name.lower():
            continue
        out.append(run_test(t, engine, default_asof))
    return out
