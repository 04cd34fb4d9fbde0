#!/usr/bin/env python3
"""Does bench/model.rules say what bench/MODEL.md says, lead for lead?

Scores every lead with the hand-written MODEL.md scorer (bench/baseline_py.py) and with leadrules
(the Python engine, and with --duckdb the SQL backend too) and compares:

- disqualified: must agree on every lead (both route those to suppress);
- other leads: profile exactly; engagement within 0.005 + 1e-6 (leadrules rounds to two decimals);
  grade and route exactly, except leads whose unrounded score sits on the other side of a band edge
  from its rounded score (MODEL.md bands the unrounded engagement, the language the rounded one):
  those are counted and listed, and are the only differences allowed.

    python bench/check_agreement.py [N=100000] [--duckdb]      exit 1 on any other difference
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

ENG_EDGES = (75, 50, 25)
PROF_EDGES = (80, 60, 30)


def round2(x: float) -> float:
    return math.floor(x * 100 + 0.5) / 100


def lr_route(r) -> str:
    return r.route if r.route != "sales" else f"sales_{r.queue}"


def compare(dicts, results) -> tuple[int, list, list]:
    """(leads compared, rounding-edge leads, other differences)."""
    import baseline_py

    edges, bad = [], []
    for d, r in zip(dicts, results, strict=True):
        lid, profile, engagement, dq, grade, route = baseline_py.score(d)
        if str(lid) != r.id:
            bad.append((lid, "id", lid, r.id))
            continue
        if dq != (r.disqualified is not None):
            bad.append((lid, "disqualified", dq, r.disqualified))
            continue
        if dq:
            if r.route != "suppress" or r.grade != "disqualified":
                bad.append((lid, "disqualified route", route, (r.grade, r.route)))
            continue
        p, e = r.scores["profile"], r.scores["engagement"]
        if p != profile:
            bad.append((lid, "profile", profile, p))
        if abs(e - engagement) > 0.005 + 1e-6 or e != round2(engagement):
            bad.append((lid, "engagement", engagement, e))
        if grade != r.grade or route != lr_route(r):
            crossed = any((engagement >= t) != (e >= t) for t in ENG_EDGES)
            if crossed:
                edges.append((lid, engagement, e, grade, r.grade, route, lr_route(r)))
            else:
                bad.append((lid, "grade/route", (grade, route), (r.grade, lr_route(r))))
    return len(dicts), edges, bad


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", nargs="?", type=int, default=100_000)
    ap.add_argument("--duckdb", action="store_true", help="also check the SQL backend on DuckDB")
    a = ap.parse_args(argv)
    prefix = common.ensure_data(a.n)
    rules = common.load_rules()
    dicts = common.read_dicts(str(prefix) + ".jsonl", a.n)
    leads = common.to_leads(dicts, rules)
    asof = common.AS_OF.toordinal()
    from runtime.backends.pygen import compile_fast

    fast = compile_fast(rules.checked)
    engines = [("python engine", [rules.engine.score(lead, asof) for lead in leads]),
               ("generated python", [fast.score(lead, asof) for lead in leads])]
    if hasattr(fast, "score_obj"):
        engines.append(("generated python on JSON objects",
                        [fast.score_obj(d, asof, i) or fast.score(lead, asof)
                         for i, (d, lead) in enumerate(zip(dicts, leads), 1)]))
    if a.duckdb:
        from runtime.backends.duckdb_engine import score_with_duckdb

        res = list(score_with_duckdb(rules, str(prefix) + ".parquet", None, common.AS_OF))[: len(dicts)]
        engines.append(("duckdb (parquet)", res))
    failed = False
    for name, results in engines:
        n, edges, bad = compare(dicts, results)
        dq = sum(1 for r in results if r.disqualified is not None)
        print(f"{name}: {n:,} leads · {dq:,} disqualified · {len(edges)} on the other side of a band edge "
              f"because of rounding · {len(bad)} other differences")
        for lid, raw, rounded, g0, g1, r0, r1 in edges[:10]:
            print(f"  rounding: {lid} engagement {raw!r} -> {rounded} : MODEL {g0}/{r0}, leadrules {g1}/{r1}")
        for b in bad[:20]:
            print("  DIFFERENT:", *b)
        failed |= bool(bad)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
