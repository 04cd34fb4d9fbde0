#!/usr/bin/env python3
"""`score --engine duckdb` beside the hand-written DuckDB SQL and the python engine, end to end.

    python bench/duck_bench.py [-n 50000] [--heavy 10000] [--reps 3] [--before DIR]

Each run is a subprocess (start-up included), timed by /usr/bin/time: wall seconds, CPU seconds
(user + system: the machine is shared, CPU is the steadier figure) and peak RSS. Cases:

  hand_jsonl / hand_parquet     bench/baseline_sql.py (the hand-written query, Arrow result)
  duckdb_jsonl / duckdb_parquet `leadrules score --engine duckdb`, JSON lines out
  python_heavy / duckdb_heavy   the python engine and the duckdb engine on event-heavy data: N leads
                                with 200 events each (bench/data/heavy_<N>.jsonl, made from gen_leads)
  hand_heavy                    the hand-written query on it

`--before DIR`: also run `leadrules` from another checkout (e.g. `git archive main | tar -x -C DIR`)
for the before/after ratios. Medians of --reps runs, interleaved.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

PY = sys.executable


def heavy_file(n: int, events: int = 200) -> Path:
    """N leads of gen_leads' 100k... data, each with its events repeated to `events` (dates kept)."""
    out = common.DATA / f"heavy_{n // 1000}k.jsonl"
    if out.exists():
        return out
    src = Path(str(common.ensure_data(max(n, 10_000) if n <= 100_000 else n)) + ".jsonl")
    with open(src) as fh, open(out, "w") as w:
        for i, line in enumerate(fh):
            if i >= n:
                break
            o = json.loads(line)
            evs = o.get("events") or [{"type": "web_visit", "at": "2026-10-01T10:00:00Z", "page": "/"}]
            o["events"] = [evs[k % len(evs)] for k in range(events)]
            w.write(json.dumps(o, separators=(",", ":")) + "\n")
    return out


def run(args: list[str], pythonpath: str) -> tuple[float, float, int]:
    """(wall s, CPU s, peak RSS KiB) of a subprocess."""
    fd, path = tempfile.mkstemp(suffix=".time")
    os.close(fd)
    env = dict(os.environ, PYTHONPATH=pythonpath)
    try:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", path] + args, cwd=common.ROOT, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if p.returncode != 0:
            raise RuntimeError(f"{' '.join(args)}: {p.stderr.decode()[-1500:]}")
        e, u, s, m = open(path).read().split()[-4:]
        return float(e), float(u) + float(s), int(m)
    finally:
        os.unlink(path)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=50_000)
    ap.add_argument("--heavy", type=int, default=10_000, help="leads of the event-heavy case (200 events each)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--before", default=None, help="another checkout to compare with")
    ap.add_argument("--only", nargs="*", default=None)
    a = ap.parse_args(argv)
    prefix = common.ensure_data(a.n)
    jsonl, parquet = f"{prefix}.jsonl", f"{prefix}.parquet"
    heavy = str(heavy_file(a.heavy))
    out = str(common.DATA / "out_duck.jsonl")
    asof = ["--as-of", common.AS_OF.isoformat()]
    score = [PY, "cli.py", "score", str(common.MODEL), "-o", out] + asof
    here = str(common.ROOT)
    trees = {"": here} | ({"before_": a.before} if a.before else {})
    cases: dict[str, tuple[list[str], str]] = {
        "hand_jsonl": ([PY, "bench/baseline_sql.py", jsonl], here),
        "hand_parquet": ([PY, "bench/baseline_sql.py", parquet], here),
        "hand_heavy": ([PY, "bench/baseline_sql.py", heavy], here),
    }
    for tag, tree in trees.items():
        cli = [PY, os.path.join(tree, "cli.py")] + score[2:]
        cases[f"{tag}duckdb_jsonl"] = (cli + ["--leads", jsonl, "--engine", "duckdb"], tree)
        cases[f"{tag}duckdb_parquet"] = (cli + ["--leads", parquet, "--engine", "duckdb"], tree)
        cases[f"{tag}duckdb_heavy"] = (cli + ["--leads", heavy, "--engine", "duckdb"], tree)
        cases[f"{tag}python_heavy"] = (cli + ["--leads", heavy, "--engine", "python"], tree)
        cases[f"{tag}python_jsonl"] = (cli + ["--leads", jsonl, "--engine", "python"], tree)
    if a.only:
        cases = {k: v for k, v in cases.items() if any(o in k for o in a.only)}
    got: dict[str, list] = {k: [] for k in cases}
    for _ in range(a.reps):  # interleaved
        for k, (args, tree) in cases.items():
            got[k].append(run(args, tree))
    med = {k: tuple(statistics.median(x[i] for x in v) for i in range(2)) + (max(x[2] for x in v),)
           for k, v in got.items()}
    print(f"# bench/duck_bench.py: {a.n:,} leads; event-heavy {a.heavy:,} leads x 200 events; median of {a.reps}")
    print("| case | wall s | CPU s | peak RSS MiB |")
    print("|---|---:|---:|---:|")
    for k, (w, c, m) in med.items():
        print(f"| {k} | {w:.2f} | {c:.2f} | {m / 1024:,.0f} |")

    def ratio(num, den, i):
        if num in med and den in med:
            return f"{med[den][i] / med[num][i]:.2f}"
        return "-"

    print("\n| ratio (speed: higher is better) | wall | CPU |")
    print("|---|---:|---:|")
    for tag in trees:
        for kind in ("jsonl", "parquet", "heavy"):
            print(f"| {tag}duckdb ÷ hand-written SQL, {kind} | {ratio(f'{tag}duckdb_{kind}', f'hand_{kind}', 0)} | "
                  f"{ratio(f'{tag}duckdb_{kind}', f'hand_{kind}', 1)} |")
        print(f"| {tag}duckdb ÷ python engine, heavy | {ratio(f'{tag}duckdb_heavy', f'{tag}python_heavy', 0)} | "
              f"{ratio(f'{tag}duckdb_heavy', f'{tag}python_heavy', 1)} |")
        if f"{tag}duckdb_heavy" in med and f"{tag}python_heavy" in med:
            print(f"| {tag}duckdb memory ÷ python engine memory, heavy | "
                  f"{med[f'{tag}duckdb_heavy'][2] / med[f'{tag}python_heavy'][2]:.2f} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
