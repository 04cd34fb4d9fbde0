#!/usr/bin/env python3
"""Time leadrules against the hand-written baselines of bench/MODEL.md, in one run.

    python bench/run.py [--sizes 100000 1000000] [--reps 3] [--markdown RESULTS_PART.md]

Measures (median of --reps repetitions, leads per second):

  e2e baseline    bench/baseline_py.py: JSONL in, JSON lines out, one process
  e2e score       `leadrules score` as the CLI ships it (python cli.py score ... -o out.jsonl)
  e2e fast        the generated scorer on JSON objects with runtime/parallel.py (what `score` runs
                  once wired, see docs/sql.md), 1 process and --workers 2
  core            scoring in-memory leads: baseline on dicts, the engine on runtime.model.Lead
                  (closure engine and generated code); 100k leads (memory), whatever --sizes says
  sql             the compiled query (dsl/sqlgen.py) and the hand-written query (bench/baseline_sql.py)
                  in DuckDB, Parquet and JSONL input, results fetched as an Arrow table; and
                  score_with_duckdb end to end (Results in Python)
  rss             peak RSS of the `score` runs at each size

Data comes from gen_leads.py (bench/data/, generated when missing).
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


# ---- child mode: the generated scorer through runtime/parallel.py ------------------------------


def child_fast(leads: str, out: str, workers: int) -> None:
    from runtime.parallel import score_parallel
    from runtime.rules import load_rules

    rules = load_rules(str(common.MODEL))
    engine = rules.engine
    if not hasattr(engine, "score_obj"):
        from dsl.pycodegen import compile_fast

        rules.engine = compile_fast(rules.checked)
    ps = score_parallel(rules, leads, as_of_ordinal=common.AS_OF.toordinal(), workers=workers)
    with open(out, "w", encoding="utf-8", newline="") as fh:
        for chunk in ps:
            fh.write(chunk)


# ---- the measurements ---------------------------------------------------------------------------


def e2e(n: int, reps: int, tmp: Path) -> dict:
    prefix = common.ensure_data(n)
    jsonl = str(prefix) + ".jsonl"
    out = str(tmp / f"out_{n}.jsonl")
    res = {}
    res["baseline"] = median_rate(n, lambda: run_child([PY, "bench/baseline_py.py", jsonl, "-o", out]), reps)
    res["score"] = median_rate(n, lambda: run_child([PY, "cli.py", "score", str(common.MODEL), "--leads", jsonl,
                                                     "--as-of", common.AS_OF.isoformat(), "-o", out]), reps)
    for w in (1, 2):
        res[f"fast_w{w}"] = median_rate(n, lambda w=w: run_child([PY, "bench/run.py", "--child-fast", jsonl, out,
                                                                  str(w)]), reps)
    return res


def core(n: int, reps: int) -> dict:
    import baseline_py

    from dsl.pycodegen import compile_fast
    from runtime.engine import compile_checked

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

    from runtime import duckdb_engine as de

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

            from dsl import sqlgen

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


def fmt_rate(r) -> str:
    return f"{r[0]:,.0f}"


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child-fast"]:
        child_fast(argv[1], argv[2], int(argv[3]))
        return 0
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
            print("| end to end (JSONL in, JSONL out) | leads/s | × baseline | peak RSS |")
            print("|---|---:|---:|---:|")
            for k, label in (("baseline", "hand-written Python (bench/baseline_py.py)"),
                             ("score", "`leadrules score` as shipped (LeadReader + engine)"),
                             ("fast_w1", "generated scorer on JSON objects, 1 process"),
                             ("fast_w2", "generated scorer, `--workers 2`")):
                v = r["e2e"][k]
                print(f"| {label} | {fmt_rate(v)} | {v[0] / b:.2f} | {v[2] / 1024:,.0f} MiB |")
        if "core" in a.only and n == a.sizes[0]:
            r["core"] = core(min(n, 100_000), reps)
            b = r["core"]["baseline"][0]
            print("\n| scoring core, in-memory leads | leads/s | × baseline |")
            print("|---|---:|---:|")
            for k, label in (("baseline", "hand-written Python on dicts"),
                             ("closure", "runtime/engine.py closures on Leads"),
                             ("generated", "generated code (dsl/pycodegen.py) on Leads"),
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
                pyf = r["e2e"]["fast_w1"][0]
                print(f"\nSQL backend (compiled, parquet) ÷ Python runtime: {s['compiled_parquet'][0] / py:.1f}× "
                      f"`leadrules score` as shipped, {s['compiled_parquet'][0] / pyf:.1f}× the generated scorer "
                      f"(1 process); JSONL input: {s['compiled_jsonl'][0] / py:.1f}× / {s['compiled_jsonl'][0] / pyf:.1f}×")
        raw["sizes"][n] = {k: {kk: {"rate": vv[0], "times": vv[1], "rss_kib": vv[2]} for kk, vv in v.items()}
                           for k, v in r.items()}
    if len(a.sizes) > 1 and all("e2e" in raw["sizes"][n] for n in a.sizes):
        lo, hi = min(a.sizes), max(a.sizes)
        print("\n| peak RSS | " + " | ".join(f"{n:,}" for n in (lo, hi)) + " | ratio |")
        print("|---|---:|---:|---:|")
        for k in ("score", "fast_w1", "fast_w2", "baseline"):
            a_ = raw["sizes"][lo]["e2e"][k]["rss_kib"]
            b_ = raw["sizes"][hi]["e2e"][k]["rss_kib"]
            print(f"| {k} | {a_ / 1024:,.0f} MiB | {b_ / 1024:,.0f} MiB | {b_ / a_:.2f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(raw, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
