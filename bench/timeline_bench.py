"""How `simulate --from/--to` costs grow with dates x leads: N leads of rulesets/acme.rules (made by
`leadrules sample`, seed 0) scored at one date and at D dates in one pass (runtime/analysis/load.py).

    python bench/timeline_bench.py                 # 10,000 leads, 30 dates
    python bench/timeline_bench.py -n 2000 -d 90

Prints the seconds of each part and the ratio of the D-date run to the one-date run. Reading and
parsing each lead happens once either way; scoring happens D+1 times (the dates and the day before
the first one), so the ratio stays below D+1.
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runtime.analysis.load import Load  # noqa: E402
from runtime.analysis.sample import write_sample  # noqa: E402
from runtime.backends.load import load_rules  # noqa: E402
from runtime.commands.options import schema_of  # noqa: E402
from runtime.io.readers import LeadReader  # noqa: E402

AS_OF = dt.date(2026, 11, 1)


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000, help="leads (default 10,000)")
    ap.add_argument("-d", "--dates", type=int, default=30, help="dates (default 30)")
    ap.add_argument("--reps", type=int, default=1)
    a = ap.parse_args()
    rules = load_rules(str(ROOT / "rulesets" / "acme.rules"))
    schema = schema_of(rules)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "leads.jsonl"
        with path.open("w", encoding="utf-8") as fh:
            write_sample(rules.checked, fh, a.n, seed=0, as_of=AS_OF)

        def read_only():
            return sum(1 for _ in LeadReader(str(path), schema))

        def run(dates):
            load = Load(rules.engine, dates, 1)
            for lead in LeadReader(str(path), schema):
                load.add(lead)
            load.report(rules.checked)
            return load

        one = [AS_OF]
        many = [AS_OF - dt.timedelta(days=a.dates - 1 - k) for k in range(a.dates)]
        best = {}
        for _ in range(a.reps):
            for name, fn in (("read", read_only), ("1 date", lambda: run(one)), (f"{a.dates} dates", lambda: run(many))):
                t, _out = timed(fn)
                best[name] = min(best.get(name, t), t)
    r, t1, tn = best["read"], best["1 date"], best[f"{a.dates} dates"]
    print(f"{a.n:,} leads of rulesets/acme.rules (with its accounts block)")
    print(f"  read and parse only:   {r:7.2f} s")
    print(f"  1 date  (2 scorings):  {t1:7.2f} s")
    print(f"  {a.dates} dates ({a.dates + 1} scorings): {tn:7.2f} s")
    print(f"  ratio {a.dates} dates / 1 date: {tn / t1:.1f}x   (scoring part: {(tn - r) / max(t1 - r, 1e-9):.1f}x)")
    print(f"  per lead-date: {1e6 * (tn - r) / (a.n * (a.dates + 1)):.1f} µs")


if __name__ == "__main__":
    main()
