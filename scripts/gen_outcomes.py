"""Generate rulesets/samples/outcomes.csv: what sales did with the bundled sample leads, and which converted.

Seeded and deterministic: `python scripts/gen_outcomes.py` always writes the same file. It re-creates
the sample with `scripts/gen_sample.py`'s `generate(n, seed)` (checking that it matches
rulesets/samples/leads.jsonl line for line) to get each lead's hidden propensity to buy, which rises
with seniority, fit and engagement — and with visits to the `/integrations` pages, which
`rulesets/acme.rules` does not score. Then, for each lead:

- a day sales could have looked at it (`worked_at`, in the three weeks before 2026-11-01) and what
  acme.rules said then (scored as of that day, as `leadrules calibrate` replays it);
- whether sales worked it: most leads routed to `sales`; a few others, more of them SDR-qualified
  leads, and many more of the leads that had visited an `/integrations` page by then (the reps'
  instinct that the rules miss). A lead left alone then but routed to `sales` by 2026-11-01 is
  mostly worked on that day;
- whether a worked lead converted: a coin weighted by logistic(propensity); an unworked lead now and
  then converts on its own (self-serve), at a twentieth of that rate.

`leadrules calibrate rulesets/acme.rules --leads rulesets/samples/leads.jsonl --outcomes
rulesets/samples/outcomes.csv --as-of 2026-11-01` should then find the `/integrations` signal.

Usage: python scripts/gen_outcomes.py [--seed 11] [--out rulesets/samples/outcomes.csv]
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from gen_sample import AS_OF, generate  # noqa: E402

SAMPLE_N, SAMPLE_SEED = 3000, 7
P_WORK_SALES = 0.85         # sales works most of what the rules send it
P_CHERRY = 0.03             # ... and picks a few other leads
P_CHERRY_QUALIFY = 0.07     # ... more often among leads the rules send to SDRs
P_CHERRY_INTEGRATIONS = 0.20  # ... and many more of those that read the integrations pages
SELF_SERVE = 0.05           # an unworked lead converts at this fraction of its worked rate
LOST_STAGES = ["closed-lost", "closed-lost", "no-decision", "open"]


def logistic(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def visited_integrations(lead: dict, day: dt.date) -> bool:
    for e in lead.get("events") or []:
        if e.get("type") == "web_visit" and str(e.get("page", "")).lower().startswith("/integrations"):
            if dt.date.fromisoformat(e["at"][:10]) <= day:
                return True
    return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--leads", default=str(ROOT / "rulesets/samples/leads.jsonl"))
    ap.add_argument("--rules", default=str(ROOT / "rulesets/acme.rules"))
    ap.add_argument("--out", default=str(ROOT / "rulesets/samples/outcomes.csv"))
    args = ap.parse_args()

    from runtime.analysis.calibrate import replay
    from runtime.commands.options import schema_of
    from runtime.io.readers import lead_from_object
    from runtime.backends.load import load_rules

    rows = generate(SAMPLE_N, SAMPLE_SEED)
    with open(args.leads, encoding="utf-8") as f:
        lines = f.read().splitlines()
    if len(lines) != len(rows) or any(json.dumps(lead, ensure_ascii=False) != line
                                      for (lead, _), line in zip(rows, lines)):
        sys.exit(f"{args.leads} is not what scripts/gen_sample.py makes with n={SAMPLE_N}, seed={SAMPLE_SEED}; "
                 "regenerate it first")
    rules = load_rules(args.rules)
    engine, schema = rules.engine, schema_of(rules)
    leads = [lead_from_object(lead, schema) for lead, _ in rows]
    rng = random.Random(args.seed)
    days = {ld.id: AS_OF - dt.timedelta(days=rng.randint(0, 20)) for ld in leads}
    # what the rules said on each lead's day, and on AS_OF -- routed as `leadrules score` routes them,
    # account lines included (runtime.analysis.calibrate.replay is what `leadrules calibrate` replays with)
    then = [r for _, r, _ in replay(engine, lambda: leads, lambda ld: days[ld.id].toordinal())]
    now = [r for _, r, _ in replay(engine, lambda: leads, lambda ld: AS_OF.toordinal())]
    out = []
    for (lead, propensity), res, late in zip(rows, then, now):
        day = days[lead["id"]]
        curious = visited_integrations(lead, day)
        if res.route == "sales":
            p_work = P_WORK_SALES
        elif res.disqualified is not None:
            p_work = 0.005
        else:
            p_work = P_CHERRY + (P_CHERRY_QUALIFY if res.route == "qualify" else 0.0) + \
                (P_CHERRY_INTEGRATIONS if curious else 0.0)
        p_conv = logistic(propensity)
        worked = rng.random() < p_work
        if not worked and res.route != "sales":
            # a lead that turned hot since then is routed to sales by now: sales works it today
            if late.route == "sales" and rng.random() < P_WORK_SALES:
                worked, day = True, AS_OF
        converted = rng.random() < (p_conv if worked else p_conv * SELF_SERVE)
        row = {"lead_id": lead["id"], "worked_at": day.isoformat() if worked else "",
               "converted": "true" if converted else "false", "converted_at": "", "stage": ""}
        if converted:
            row["converted_at"] = (day + dt.timedelta(days=rng.randint(7, 45))).isoformat()
            row["stage"] = "closed-won"
        elif worked:
            row["stage"] = rng.choice(LOST_STAGES)
        out.append(row)
    with open(args.out, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["lead_id", "worked_at", "converted", "converted_at", "stage"],
                           lineterminator="\n")
        w.writeheader()
        w.writerows(out)
    worked = sum(1 for r in out if r["worked_at"])
    conv = sum(1 for r in out if r["converted"] == "true")
    print(f"wrote {len(out)} outcomes to {args.out} ({worked} worked, {conv} converted)")


if __name__ == "__main__":
    main()
