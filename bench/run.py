#!/usr/bin/env python3
"""Time leadrules against the hand-written baselines of bench/MODEL.md, in one run.

    python bench/run.py [--sizes 100000 1000000] [--reps 3] [--json RAW.json]

Measures (median of --reps repetitions, leads per second):

  e2e baseline    bench/baseline_py.py: JSONL in, JSON lines out, one process
  e2e score       `leadrules score` as the CLI ships it (the generated scorer on each JSON object,
                  runtime/backends/parallel.py in one process), JSONL in, JSONL out; and `--workers 2`
  e2e duckdb      `leadrules score --engine duckdb`, JSONL and Parquet in, JSONL out
  e2e simulate    `leadrules simulate --leads`, JSONL in, the json report out
  core            scoring in-memory leads: baseline on dicts, the engine on runtime.core.model.Lead
                  (closure engine and generated code) and the generated score_obj on the dicts;
                  100k leads (memory), whatever --sizes says
  sql             the compiled query (runtime/backends/sql.py) and the hand-written query (bench/baseline_sql.py)
                  in DuckDB, Parquet and JSONL input, results fetched as an Arrow table
  rss             peak RSS of every end-to-end run at each size (/usr/bin/time)

All end-to-end runs are subprocesses (start-up included). Data comes from gen_leads.py (bench/data/,
generated when missing).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

PY = sys.executable
ROOT = common.ROOT


TIME = "/usr/bin/time" if os.path.exists("/usr/bin/time") else None


def run_child(args: list[str]) -> tuple[float, int]:
    """(seconds, peak RSS in KiB) of a subprocess. The peak is measured by /usr/bin/time (a small
    process that forks the command: a child forked from this big process would inherit its peak)."""
    fd, path = None, None
    if TIME:
        import tempfile

        fd, path = tempfile.mkstemp(suffix=".rss")
        os.close(fd)
        args = [TIME, "-f", "%M", "-o", path] + args
    t0 = time.perf_counter()
    p = subprocess.run(args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    dt_ = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    rss = 0
    if path:
        try:
            rss = int(open(path).read().strip().splitlines()[-1])
        finally:
            os.unlink(path)
    return dt_, rss


def median_rate(n: int, fn, reps: int) -> tuple[float, list[float], int]:
    times, rss = [], 0
    for _ in range(reps):
        r = fn()
        if isinstance(r, tuple):
            t, m = r
            rss = max(rss, m)
        else:
            t = r
        times.append(t)
    med = statistics.median(times)
    return n / med, times, rss


# ---- the measurements ---------------------------------------------------------------------------


def e2e(n: int, reps: int, tmp: Path) -> dict:
    prefix = common.ensure_data(n)
    jsonl, parquet = str(prefix) + ".jsonl", str(prefix) + ".parquet"
    out = str(tmp / f"out_{n}.jsonl")
    asof = ["--as-of", common.AS_OF.isoformat()]
    score = [PY, "cli.py", "score", str(common.MODEL)]
    runs = {
        "baseline": [PY, "bench/baseline_py.py", jsonl, "-o", out],
        "score": score + ["--leads", jsonl, "-o", out] + asof,
        "score_w2": score + ["--leads", jsonl, "-o", out, "--workers", "2"] + asof,
        "duckdb_jsonl": score + ["--leads", jsonl, "-o", out, "--engine", "duckdb"] + asof,
        "duckdb_parquet": score + ["--leads", parquet, "-o", out, "--engine", "duckdb"] + asof,
        "simulate": [PY, "cli.py", "simulate", str(common.MODEL), "--leads", jsonl, "--format", "json"] + asof,
    }
    return {k: median_rate(n, lambda a=a: run_child(a), reps) for k, a in runs.items()}


def core(n: int, reps: int) -> dict:
    import baseline_py

    from runtime.backends.pygen import compile_fast
    from runtime.backends.closure import compile_checked

    rules = common.load_rules()
    dicts = common.read_dicts(str(common.ensure_data(100_000)) + ".jsonl", n)
    leads = common.to_leads(dicts, rules)
    asof = common.AS_OF.toordinal()
    closure = compile_checked(rules.checked)
    fast = compile_fast(rules.checked)

    def t_base():
        s = baseline_py.score
        t0 = time.perf_counter()
        for d in dicts:
            s(d)
        return time.perf_counter() - t0

    def t_engine(e):
        def f():
            s = e.score
            t0 = time.perf_counter()
            for lead in leads:
                s(lead, asof)
            return time.perf_counter() - t0
        return f

    def t_obj():
        s = fast.score_obj
        t0 = time.perf_counter()
        for i, d in enumerate(dicts, 1):
            s(d, asof, i)
        return time.perf_counter() - t0

    return {"baseline": median_rate(len(dicts), t_base, reps),
            "closure": median_rate(len(dicts), t_engine(closure), reps),
            "generated": median_rate(len(dicts), t_engine(fast), reps),
            "generated_obj": median_rate(len(dicts), t_obj, reps)}


def sql(n: int, reps: int) -> dict:
    import baseline_sql

    from runtime.backends import duckdb_engine as de

    rules = common.load_rules()
    prefix = common.ensure_data(n)
    res = {}
    for kind in ("parquet", "jsonl"):
        path = f"{prefix}.{kind}"

        def compiled(path=path):
            con = de.connect()
            src = de.DuckSource(con, rules.checked, path, None)
            q = src.with_query(de.query_sql(rules.checked, common.AS_OF))
            t0 = time.perf_counter()
            tbl = con.sql(q).to_arrow_table()
            t = time.perf_counter() - t0
            assert tbl.num_rows == n
            con.close()
            return t

        def hand(path=path):
            import duckdb

            con = duckdb.connect()
            con.execute("SET enable_progress_bar = false")
            t0 = time.perf_counter()
            tbl = con.sql(baseline_sql.query(path)).to_arrow_table()
            t = time.perf_counter() - t0
            assert tbl.num_rows == n
            con.close()
            return t

        def plain(path=path):
            # the query as `leadrules compile --target sql` prints it, over views of the file, as a
            # warehouse runs it: events joined by lead id, no input order, no bad-row checks
            import duckdb

            from runtime.backends import sql as sqlgen

            con = duckdb.connect()
            con.execute("SET enable_progress_bar = false")
            con.execute("SET TimeZone = 'UTC'")
            src = baseline_sql.source_for(path)
            con.execute(f"CREATE VIEW leads AS SELECT * EXCLUDE (events, created_at), "
                        f"CAST(created_at AS DATE) AS created_at FROM {src}")
            con.execute(f"CREATE VIEW events AS SELECT id AS lead_id, e.type AS type, CAST(e.at AS TIMESTAMP) AS at, "
                        f"e.page AS page, e.form AS form, e.campaign AS campaign, e.webinar AS webinar, "
                        f"e.asset AS asset FROM (SELECT id, UNNEST(events) AS e FROM {src})")
            q = sqlgen.to_sql(rules.checked, "duckdb", common.AS_OF, pretty=False)
            t0 = time.perf_counter()
            tbl = con.sql(q).to_arrow_table()
            t = time.perf_counter() - t0
            assert tbl.num_rows == n
            con.close()
            return t

        res[f"compiled_{kind}"] = median_rate(n, compiled, reps)
        res[f"plain_{kind}"] = median_rate(n, plain, reps)
        res[f"hand_{kind}"] = median_rate(n, hand, reps)

    def results():
        t0 = time.perf_counter()
        k = sum(1 for _ in de.score_with_duckdb(rules, f"{prefix}.parquet", None, common.AS_OF))
        assert k == n
        return time.perf_counter() - t0

    res["results_parquet"] = median_rate(n, results, max(1, reps - 1))
    return res


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ncpu = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = ""
    try:
        kb = int(next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    import duckdb

    return (f"{cpu}, {ncpu} CPUs available{mem}; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, DuckDB {duckdb.__version__}")


E2E_LABELS = (("baseline", "hand-written Python (bench/baseline_py.py), JSONL"),
              ("score", "`leadrules score`, JSONL"),
              ("score_w2", "`leadrules score --workers 2`, JSONL"),
              ("duckdb_jsonl", "`leadrules score --engine duckdb`, JSONL"),
              ("duckdb_parquet", "`leadrules score --engine duckdb`, Parquet"),
              ("simulate", "`leadrules simulate --leads`, JSONL"))


def fmt_rate(r) -> str:
    return f"{r[0]:,.0f}"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--reps-1m", type=int, default=None, help="repetitions at 1M leads (default: --reps)")
    ap.add_argument("--only", nargs="+", choices=["e2e", "core", "sql"], default=["e2e", "core", "sql"])
    ap.add_argument("--json", default=None, help="also write the raw numbers here")
    a = ap.parse_args(argv)
    tmp = common.DATA / "out"
    tmp.mkdir(parents=True, exist_ok=True)
    print(f"# bench/run.py — {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"machine: {machine()}")
    raw: dict = {"date": dt.datetime.now(dt.timezone.utc).isoformat(), "machine": machine(), "sizes": {}}
    e2e_done = {}
    if "e2e" in a.only:  # first, while this process is small (see run_child)
        for n in a.sizes:
            e2e_done[n] = e2e(n, a.reps_1m if (n >= 1_000_000 and a.reps_1m) else a.reps, tmp)
    for n in a.sizes:
        reps = a.reps_1m if (n >= 1_000_000 and a.reps_1m) else a.reps
        print(f"\n## {n:,} leads ({reps} repetitions, median)")
        r: dict = {}
        if "e2e" in a.only:
            r["e2e"] = e2e_done[n]
            b = r["e2e"]["baseline"][0]
            print("| end to end (a subprocess, start-up included) | leads/s | × baseline | peak RSS |")
            print("|---|---:|---:|---:|")
            for k, label in E2E_LABELS:
                v = r["e2e"][k]
                print(f"| {label} | {fmt_rate(v)} | {v[0] / b:.2f} | {v[2] / 1024:,.0f} MiB |")
        if "core" in a.only and n == a.sizes[0]:
            r["core"] = core(min(n, 100_000), reps)
            b = r["core"]["baseline"][0]
            print("\n| scoring core, in-memory leads | leads/s | × baseline |")
            print("|---|---:|---:|")
            for k, label in (("baseline", "hand-written Python on dicts"),
                             ("closure", "runtime/backends/closure.py closures on Leads"),
                             ("generated", "generated code (runtime/backends/pygen.py) on Leads"),
                             ("generated_obj", "generated code on JSON objects (checks every value as the reader)")):
                v = r["core"][k]
                print(f"| {label} | {fmt_rate(v)} | {v[0] / b:.2f} |")
        if "sql" in a.only:
            r["sql"] = sql(n, reps)
            s = r["sql"]
            print("\n| DuckDB | leads/s | × hand-written SQL |")
            print("|---|---:|---:|")
            for kind in ("parquet", "jsonl"):
                h = s[f"hand_{kind}"][0]
                print(f"| hand-written SQL, {kind} | {fmt_rate(s[f'hand_{kind}'])} | 1.00 |")
                print(f"| compiled query as `compile` prints it, {kind} | {fmt_rate(s[f'plain_{kind}'])} | "
                      f"{s[f'plain_{kind}'][0] / h:.2f} |")
                print(f"| DuckDB engine: compiled query, input order, reader's checks, {kind} | "
                      f"{fmt_rate(s[f'compiled_{kind}'])} | {s[f'compiled_{kind}'][0] / h:.2f} |")
            print(f"| score_with_duckdb, parquet, Results in Python | {fmt_rate(s['results_parquet'])} | "
                  f"{s['results_parquet'][0] / s['hand_parquet'][0]:.2f} |")
            if "e2e" in r:
                py = r["e2e"]["score"][0]
                print(f"\nSQL backend ÷ Python runtime (`leadrules score`, JSONL): the DuckDB engine's query "
                      f"{s['compiled_parquet'][0] / py:.1f}× (Parquet), {s['compiled_jsonl'][0] / py:.1f}× (JSONL); "
                      f"`score --engine duckdb` end to end {r['e2e']['duckdb_parquet'][0] / py:.1f}× (Parquet), "
                      f"{r['e2e']['duckdb_jsonl'][0] / py:.1f}× (JSONL)")
        raw["sizes"][n] = {k: {kk: {"rate": vv[0], "times": vv[1], "rss_kib": vv[2]} for kk, vv in v.items()}
                           for k, v in r.items()}
    if len(a.sizes) > 1 and all("e2e" in raw["sizes"][n] for n in a.sizes):
        lo, hi = min(a.sizes), max(a.sizes)
        print("\n| peak RSS | " + " | ".join(f"{n:,}" for n in (lo, hi)) + " | ratio |")
        print("|---|---:|---:|---:|")
        for k in ("baseline", "score", "score_w2", "duckdb_jsonl", "duckdb_parquet", "simulate"):
            a_ = raw["sizes"][lo]["e2e"][k]["rss_kib"]
            b_ = raw["sizes"][hi]["e2e"][k]["rss_kib"]
            print(f"| {k} | {a_ / 1024:,.0f} MiB | {b_ / 1024:,.0f} MiB | {b_ / a_:.2f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
