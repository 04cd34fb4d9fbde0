#!/usr/bin/env python3
"""The core targets of issue 15 in one run: the scoring core on in-memory leads against the hand-written
core, the cost of an accounts block, and `calibrate` against `simulate` on the same leads.

    python bench/core_bench.py [--n 100000] [--reps 3] [--only core accounts calibrate]

  core       CPU seconds to score N in-memory leads: bench/baseline_py.py's `score` on the dicts,
             the generated `score_obj` on the same dicts (what `leadrules score` runs), the generated
             `score` and the closure engine on runtime.core.model.Lead; ratio = baseline ÷ leadrules
  accounts   `leadrules score` and `simulate` on rulesets/acme.rules (its tests left out) with and
             without its accounts block, and `score --workers 2` with it, as subprocesses (CPU
             seconds of the child, start-up included)
  calibrate  `leadrules calibrate` and `simulate` on bench/model.rules over the same N leads, with
             seeded outcomes written next to the data (CPU seconds of the child)

Times are CPU seconds (the machine is shared), medians of --reps runs, interleaved.
"""
from __future__ import annotations

import argparse
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import common  # noqa: E402

PY = sys.executable
ROOT = common.ROOT
ACME = ROOT / "rulesets" / "acme.rules"


def child_cpu(args: list) -> float:
    """CPU seconds (user + system) of a subprocess and its children."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([str(a) for a in args], cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(map(str, args))} failed ({p.returncode}): {p.stderr.decode()[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def medians(runs: dict, reps: int) -> dict:
    """{name: median seconds}, the runs interleaved rep by rep."""
    times: dict = {k: [] for k in runs}
    for _ in range(reps):
        for k, f in runs.items():
            times[k].append(f())
    return {k: statistics.median(v) for k, v in times.items()}


# ---- core ---------------------------------------------------------------------------------------


def core(n: int, reps: int) -> dict:
    import baseline_py

    from runtime.backends.closure import compile_checked
    from runtime.backends.pygen import compile_fast

    rules = common.load_rules()
    dicts = common.read_dicts(str(common.ensure_data(100_000)) + ".jsonl", n)
    leads = common.to_leads(dicts, rules)
    asof = common.AS_OF.toordinal()
    closure = compile_checked(rules.checked)
    fast = compile_fast(rules.checked)
    cpu = time.process_time

    def t_base():
        s = baseline_py.score
        baseline_py._AGE.clear()  # its date memo starts empty, as the generated code's caches do below
        t0 = cpu()
        for d in dicts:
            s(d)
        return cpu() - t0

    def t_engine(e):
        def f():
            s = e.score
            t0 = cpu()
            for lead in leads:
                s(lead, asof)
            return cpu() - t0
        return f

    def t_obj():
        from runtime.backends import pygen

        pygen.DAYS.clear()
        s = fast.score_obj
        t0 = cpu()
        i = 0
        for d in dicts:
            i += 1
            s(d, asof, i)
        return cpu() - t0

    m = medians({"baseline": t_base, "generated_obj": t_obj, "generated": t_engine(fast),
                 "closure": t_engine(closure)}, reps)
    print(f"\n## scoring core, {len(dicts):,} in-memory leads (CPU s, median of {reps})\n")
    print("| scorer | CPU s | leads/s | × hand-written |")
    print("|---|---:|---:|---:|")
    for k, label in (("baseline", "hand-written (bench/baseline_py.py) on dicts"),
                     ("generated_obj", "generated `score_obj` on dicts (what `score` runs)"),
                     ("generated", "generated `score` on Leads"),
                     ("closure", "closure engine on Leads")):
        print(f"| {label} | {m[k]:.2f} | {len(dicts) / m[k]:,.0f} | {m['baseline'] / m[k]:.2f} |")
    return m


# ---- accounts -----------------------------------------------------------------------------------


def strip_block(text: str, head: str) -> str:
    """`text` without every top-level block whose first line starts with `head` (to its closing brace)."""
    out, depth, skipping = [], 0, False
    for line in text.splitlines(keepends=True):
        if not skipping and depth == 0 and line.startswith(head):
            skipping = True
        if skipping:
            depth += line.count("{") - line.count("}")
            if depth <= 0:
                skipping, depth = False, 0
            continue
        out.append(line)
    return "".join(out)


def acme_pair(tmp: Path) -> tuple[Path, Path]:
    """acme.rules without its tests (with its accounts block), and the same without accounts."""
    text = strip_block(ACME.read_text(encoding="utf-8"), "test ")
    with_acc = tmp / "acme_accounts.rules"
    with_acc.write_text(text, encoding="utf-8")
    plain = strip_block(text, "accounts ")
    plain = "".join(l for l in plain.splitlines(keepends=True) if not re.match(r"\s*account\s", l))
    without = tmp / "acme_plain.rules"
    without.write_text(plain, encoding="utf-8")
    return with_acc, without


def accounts(n: int, reps: int) -> dict:
    prefix = common.ensure_data(n)
    jsonl = str(prefix) + ".jsonl"
    tmp = common.DATA / "core_bench"
    tmp.mkdir(exist_ok=True)
    with_acc, without = acme_pair(tmp)
    out = tmp / "out.jsonl"
    asof = ["--as-of", common.AS_OF.isoformat()]

    def score(rules, *extra):
        return lambda: child_cpu([PY, "cli.py", "score", rules, "--leads", jsonl, "-o", out, *asof, *extra])

    def simulate(rules):
        return lambda: child_cpu([PY, "cli.py", "simulate", rules, "--leads", jsonl, "--format", "json", *asof])

    m = medians({"score_plain": score(without), "score_accounts": score(with_acc),
                 "simulate_plain": simulate(without), "simulate_accounts": simulate(with_acc),
                 "score_accounts_w2": score(with_acc, "--workers", "2")}, reps)
    print(f"\n## accounts, rulesets/acme.rules, {n:,} leads (CPU s of the process and its workers, median of {reps})\n")
    print("| command | without accounts | with accounts | × |")
    print("|---|---:|---:|---:|")
    for k in ("score", "simulate"):
        a, b = m[f"{k}_plain"], m[f"{k}_accounts"]
        print(f"| `{k}` | {a:.2f} | {b:.2f} | {b / a:.2f} |")
    print(f"| `score --workers 2` (CPU of all processes) | | {m['score_accounts_w2']:.2f} | |")
    return m


# ---- calibrate ----------------------------------------------------------------------------------


def outcomes_for(prefix: Path, n: int) -> Path:
    """Seeded outcomes for the first `n` leads of the bench data: a third worked, a fifth of those won."""
    path = Path(f"{prefix}.outcomes.csv")
    if path.exists():
        return path
    rnd = random.Random(15)
    rows = ["lead_id,worked_at,converted,converted_at,stage"]
    with open(str(prefix) + ".jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if i >= n:
                break
            lid = line[line.index('"id"'):].split('"')[3]
            if rnd.random() < 0.35:
                day = 1 + rnd.randrange(28)
                won = rnd.random() < 0.2
                rows.append(f"{lid},2026-10-{day:02d},{'true' if won else 'false'},"
                            f"{'2026-10-30' if won else ''},{'won' if won else 'open'}")
            else:
                rows.append(f"{lid},,false,,")
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def calibrate(n: int, reps: int) -> dict:
    prefix = common.ensure_data(n)
    jsonl = str(prefix) + ".jsonl"
    outcomes = outcomes_for(prefix, n)
    model = common.MODEL
    asof = ["--as-of", common.AS_OF.isoformat()]
    m = medians({
        "simulate": lambda: child_cpu([PY, "cli.py", "simulate", model, "--leads", jsonl, "--format", "json",
                                       *asof]),
        "calibrate": lambda: child_cpu([PY, "cli.py", "calibrate", model, "--leads", jsonl, "--outcomes",
                                        outcomes, "--format", "json", *asof]),
    }, reps)
    print(f"\n## calibrate vs simulate, bench/model.rules, {n:,} leads (CPU s, median of {reps})\n")
    print("| simulate | calibrate | × |")
    print("|---:|---:|---:|")
    print(f"| {m['simulate']:.2f} | {m['calibrate']:.2f} | {m['calibrate'] / m['simulate']:.2f} |")
    return m


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--only", nargs="+", choices=["core", "accounts", "calibrate"],
                    default=["core", "accounts", "calibrate"])
    a = ap.parse_args(argv)
    if "core" in a.only:
        core(a.n, a.reps)
    if "accounts" in a.only:
        accounts(a.n, a.reps)
    if "calibrate" in a.only:
        calibrate(a.n, a.reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
