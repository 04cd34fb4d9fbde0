"""Generate rulesets/samples/hubspot_contacts.csv: a HubSpot-style contacts export for hubspot.rules.

Seeded and deterministic: `python scripts/gen_hubspot.py` always writes the same file. The columns
are HubSpot's own (`Record ID`, `First Name`, `Last Name`, `Email`, `Job Title`, `Number of
Employees`, `Lifecycle Stage`, `Create Date`, plus `Phone Number` and `Contact owner`, which the rule
file does not read), with what real exports hold: blank cells, `Create Date` as `YYYY-MM-DD HH:MM`,
lifecycle stages in HubSpot's wording, a few personal e-mail addresses and customers.

Usage: python scripts/gen_hubspot.py [--n 500] [--seed 11] [--out rulesets/samples/hubspot_contacts.csv]
       [--delimiter ';']   (Excel in many European locales saves with `;`; leadrules finds it either way)
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
from pathlib import Path

COLUMNS = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Job Title", "Number of Employees",
           "Lifecycle Stage", "Contact owner", "Create Date"]
FIRST = ["Ana", "Raj", "Li", "Tom", "Eva", "Sam", "Meg", "Joe", "Kim", "Ola", "Ben", "Zoe", "Ivan", "Noor", "Luis",
         "Mia", "Omar", "Ines", "Kai", "Lea", "Finn", "Aisha", "Hugo", "Yuki", "Priya", "Jonas"]
LAST = ["Smith", "Garcia", "Chen", "Müller", "Rossi", "Okafor", "Kowalski", "Nguyen", "Silva", "Khan", "Johnson",
        "Dubois", "Tanaka", "Larsen", "Patel", "Brown", "Novak", "Haddad", "Costa", "Weber"]
COMPANIES = ["northdata", "peakcloud", "brightiron", "swiftcore", "greennova", "terrapixel", "harborlogic",
             "summitvector", "atlasorbit", "maplesoft", "bluelabs", "corebank", "ironworks", "novahealth"]
TITLES = [("VP Marketing", 3), ("Chief Revenue Officer", 1), ("Head of Growth", 2), ("Vice President, Sales", 2),
          ("Director of Demand Generation", 4), ("Marketing Director", 3), ("Marketing Manager", 6),
          ("Sales Manager", 4), ("Marketing Specialist", 6), ("Account Executive", 4), ("Student", 1), ("", 4)]
STAGES = [("Subscriber", 8), ("Lead", 10), ("Marketing Qualified Lead", 5), ("Sales Qualified Lead", 2),
          ("Opportunity", 1), ("Customer", 1), ("", 2)]
SIZES = [("", 3), ("8", 2), ("45", 3), ("120", 3), ("350", 3), ("800", 2), ("2500", 2), ("12000", 1)]
OWNERS = ["", "Dana Ruiz", "Chris Olsen", "Pat Lee"]
PERSONAL = ["gmail.com", "yahoo.com", "outlook.com"]
END = dt.datetime(2026, 10, 31, 18, 0)


def pick(rng: random.Random, weighted):
    values, weights = zip(*weighted)
    return rng.choices(values, weights)[0]


def rows(n: int, seed: int):
    rng = random.Random(seed)
    for i in range(n):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        domain = rng.choice(PERSONAL) if rng.random() < 0.12 else rng.choice(COMPANIES) + rng.choice([".com", ".io"])
        email = "" if rng.random() < 0.03 else f"{first.lower()}.{last.lower()}@{domain}".replace("ü", "ue")
        created = END - dt.timedelta(minutes=rng.randrange(0, 60 * 24 * 400))
        yield [str(51000 + i * 7), first, last, email, rng.choice(["", f"+1 555 01{i % 100:02d}"]),
               pick(rng, TITLES), pick(rng, SIZES), pick(rng, STAGES), rng.choice(OWNERS),
               created.strftime("%Y-%m-%d %H:%M")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--delimiter", default=",")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "rulesets" / "samples" /
                                         "hubspot_contacts.csv"))
    a = ap.parse_args()
    with open(a.out, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=a.delimiter, lineterminator="\n")
        w.writerow(COLUMNS)
        w.writerows(rows(a.n, a.seed))
    print(f"wrote {a.n} contacts to {a.out}")


if __name__ == "__main__":
    main()
