"""Seeded synthetic CRM worlds whose true drivers of conversion are known, for testing `leadrules
calibrate` (tests/test_calibrate_worlds.py):

- "count": conversion rises with how many times a lead was in touch (`meeting` events before it was
  worked); leads of one account convert together (an account effect), so the account key looks
  predictive to a test that counts leads as independent;
- "fit": conversion is driven by company revenue — above $10M converts better, $1M–10M *worse* than
  small companies — while the rules also score industry and country, which carry no signal;
- "null": conversion is a coin, whatever the lead.

`world(kind, n, seed)` returns (rules text, lead objects, outcome rows); `write(dir, ...)` writes
them as rules.rules, leads.jsonl and outcomes.csv.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import math
import random
from pathlib import Path

AS_OF = dt.date(2026, 11, 1)
INDUSTRIES = ["software", "retail", "health", "finance", "education"]
COUNTRIES = ["US", "DE", "FR", "BR", "JP"]
TITLES = ["VP Sales", "Director IT", "Manager", "Engineer", "Analyst", "CFO"]

HEAD = """ruleset "world" version 1

fields {
  email: text
  company_id: text
  title: text
  industry: text
  country: text
  annual_revenue: number
  created_at: date
}

events {
  meeting
  email_open
  web_visit(page: text)
}
"""

RULES = {
    # scores only whether there was a meeting, not how many
    "count": HEAD + """
score profile "Fit" max 100 {
  "Senior"  +30 when title contains any word ["VP", "CFO", "Director"]
  "Big"     +20 when annual_revenue >= 10000000
}

score engagement "Interest" max 100 {
  "Met"     +30 when has meeting
  "Opens"   +2 each email_open max 10
}

grade profile {
  A when >= 40
  B otherwise
}

grade engagement {
  1 when >= 30
  2 otherwise
}

accounts by company_id {
  score buying "Buying" max 100 {
    "Keen"  +50 when has lead where engagement >= 30
  }
  grade buying {
    hot  when >= 50
    cold otherwise
  }
}

route {
  A1         -> sales "ae"
  A2, B1     -> qualify "sdr"
  otherwise  -> nurture "n"
}
""",
    # a deliberately wrong v1: lumps $1M-10M with the big companies, scores two noise criteria
    "fit": HEAD + """
score profile "Fit" max 100 {
  "Revenue"   +40 when annual_revenue >= 1000000
  "Industry"  +20 when industry = "software"
  "Country"   +20 when country in ["US", "DE"]
}

score engagement "Interest" max 100 {
  "Opens"  +2 each email_open max 10
}

grade profile {
  A when >= 60
  B when >= 40
  C otherwise
}

route {
  A*         -> sales "ae"
  B*         -> qualify "sdr"
  otherwise  -> nurture "n"
}
""",
}
RULES["null"] = RULES["fit"]


def _logistic(x: float) -> float:
    return 1 / (1 + math.exp(-x))


def world(kind: str, n: int = 3000, seed: int = 1) -> tuple[str, list[dict], list[dict]]:
    rng = random.Random(f"{kind}-{seed}")
    n_accounts = max(1, n // 25)
    acct_effect = [rng.gauss(0, 1.2) for _ in range(n_accounts)]
    # a company has one industry and one country: in the count world, whatever its leads share
    # (industry, country) rides on the account effect, and looks predictive if leads count alone
    acct_industry = [rng.choice(INDUSTRIES) for _ in range(n_accounts)]
    acct_country = [rng.choice(COUNTRIES) for _ in range(n_accounts)]
    leads, outcomes = [], []
    for i in range(n):
        lid = f"L{i:05d}"
        a = rng.randrange(n_accounts)
        worked = AS_OF - dt.timedelta(days=rng.randint(0, 60))
        revenue = round(10 ** rng.uniform(5, 8.5))
        lead = {"id": lid, "email": f"p{i}@acct{a:04d}.com", "company_id": f"acct_{a:05d}",
                "title": rng.choice(TITLES), "industry": acct_industry[a], "country": acct_country[a],
                "annual_revenue": revenue,
                # some leads are created after they were worked: not yet known on that day
                "created_at": (worked + dt.timedelta(days=rng.randint(-90, 20))).isoformat()}
        events = []
        meetings_before = 0
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3, 4, 6, 8])):
            day = worked - dt.timedelta(days=rng.randint(-10, 60))
            events.append({"type": "meeting", "at": day.isoformat()})
            meetings_before += day <= worked
        for _ in range(rng.randint(0, 6)):
            day = worked - dt.timedelta(days=rng.randint(-10, 60))
            events.append({"type": "email_open", "at": day.isoformat()})
        for _ in range(rng.randint(0, 3)):
            day = worked - dt.timedelta(days=rng.randint(0, 60))
            events.append({"type": "web_visit", "page": rng.choice(["/pricing", "/blog/x", "/docs/y"]),
                           "at": day.isoformat()})
        lead["events"] = events
        if kind == "count":
            logit = -2.2 + 0.45 * meetings_before + acct_effect[a]
        elif kind == "fit":
            logit = -0.9 + (1.4 if revenue >= 10_000_000 else -1.0 if revenue >= 1_000_000 else 0.0)
        else:
            logit = -0.5
        converted = rng.random() < _logistic(logit)
        outcomes.append({"lead_id": lid, "worked_at": worked.isoformat(), "converted": str(converted).lower(),
                         "converted_at": (worked + dt.timedelta(days=rng.randint(5, 60))).isoformat()
                         if converted else ""})
        leads.append(lead)
    return RULES[kind], leads, outcomes


def write(directory: Path, kind: str, n: int = 3000, seed: int = 1) -> tuple[Path, Path, Path]:
    rules, leads, outcomes = world(kind, n, seed)
    directory.mkdir(parents=True, exist_ok=True)
    r = directory / f"{kind}.rules"
    r.write_text(rules, encoding="utf-8")
    lp = directory / f"{kind}-leads.jsonl"
    lp.write_text("".join(json.dumps(x) + "\n" for x in leads), encoding="utf-8")
    op = directory / f"{kind}-outcomes.csv"
    with open(op, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["lead_id", "worked_at", "converted", "converted_at"], lineterminator="\n")
        w.writeheader()
        w.writerows(outcomes)
    return r, lp, op
